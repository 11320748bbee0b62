/**
 * Encodes the record sections of a response once, to be reused behind any question with the same
 * lower-case name. The bytes assume the question name sits uncompressed at offset 12, as every response
 * puts it; pointers into it stay valid whatever case the next client asks in, because a name of the same
 * lower-case text has the same labels and so the same length.
 */
import ipaddr from 'ipaddr.js';
import { HEADER_SIZE, RRClass, RRType } from './constants.js';
import { nameWireLength, writeName, type CompressionTable } from './name-writer.js';

/** A record whose RDATA is already in wire form (any type; names in it uncompressed, lower case). */
export interface RawRecord {
  name: string;
  ttl: number;
  type: number;
  rdata: Uint8Array;
}

export type TypedRecord = { name: string; ttl: number } & (
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

export type ResourceRecord = TypedRecord | RawRecord;

export interface RecordSections {
  answers: readonly ResourceRecord[];
  authorities: readonly ResourceRecord[];
  /** Optional data (glue): the first thing dropped when a response does not fit (RFC 2181 §9). */
  additionals: readonly ResourceRecord[];
}

export interface EncodedSections {
  answerCount: number;
  authorityCount: number;
  additionalCount: number;
  /** Answer, authority and additional records, in that order, ready to follow the question. */
  bytes: Buffer;
  /** Length of the answer and authority records within `bytes`: what is left without the glue. */
  withoutAdditionals: number;
}

export const noSections: EncodedSections = Object.freeze({
  answerCount: 0,
  authorityCount: 0,
  additionalCount: 0,
  bytes: Buffer.alloc(0),
  withoutAdditionals: 0,
});

/** Type, class, TTL and RDLENGTH after an owner name, octets. */
const RECORD_FIXED = 10;
const QUESTION_FIXED = 4;
const MAX_NAME = 255;
/** Largest typed RDATA written here: SOA's two names and five 32-bit numbers, octets. */
const MAX_TYPED_RDATA = 2 * MAX_NAME + 20;

function rdataRoom(record: ResourceRecord): number {
  return 'rdata' in record ? record.rdata.length : MAX_TYPED_RDATA;
}

/** A record's RDATA in canonical form: no compression, names as stored (lower case). */
export function canonicalRdata(record: ResourceRecord): Uint8Array {
  if ('rdata' in record) return record.rdata;
  const scratch = Buffer.allocUnsafe(MAX_TYPED_RDATA);
  return Buffer.from(scratch.subarray(0, writeRdata(scratch, 0, record, undefined)));
}

function writeAddress(out: Buffer, at: number, record: ResourceRecord & { address: string }): number {
  // Parsed strictly by type (throws on a mismatch); an IPv4-mapped IPv6 address stays 16 octets in AAAA.
  const bytes = (record.type === RRType.A ? ipaddr.IPv4 : ipaddr.IPv6).parse(record.address).toByteArray();
  out.set(bytes, at);
  return at + bytes.length;
}

function writeRdata(out: Buffer, at: number, record: ResourceRecord, table: CompressionTable | undefined): number {
  if ('rdata' in record) {
    out.set(record.rdata, at);
    return at + record.rdata.length;
  }
  switch (record.type) {
    case RRType.A:
    case RRType.AAAA:
      return writeAddress(out, at, record);
    case RRType.NS:
      return writeName(out, at, record.ns, table);
    case RRType.SOA: {
      let position = writeName(out, at, record.primary, table);
      position = writeName(out, position, record.admin, table);
      for (const value of [record.serial, record.refresh, record.retry, record.expiration, record.minimum]) {
        out.writeUInt32BE(value, position);
        position += 4;
      }
      return position;
    }
  }
}

function writeRecord(out: Buffer, at: number, record: ResourceRecord, table: CompressionTable): number {
  const fixed = writeName(out, at, record.name, table);
  out.writeUInt16BE(record.type, fixed);
  out.writeUInt16BE(RRClass.IN, fixed + 2);
  out.writeUInt32BE(record.ttl, fixed + 4);
  const end = writeRdata(out, fixed + RECORD_FIXED, record, table);
  out.writeUInt16BE(end - fixed - RECORD_FIXED, fixed + 8);
  return end;
}

/** The record sections for a question whose lower-case name is `questionKey`. */
export function encodeSections(questionKey: string, sections: RecordSections): EncodedSections {
  const { answers, authorities, additionals } = sections;
  if (answers.length + authorities.length + additionals.length === 0) return noSections;
  // A key escaping a dot inside a label (`a\\.b`, see query.ts) is one octet per escape shorter on the wire,
  // and cannot seed compression: its text does not give its labels.
  const escaped = questionKey.includes('\\');
  const start = HEADER_SIZE + nameWireLength(escaped ? questionKey.replace(/\\(.)/g, '$1') : questionKey) + QUESTION_FIXED;
  let room = start;
  for (const section of [answers, authorities, additionals]) for (const record of section) room += MAX_NAME + RECORD_FIXED + rdataRoom(record);
  const scratch = Buffer.allocUnsafe(room);
  const table: CompressionTable = new Map();
  // The question goes where every response puts it, so later names can point into it.
  if (!escaped) writeName(scratch, HEADER_SIZE, questionKey, table);
  let position = start;
  for (const record of answers) position = writeRecord(scratch, position, record, table);
  for (const record of authorities) position = writeRecord(scratch, position, record, table);
  const withoutAdditionals = position - start;
  for (const record of additionals) position = writeRecord(scratch, position, record, table);
  return {
    answerCount: answers.length,
    authorityCount: authorities.length,
    additionalCount: additionals.length,
    bytes: Buffer.from(scratch.subarray(start, position)),
    withoutAdditionals,
  };
}
