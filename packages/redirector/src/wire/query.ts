/**
 * Decodes a DNS query by hand, defensively. dns2's decoder is not used here: its ECS decoder reads past
 * the end of an IPv6 prefix that is not a multiple of 16 bits and then drops the whole OPT record, it
 * accepts ECS options RFC 7871 §6 calls malformed, and it loses label boundaries. Queries are the part
 * an attacker writes, so this reader bounds every step and never throws.
 */
import { familyBits, isMasked, type IpBytes } from '../address.js';
import { EdnsOption, HEADER_SIZE, Opcode, RRType } from './constants.js';
import { nameWireLength, writeName } from './name-writer.js';

export interface QueryHeader {
  id: number;
  opcode: number;
  rd: boolean;
  cd: boolean;
}

export interface Question {
  /** The name as asked, labels joined by dots, case kept (echoed in the response). */
  name: string;
  /** Lower-case form for lookups. */
  key: string;
  /**
   * `wire[wireStart, wireEnd)` is the name uncompressed, with the bytes exactly as sent (case kept): what the
   * response echoes. Usually the query itself, so reading a question copies nothing.
   */
  wire: Buffer;
  wireStart: number;
  wireEnd: number;
  type: number;
  class: number;
}

/** EDNS Client Subnet as received (RFC 7871); `address` is zero-padded to the full family width. */
export interface ClientSubnet {
  sourcePrefixLength: number;
  scopePrefixLength: number;
  address: IpBytes;
}

export interface Edns {
  /** The requester's UDP payload size, bytes, as sent (not yet clamped). */
  udpPayloadSize: number;
  version: number;
  dnssecOk: boolean;
  clientSubnet?: ClientSubnet;
}

export type DecodedQuery =
  /** Not even a header: nothing can be answered. */
  | { kind: 'unreadable' }
  /** QR is set: a response, never answered (no reflection loops between servers). */
  | { kind: 'response' }
  | { kind: 'notimp'; header: QueryHeader; question?: Question; edns?: Edns }
  | { kind: 'formerr'; header: QueryHeader; question?: Question; edns?: Edns; reason: string }
  | { kind: 'badvers'; header: QueryHeader; question: Question; edns: Edns }
  | { kind: 'query'; header: QueryHeader; question: Question; edns?: Edns | undefined };

class Malformed extends Error {
  /** Set when the OPT record itself was readable, so the FORMERR can still carry an OPT. */
  edns?: Edns;
}

/** Longest name on the wire, octets (RFC 1035 §2.3.4). */
const MAX_WIRE_NAME = 255;
const ECS_FAMILY: Record<number, 4 | 6> = { 1: 4, 2: 6 };

/** Holds a name's presentation form while it is read: names are read one at a time, synchronously. */
const MAX_ESCAPED_NAME = 2 * MAX_WIRE_NAME;
const nameText = Buffer.allocUnsafe(MAX_ESCAPED_NAME);
const DOT = 0x2e;
const BACKSLASH = 0x5c;

interface ReadName {
  /** Labels joined by dots, case kept; '' for the root. */
  name: string;
  end: number;
  /** True when no compression pointer was followed, so the name's wire form is the bytes it was read from. */
  contiguous: boolean;
  /** True when a label held a dot, written `\.` in `name`. */
  escaped: boolean;
}

