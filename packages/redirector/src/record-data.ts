/**
 * Static records as a zone file writes them (RFC 1035 §5.1 presentation form), turned into wire RDATA.
 * Common types are read by name; any other type, or any type at all, in the RFC 3597 generic form
 * (`TYPE65`, `\# 3 0a0b0c`). Names inside RDATA are absolute (a trailing dot is optional), kept lower
 * case so the bytes are already canonical for DNSSEC. Pure; throws RecordDataError with a reason.
 */
import ipaddr from 'ipaddr.js';
import { nameProblem, normalizeName } from './names.js';
import { nameWireLength, writeName } from './wire/name-writer.js';

export class RecordDataError extends Error {}

/** Types read by name here, and the codes of the few others (`TYPEnnn` covers the rest). */
export const recordTypes: Readonly<Record<string, number>> = Object.freeze({
  A: 1,
  NS: 2,
  CNAME: 5,
  PTR: 12,
  HINFO: 13,
  MX: 15,
  TXT: 16,
  AAAA: 28,
  SRV: 33,
  DNAME: 39,
  DS: 43,
  SSHFP: 44,
  TLSA: 52,
  SVCB: 64,
  HTTPS: 65,
  CAA: 257,
});

/** Types the zone itself owns (SOA, DNSSEC records, OPT, meta types): never configured as static records. */
const RESERVED_TYPES = new Set([6, 41, 46, 47, 48, 50, 51, 59, 60, 128, 251, 252, 255]);
const RESERVED_NAMES: Readonly<Record<string, number>> = { SOA: 6, OPT: 41, RRSIG: 46, NSEC: 47, DNSKEY: 48, NSEC3: 50, NSEC3PARAM: 51, CDS: 59, CDNSKEY: 60, IXFR: 251, AXFR: 252, ANY: 255 };

export function recordTypeCode(type: string): number {
  const upper = type.trim().toUpperCase();
  const known = recordTypes[upper];
  if (known !== undefined) return known;
  const generic = /^TYPE(\d{1,5})$/.exec(upper);
  const code = RESERVED_NAMES[upper] ?? (generic ? Number(generic[1]) : NaN);
  if (!(code >= 1 && code <= 65_535)) throw new RecordDataError(`unknown record type "${type}" (write TYPEnnn for others)`);
  if (RESERVED_TYPES.has(code)) throw new RecordDataError(`type ${upper} is made by the server, not configured`);
  return code;
}

/** Splits presentation text into tokens: bare words and "quoted strings" (with \" and \ddd escapes). */
function tokens(data: string): Array<{ text: Buffer; quoted: boolean }> {
  const out: Array<{ text: Buffer; quoted: boolean }> = [];
  let at = 0;
  while (at < data.length) {
    if (/\s/.test(data[at] as string)) {
      at++;
      continue;
    }
    const quoted = data[at] === '"';
    if (quoted) at++;
    const bytes: number[] = [];
    for (;;) {
      if (at >= data.length) {
        if (quoted) throw new RecordDataError('unterminated quoted string');
        break;
      }
      const ch = data[at] as string;
      if (quoted ? ch === '"' : /\s/.test(ch)) {
        if (quoted) at++;
        break;
      }
      if (ch === '\\') {
        const digits = /^\d{3}/.exec(data.slice(at + 1));
        if (digits) {
          const value = Number(digits[0]);
          if (value > 255) throw new RecordDataError(`escape \\${digits[0]} is above 255`);
          bytes.push(value);
          at += 4;
          continue;
        }
        if (at + 1 >= data.length) throw new RecordDataError('escape at the end of the data');
        at++;
      }
      for (const byte of Buffer.from(data[at] as string, 'utf8')) bytes.push(byte);
      at++;
    }
    out.push({ text: Buffer.from(bytes), quoted });
  }
  return out;
}

function words(data: string, count: number, what: string): string[] {
  const parts = data.trim().split(/\s+/).filter(Boolean);
  if (parts.length !== count) throw new RecordDataError(`${what} needs ${count} fields, got ${parts.length}`);
  return parts;
}

function uint(text: string, max: number, what: string): number {
  if (!/^\d+$/.test(text) || Number(text) > max) throw new RecordDataError(`${what} must be an integer 0..${max}, got "${text}"`);
  return Number(text);
}

function hex(text: string, what: string): Buffer {
  if (!/^([0-9a-f]{2})*$/i.test(text)) throw new RecordDataError(`${what} must be hexadecimal`);
  return Buffer.from(text, 'hex');
}

function nameBytes(text: string): Buffer {
  const name = normalizeName(text);
  // The root ('.') is allowed in RDATA (a null MX, an SRV saying "no service").
  if (name !== '') {
    const problem = nameProblem(name);
    if (problem) throw new RecordDataError(`name "${text}" ${problem}`);
  }
  const out = Buffer.allocUnsafe(nameWireLength(name));
  writeName(out, 0, name, undefined);
  return out;
}

