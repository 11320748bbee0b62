/**
 * Builds response bytes with dns2's encoder (records, name compression, the OPT record and its ECS
 * option, the BADVERS split into the OPT TTL: all of which it does right) and does the fitting itself:
 * dns2's UDP server truncates by dropping every record *including the OPT*, which breaks EDNS for the
 * client's retry logic, and it does not cap the size a client may ask for.
 */
import { Packet, type EcsOption, type Header, type Question as PacketQuestion, type Resource } from 'dns2';
import { formatAddress } from '../address.js';
import { EdnsOption, HEADER_SIZE, RRClass, RRType } from './constants.js';
import type { ClientSubnet, QueryHeader, Question } from './query.js';

export type ResourceRecord = { name: string; ttl: number } & (
  | { type: typeof RRType.A | typeof RRType.AAAA; address: string }
  | { type: typeof RRType.NS; ns: string }
  | {
      type: typeof RRType.SOA;
      primary: string;
      admin: string;
      serial: number;
      refresh: number;
      retry: number;
      expiration: number;
      minimum: number;
    }
);

export interface ResponseParts {
  header: QueryHeader;
  rcode: number;
  authoritative: boolean;
  question?: Question;
  answers: ResourceRecord[];
  authorities: ResourceRecord[];
  /** Optional data (glue): dropped first, without TC, when the response does not fit (RFC 2181 §9). */
  additionals: ResourceRecord[];
  /** Present when the query carried EDNS: the response then carries an OPT record too (RFC 6891 §7). */
  edns?: {
    /** The UDP payload size we advertise, bytes. */
    udpPayloadSize: number;
    /** Echo of the query's ECS with our SCOPE PREFIX-LENGTH (RFC 7871 §7.2.1). */
    clientSubnet?: ClientSubnet;
  };
}

export interface EncodedResponse {
  message: Buffer;
  truncated: boolean;
}

function toPacketQuestion(question: Question): PacketQuestion {
  // Not `new Packet.Question(...)`: its constructor turns a type or class of 0 into ANY.
  return { name: question.name, type: question.type, class: question.class } as PacketQuestion;
}

function toPacketResource(record: ResourceRecord): Resource {
  return new Packet.Resource({ ...record, class: RRClass.IN });
}

function optRecord(edns: NonNullable<ResponseParts['edns']>): Resource {
  const options: EcsOption[] = [];
  const subnet = edns.clientSubnet;
  // Built by hand, not with Packet.Resource.EDNS.ECS(): that helper always says IPv4 and turns /0 into /32.
  if (subnet) {
    options.push({
      ednsCode: EdnsOption.ECS,
      family: subnet.address.family === 4 ? 1 : 2,
      sourcePrefixLength: subnet.sourcePrefixLength,
      scopePrefixLength: subnet.scopePrefixLength,
      ip: formatAddress(subnet.address),
    });
  }
  return Packet.Resource.EDNS(options, { udpPayloadSize: edns.udpPayloadSize });
}

function build(parts: ResponseParts, sections: 'all' | 'no-additionals' | 'question-only', truncated: boolean): Buffer {
  const packet = new Packet();
  packet.header = new Packet.Header({
    id: parts.header.id,
    qr: 1,
    opcode: parts.header.opcode,
    aa: parts.authoritative ? 1 : 0,
    tc: truncated ? 1 : 0,
    rd: parts.header.rd ? 1 : 0,
    cd: parts.header.cd ? 1 : 0,
    rcode: parts.rcode,
  } as Partial<Header>);
  packet.questions = parts.question ? [toPacketQuestion(parts.question)] : [];
  if (sections !== 'question-only') {
    packet.answers = parts.answers.map(toPacketResource);
    packet.authorities = parts.authorities.map(toPacketResource);
  }
  if (sections === 'all') packet.additionals = parts.additionals.map(toPacketResource);
  if (parts.edns) packet.additionals.push(optRecord(parts.edns));
  return packet.toBuffer();
}

/** A bare header echoing id, opcode and flags: the last resort, and never longer than any query. */
export function headerOnly(header: QueryHeader, rcode: number, truncated = false): Buffer {
  const message = Buffer.alloc(HEADER_SIZE);
  message.writeUInt16BE(header.id, 0);
  const flags = 0x8000 | (header.opcode << 11) | (truncated ? 0x0200 : 0) | (header.rd ? 0x0100 : 0) | (header.cd ? 0x0010 : 0);
  message.writeUInt16BE(flags | (rcode & 0xf), 2);
  return message;
}

/** Header, question and OPT with TC set: what a rate-limited client gets instead of the answer ("slip"). */
export function encodeTruncated(parts: ResponseParts): Buffer {
  return build(parts, 'question-only', true);
}

/**
 * Encodes `parts` in at most `maxSize` bytes: first everything; then without the additional data;
 * then header, question and OPT with TC set, so the client retries over TCP and still sees EDNS.
 */
export function encodeResponse(parts: ResponseParts, maxSize: number): EncodedResponse {
  const full = build(parts, 'all', false);
  if (full.length <= maxSize) return { message: full, truncated: false };
  if (parts.additionals.length > 0) {
    const withoutGlue = build(parts, 'no-additionals', false);
    if (withoutGlue.length <= maxSize) return { message: withoutGlue, truncated: false };
  }
  const minimal = encodeTruncated(parts);
  if (minimal.length <= maxSize) return { message: minimal, truncated: true };
  return { message: headerOnly(parts.header, parts.rcode, true), truncated: true };
}