function readName(message: Buffer, start: number): ReadName {
  let position = start;
  let end = -1;
  let wireLength = 1;
  let textLength = 0;
  let escaped = false;
  for (;;) {
    if (position >= message.length) throw new Malformed('name runs past the end of the message');
    const length = message[position];
    if ((length & 0xc0) === 0xc0) {
      if (position + 1 >= message.length) throw new Malformed('compression pointer cut short');
      const target = ((length & 0x3f) << 8) | message[position + 1];
      // Only backward pointers: each jump strictly decreases the position, so decoding always ends.
      if (target >= position) throw new Malformed('compression pointer does not point backwards');
      if (end < 0) end = position + 2;
      position = target;
      continue;
    }
    if (length & 0xc0) throw new Malformed('reserved label type');
    if (length === 0) break;
    wireLength += length + 1;
    if (wireLength > MAX_WIRE_NAME) throw new Malformed('name longer than 255 octets');
    if (position + 1 + length > message.length) throw new Malformed('label runs past the end of the message');
    if (textLength > 0) nameText[textLength++] = DOT;
    for (let at = position + 1; at <= position + length; at++) {
      const octet = message[at];
      // A dot inside a label is legal (RFC 2181 §11) but names nothing we serve: it is kept escaped, as
      // presentation form writes it (`\.`, and `\\` for a backslash), so it never matches a configured
      // name and the answer is NXDOMAIN.
      if (octet === DOT || octet === BACKSLASH) {
        if (textLength + 2 > MAX_ESCAPED_NAME) throw new Malformed('name longer than 255 octets');
        nameText[textLength++] = BACKSLASH;
        escaped = true;
      }
      nameText[textLength++] = octet;
    }
    position += 1 + length;
  }
  return { name: nameText.toString('latin1', 0, textLength), end: end < 0 ? position + 1 : end, contiguous: end < 0, escaped };
}

interface RawRecord {
  name: string;
  type: number;
  klass: number;
  ttl: number;
  rdata: Buffer;
  end: number;
}

function readRecord(message: Buffer, start: number): RawRecord {
  const { name, end: nameEnd } = readName(message, start);
  if (nameEnd + 10 > message.length) throw new Malformed('record header cut short');
  const rdLength = message.readUInt16BE(nameEnd + 8);
  const rdataStart = nameEnd + 10;
  if (rdataStart + rdLength > message.length) throw new Malformed('record data runs past the end of the message');
  return {
    name,
    type: message.readUInt16BE(nameEnd),
    klass: message.readUInt16BE(nameEnd + 2),
    ttl: message.readUInt32BE(nameEnd + 4),
    rdata: message.subarray(rdataStart, rdataStart + rdLength),
    end: rdataStart + rdLength,
  };
}

/** The ECS option, or undefined for family 0, which NSD and BIND ignore (no client address to use). */
function readClientSubnet(option: Buffer): ClientSubnet | undefined {
  if (option.length < 4) throw new Malformed('ECS option shorter than 4 octets');
  const familyCode = option.readUInt16BE(0);
  if (familyCode === 0) return undefined;
  const family = ECS_FAMILY[familyCode];
  if (family === undefined) throw new Malformed('ECS family is neither IPv4 nor IPv6');
  const sourcePrefixLength = option[2];
  const scopePrefixLength = option[3];
  if (sourcePrefixLength > familyBits(family)) throw new Malformed('ECS source prefix longer than the address');
  const addressBytes = option.subarray(4);
  if (addressBytes.length !== Math.ceil(sourcePrefixLength / 8)) {
    throw new Malformed('ECS address length does not match its prefix');
  }
  const address: IpBytes = { family, bytes: new Uint8Array(familyBits(family) / 8) };
  address.bytes.set(addressBytes);
  if (!isMasked(address, sourcePrefixLength)) throw new Malformed('ECS address has bits set past its prefix');
  return { sourcePrefixLength, scopePrefixLength, address };
}

function readEdns(record: RawRecord): Edns {
  if (record.name !== '') throw new Malformed('OPT record not owned by the root');
  const edns: Edns = {
    udpPayloadSize: record.klass,
    version: (record.ttl >>> 16) & 0xff,
    dnssecOk: (record.ttl & 0x8000) !== 0,
  };
  try {
    readOptions(record.rdata, edns);
  } catch (err) {
    if (err instanceof Malformed) err.edns = { ...edns, clientSubnet: undefined };
    throw err;
  }
  return edns;
}