function u16(value: number): Buffer {
  const out = Buffer.alloc(2);
  out.writeUInt16BE(value);
  return out;
}

function characterStrings(data: string, min: number): Buffer {
  const parts = tokens(data);
  if (parts.length < min) throw new RecordDataError(`needs at least ${min} character string(s)`);
  return Buffer.concat(
    parts.map(({ text }) => {
      if (text.length > 255) throw new RecordDataError('a character string is longer than 255 octets (split it in quoted parts)');
      return Buffer.concat([Buffer.from([text.length]), text]);
    }),
  );
}

function address(text: string, family: 'ipv4' | 'ipv6'): Buffer {
  const trimmed = text.trim();
  const valid = family === 'ipv4' ? ipaddr.IPv4.isValidFourPartDecimal(trimmed) : ipaddr.IPv6.isValid(trimmed);
  if (!valid) throw new RecordDataError(`"${text}" is not an ${family === 'ipv4' ? 'IPv4' : 'IPv6'} address`);
  return Buffer.from(ipaddr.parse(trimmed).toByteArray());
}

/** RFC 3597 §5: `\# <length> <hex...>`. */
function generic(data: string): Buffer {
  const [mark, length, ...rest] = data.trim().split(/\s+/);
  if (mark !== '\\#' || length === undefined) throw new RecordDataError('generic data must read "\\# <length> <hex>"');
  const bytes = hex(rest.join(''), 'generic data');
  if (bytes.length !== uint(length, 65_535, 'generic length')) throw new RecordDataError('generic data length does not match its bytes');
  return bytes;
}

/** The wire RDATA of one record of type `code` written as `data`. */
export function parseRecordData(code: number, data: string): Buffer {
  if (data.trim().startsWith('\\#')) return generic(data);
  switch (code) {
    case 1:
      return address(data, 'ipv4');
    case 28:
      return address(data, 'ipv6');
    case 2:
    case 5:
    case 12:
    case 39:
      return nameBytes(words(data, 1, 'a name record')[0] as string);
    case 15: {
      const [preference, exchange] = words(data, 2, 'MX') as [string, string];
      return Buffer.concat([u16(uint(preference, 65_535, 'MX preference')), nameBytes(exchange)]);
    }
    case 16:
      return characterStrings(data, 1);
    case 13:
      return characterStrings(data, 2);
    case 33: {
      const [priority, weight, port, target] = words(data, 4, 'SRV') as [string, string, string, string];
      return Buffer.concat([u16(uint(priority, 65_535, 'SRV priority')), u16(uint(weight, 65_535, 'SRV weight')), u16(uint(port, 65_535, 'SRV port')), nameBytes(target)]);
    }
    case 257: {
      const parts = tokens(data);
      if (parts.length !== 3) throw new RecordDataError('CAA needs flags, tag and value');
      const [flags, tag, value] = parts as unknown as [{ text: Buffer }, { text: Buffer }, { text: Buffer }];
      const tagText = tag.text.toString('latin1');
      if (!/^[a-z0-9]{1,15}$/i.test(tagText)) throw new RecordDataError(`CAA tag "${tagText}" must be 1..15 letters or digits`);
      return Buffer.concat([Buffer.from([uint(flags.text.toString('latin1'), 255, 'CAA flags'), tag.text.length]), tag.text, value.text]);
    }
    case 43: {
      const [keyTag, algorithm, digestType, ...digest] = data.trim().split(/\s+/);
      return Buffer.concat([
        u16(uint(keyTag ?? '', 65_535, 'DS key tag')),
        Buffer.from([uint(algorithm ?? '', 255, 'DS algorithm'), uint(digestType ?? '', 255, 'DS digest type')]),
        hex(digest.join(''), 'DS digest'),
      ]);
    }
    case 44: {
      const [algorithm, type, ...fingerprint] = data.trim().split(/\s+/);
      return Buffer.concat([Buffer.from([uint(algorithm ?? '', 255, 'SSHFP algorithm'), uint(type ?? '', 255, 'SSHFP type')]), hex(fingerprint.join(''), 'SSHFP fingerprint')]);
    }
    case 52: {
      const [usage, selector, matching, ...association] = data.trim().split(/\s+/);
      return Buffer.concat([
        Buffer.from([uint(usage ?? '', 255, 'TLSA usage'), uint(selector ?? '', 255, 'TLSA selector'), uint(matching ?? '', 255, 'TLSA matching type')]),
        hex(association.join(''), 'TLSA data'),
      ]);
    }
    default:
      throw new RecordDataError('this type is written in the generic form: \\# <length> <hex>');
  }
}
