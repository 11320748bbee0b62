/**
 * Assembles response bytes by hand: header, the question as the client sent it, record sections encoded
 * beforehand (see sections.ts), and the OPT record with its ECS option. It also does the fitting: dns2's
 * UDP server truncates by dropping every record *including the OPT*, which breaks EDNS for the client's
 * retry logic, and it does not cap the size a client may ask for.
 */
import { EdnsOption, HEADER_SIZE, RRType } from './constants.js';
import type { ClientSubnet, QueryHeader, Question } from './query.js';
import { noSections, type EncodedSections } from './sections.js';

export interface ResponseFrame {
  header: QueryHeader;
  rcode: number;
  authoritative: boolean;
  /** Echoed with its name's bytes exactly as the client sent them (resolvers randomize case, RFC draft 0x20). */
  question?: Question;
  /** Must be encoded for `question.key`, and empty without a question. */
  sections?: EncodedSections;
  /** Sets TC and leaves every record out whatever fits: the "slip" answer of the rate limiter. */
  truncated?: boolean;
  /** Present when the query carried EDNS: the response then carries an OPT record too (RFC 6891 §7). */
  edns?: {
    /** The UDP payload size we advertise, bytes. */
    udpPayloadSize: number;
    /** Echo of the query's ECS with our SCOPE PREFIX-LENGTH (RFC 7871 §7.2.1). */
    clientSubnet?: ClientSubnet;
    /** The query's DO bit, copied as RFC 3225 §3 requires. */
    dnssecOk?: boolean;
  };
}

export interface EncodedResponse {
  message: Buffer;
  truncated: boolean;
}

/** Root owner, type, class, TTL and RDLENGTH of an OPT record, octets. */
const OPT_FIXED = 11;
/** ECS option code, length, family and the two prefix lengths, octets. */
const ECS_FIXED = 8;
const FLAG_QR = 0x8000;
const FLAG_AA = 0x0400;
const FLAG_TC = 0x0200;
const FLAG_RD = 0x0100;
const FLAG_CD = 0x0010;
/** DNSSEC OK, in the OPT record's flags (RFC 3225). */
const FLAG_DO = 0x8000;

/** Big-endian 16 bits by index: Buffer's checked writers cost more than the rest of a cached answer. */
function put16(out: Buffer, at: number, value: number): void {
  out[at] = value >>> 8;
  out[at + 1] = value & 0xff;
}

/** Messages this short copy faster byte by byte than through Buffer#copy's argument checks. */
const SHORT_COPY = 64;

function copyBytes(from: Uint8Array, start: number, end: number, to: Buffer, at: number): void {
  if (end - start > SHORT_COPY) {
    to.set(from.subarray(start, end), at);
    return;
  }
  for (let i = start; i < end; i++) to[at + i - start] = from[i] as number;
}

function subnetAddressLength(subnet: ClientSubnet): number {
  // RFC 7871 §6: ADDRESS holds exactly the source prefix, rounded up to whole octets.
  return Math.ceil(subnet.sourcePrefixLength / 8);
}

function optLength(edns: ResponseFrame['edns']): number {
  if (!edns) return 0;
  return OPT_FIXED + (edns.clientSubnet ? ECS_FIXED + subnetAddressLength(edns.clientSubnet) : 0);
}

function writeFlags(out: Buffer, header: QueryHeader, rcode: number, authoritative: boolean, truncated: boolean): void {
  let flags = FLAG_QR | (header.opcode << 11) | (rcode & 0xf);
  if (authoritative) flags |= FLAG_AA;
  if (truncated) flags |= FLAG_TC;
  if (header.rd) flags |= FLAG_RD;
  if (header.cd) flags |= FLAG_CD;
  put16(out, 0, header.id);
  put16(out, 2, flags);
}

function writeOpt(out: Buffer, at: number, edns: NonNullable<ResponseFrame['edns']>, rcode: number): void {
  out[at] = 0; // owned by the root
  put16(out, at + 1, RRType.OPT);
  put16(out, at + 3, edns.udpPayloadSize);
  // TTL: the upper 8 bits of a 12-bit rcode, version 0, then the flags: DO copied from the query.
  put16(out, at + 5, ((rcode >>> 4) & 0xff) << 8);
  put16(out, at + 7, edns.dnssecOk ? FLAG_DO : 0);
  const subnet = edns.clientSubnet;
  if (!subnet) {
    put16(out, at + 9, 0);
    return;
  }
  const addressLength = subnetAddressLength(subnet);
  put16(out, at + 9, ECS_FIXED + addressLength);
  put16(out, at + 11, EdnsOption.ECS);
  put16(out, at + 13, 4 + addressLength);
  put16(out, at + 15, subnet.address.family === 4 ? 1 : 2);
  out[at + 17] = subnet.sourcePrefixLength;
  out[at + 18] = subnet.scopePrefixLength;
  out.set(subnet.address.bytes.subarray(0, addressLength), at + 19);
}

/** A bare header echoing id, opcode and flags: the last resort, and never longer than any query. */
export function headerOnly(header: QueryHeader, rcode: number, truncated = false): Buffer {
  const message = Buffer.alloc(HEADER_SIZE);
  writeFlags(message, header, rcode, false, truncated);
  return message;
}

/**
 * Encodes `frame` in at most `maxSize` bytes: first everything; then without the additional data; then
 * header, question and OPT with TC set, so the client retries over TCP and still sees EDNS; then a bare
 * header with TC.
 */
export function writeResponse(frame: ResponseFrame, maxSize: number): EncodedResponse {
  const { header, rcode, question, edns } = frame;
  const sections = frame.sections ?? noSections;
  const questionLength = question ? question.wireEnd - question.wireStart + 4 : 0;
  const fixedLength = HEADER_SIZE + questionLength + optLength(edns);
  let recordsLength = sections.bytes.length;
  let additionalCount = sections.additionalCount;
  let truncated = frame.truncated === true;
  if (!truncated && fixedLength + recordsLength > maxSize) {
    if (additionalCount > 0 && fixedLength + sections.withoutAdditionals <= maxSize) {
      recordsLength = sections.withoutAdditionals;
      additionalCount = 0;
    } else {
      truncated = true;
    }
  }
  if (truncated) {
    if (fixedLength > maxSize) return { message: headerOnly(header, rcode, true), truncated };
    recordsLength = 0;
  }
  const message = Buffer.allocUnsafe(fixedLength + recordsLength);
  writeFlags(message, header, rcode, frame.authoritative, truncated);
  put16(message, 4, question ? 1 : 0);
  put16(message, 6, truncated ? 0 : sections.answerCount);
  put16(message, 8, truncated ? 0 : sections.authorityCount);
  put16(message, 10, (truncated ? 0 : additionalCount) + (edns ? 1 : 0));
  let position = HEADER_SIZE;
  if (question) {
    copyBytes(question.wire, question.wireStart, question.wireEnd, message, position);
    position += question.wireEnd - question.wireStart;
    put16(message, position, question.type);
    put16(message, position + 2, question.class);
    position += 4;
  }
  copyBytes(sections.bytes, 0, recordsLength, message, position);
  position += recordsLength;
  if (edns) writeOpt(message, position, edns, rcode);
  return { message, truncated };
}