function readOptions(options: Buffer, edns: Edns): void {
  let position = 0;
  let seenSubnet = false;
  while (position < options.length) {
    if (position + 4 > options.length) throw new Malformed('EDNS option header cut short');
    const code = options.readUInt16BE(position);
    const length = options.readUInt16BE(position + 2);
    const body = options.subarray(position + 4, position + 4 + length);
    if (body.length !== length) throw new Malformed('EDNS option runs past the OPT record');
    if (code === EdnsOption.ECS) {
      if (seenSubnet) throw new Malformed('two ECS options');
      seenSubnet = true;
      edns.clientSubnet = readClientSubnet(body);
    }
    position += 4 + length;
  }
}

function readQuestion(message: Buffer, start: number): { question: Question; end: number } {
  const { name, end, contiguous, escaped } = readName(message, start);
  if (end + 4 > message.length) throw new Malformed('question cut short');
  const type = message.readUInt16BE(end);
  const klass = message.readUInt16BE(end + 2);
  const key = name.toLowerCase();
  if (contiguous) return { question: { name, key, wire: message, wireStart: start, wireEnd: end, type, class: klass }, end: end + 4 };
  // The response carries the question uncompressed at offset 12, so a compressed one is spelled out (which
  // the text form of a label holding a dot cannot be).
  if (escaped) throw new Malformed('compressed name with a dot inside a label');
  const wire = Buffer.allocUnsafe(nameWireLength(name));
  writeName(wire, 0, name, new Map());
  return { question: { name, key, wire, wireStart: 0, wireEnd: wire.length, type, class: klass }, end: end + 4 };
}

interface Sections {
  /** The question, when exactly one was asked and it could be read. */
  question?: Question;
  edns?: Edns;
  /** Why the message is malformed, if it is. */
  problem?: string;
}

/** Reads every section, keeping the one question and the OPT record; stops at the first unreadable byte. */
function readSections(message: Buffer): Sections {
  const questionCount = message.readUInt16BE(4);
  const recordCounts = [message.readUInt16BE(6), message.readUInt16BE(8), message.readUInt16BE(10)];
  const sections: Sections = {};
  let position = HEADER_SIZE;
  try {
    for (let i = 0; i < questionCount; i++) {
      const { question, end } = readQuestion(message, position);
      if (questionCount === 1) sections.question = question;
      position = end;
    }
    for (let section = 0; section < recordCounts.length; section++) {
      for (let i = 0; i < recordCounts[section]; i++) {
        const record = readRecord(message, position);
        position = record.end;
        if (record.type !== RRType.OPT) continue;
        if (section !== 2 || sections.edns) throw new Malformed('OPT record misplaced or repeated');
        sections.edns = readEdns(record);
      }
    }
  } catch (err) {
    if (!(err instanceof Malformed)) throw err;
    sections.problem = err.message;
    sections.edns ??= err.edns;
    return sections;
  }
  if (questionCount !== 1) sections.problem = `QDCOUNT is ${questionCount}, not 1`;
  else if (sections.question?.type === RRType.OPT) sections.problem = 'question asks for OPT';
  return sections;
}

export function decodeQuery(message: Buffer): DecodedQuery {
  if (message.length < HEADER_SIZE) return { kind: 'unreadable' };
  const flags = message.readUInt16BE(2);
  if (flags & 0x8000) return { kind: 'response' };
  const header: QueryHeader = {
    id: message.readUInt16BE(0),
    opcode: (flags >>> 11) & 0xf,
    rd: (flags & 0x0100) !== 0,
    cd: (flags & 0x0010) !== 0,
  };
  const { question, edns, problem } = readSections(message);
  // Other opcodes (NOTIFY, UPDATE, ...) share the layout; what could be read is echoed with NOTIMP.
  if (header.opcode !== Opcode.QUERY) return { kind: 'notimp', header, question, edns };
  if (problem !== undefined || question === undefined) {
    return { kind: 'formerr', header, question, edns, reason: problem ?? 'no question' };
  }
  if (edns && edns.version !== 0) return { kind: 'badvers', header, question, edns };
  return { kind: 'query', header, question, edns };
}
