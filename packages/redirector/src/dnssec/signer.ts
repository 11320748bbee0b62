/**
 * Online DNSSEC signing for one zone with one ECDSA P-256 key (algorithm 13, RFC 6605) serving as both
 * key-signing and zone-signing key (a CSK, flags 257). Builds the DNSKEY, CDS and CDNSKEY sets (RFC 7344:
 * the parent can take the DS from them), the DS text to hand the parent, and an RRSIG for any RRset
 * (RFC 4034 §3.1.8.1, canonical form §6). Pure but for the key and the clock it is given.
 */
import { createHash, createPublicKey, sign, type KeyObject } from 'node:crypto';
import { GenerationCache } from '../bounded-cache.js';
import { RRClass, RRType } from '../wire/constants.js';
import { nameWireLength, writeName } from '../wire/name-writer.js';
import { canonicalRdata, type RawRecord, type ResourceRecord } from '../wire/sections.js';

const ALGORITHM_ECDSAP256SHA256 = 13;
const DIGEST_SHA256 = 2;
/** ZONE + SEP: the key signs the zone and is the one the parent's DS points at. */
const CSK_FLAGS = 257;
const PROTOCOL = 3;
/** Signatures are made this long before now, so a validator whose clock lags still accepts them, seconds. */
const INCEPTION_SLACK = 3600;
/** RRSIGs remembered per zone and generation (see bounded-cache.ts). */
const SIGNATURE_MEMO = 10_000;

export function nameWire(name: string): Buffer {
  const out = Buffer.allocUnsafe(nameWireLength(name));
  writeName(out, 0, name.toLowerCase(), undefined);
  return out;
}

/** RFC 4034 Appendix B. */
export function keyTag(rdata: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i < rdata.length; i++) sum += i & 1 ? (rdata[i] as number) : (rdata[i] as number) << 8;
  sum += (sum >>> 16) & 0xffff;
  return sum & 0xffff;
}

function labelCount(name: string): number {
  if (name === '') return 0;
  const labels = name.split('.');
  return labels[0] === '*' ? labels.length - 1 : labels.length;
}

function u16(value: number): Buffer {
  const out = Buffer.alloc(2);
  out.writeUInt16BE(value);
  return out;
}

function u32(value: number): Buffer {
  const out = Buffer.alloc(4);
  out.writeUInt32BE(value >>> 0);
  return out;
}

/** The public key as DNSKEY carries it for algorithm 13: x then y, 32 octets each (RFC 6605 §4). */
function publicKeyBytes(key: KeyObject): Buffer {
  const jwk = createPublicKey(key).export({ format: 'jwk' });
  if (jwk.crv !== 'P-256' || !jwk.x || !jwk.y) throw new Error('the DNSSEC key must be an ECDSA P-256 key');
  return Buffer.concat([Buffer.from(jwk.x, 'base64url'), Buffer.from(jwk.y, 'base64url')]);
}

export interface ZoneSigner {
  apex: string;
  keyTag: number;
  dnskeys: RawRecord[];
  cds: RawRecord[];
  cdnskeys: RawRecord[];
  /** `<apex>. IN DS <tag> 13 2 <hex>`: what the parent zone publishes. */
  dsText: string;
  /** Seconds a signature made now stays valid. */
  validitySeconds: number;
  /** The RRSIG over `rrset` (same owner and type, any case), made at `nowSeconds`. */
  sign(rrset: readonly ResourceRecord[], nowSeconds: number): RawRecord;
}

export function createZoneSigner(apex: string, privateKey: KeyObject, options: { ttl: number; validitySeconds: number }): ZoneSigner {
  const dnskeyRdata = Buffer.concat([u16(CSK_FLAGS), Buffer.from([PROTOCOL, ALGORITHM_ECDSAP256SHA256]), publicKeyBytes(privateKey)]);
  const tag = keyTag(dnskeyRdata);
  const apexWire = nameWire(apex);
  const digest = createHash('sha256').update(apexWire).update(dnskeyRdata).digest();
  const dsRdata = Buffer.concat([u16(tag), Buffer.from([ALGORITHM_ECDSAP256SHA256, DIGEST_SHA256]), digest]);
  const record = (type: number, rdata: Buffer): RawRecord => ({ name: apex, type, ttl: options.ttl, rdata });
  const signatures = new GenerationCache<string, RawRecord>(SIGNATURE_MEMO);
  return {
    apex,
    keyTag: tag,
    dnskeys: [record(RRType.DNSKEY, dnskeyRdata)],
    cds: [record(RRType.CDS, dsRdata)],
    cdnskeys: [record(RRType.CDNSKEY, dnskeyRdata)],
    dsText: `${apex}. IN DS ${tag} ${ALGORITHM_ECDSAP256SHA256} ${DIGEST_SHA256} ${digest.toString('hex').toUpperCase()}`,
    validitySeconds: options.validitySeconds,
    sign(rrset, nowSeconds) {
      const first = rrset[0];
      if (!first) throw new Error('cannot sign an empty RRset');
      const owner = first.name.toLowerCase();
      const rdatas = rrset.map((rr) => Buffer.from(canonicalRdata(rr))).sort((a, b) => Buffer.compare(a, b));
      // One signature per RRset and period: the SOA of every negative answer, or a record many answers
      // share, is signed once, not once per answer (a flood of new names would otherwise cost one each).
      const period = Math.floor(nowSeconds / Math.max(1, Math.floor(options.validitySeconds / 4)));
      const memoKey = `${period} ${owner} ${first.type} ${first.ttl} ${rdatas.map((rdata) => rdata.toString('base64')).join(' ')}`;
      const known = signatures.get(memoKey);
      if (known) return { ...known, name: first.name };
      const fields = Buffer.concat([
        u16(first.type),
        Buffer.from([ALGORITHM_ECDSAP256SHA256, labelCount(owner)]),
        u32(first.ttl),
        u32(nowSeconds + options.validitySeconds),
        u32(nowSeconds - INCEPTION_SLACK),
        u16(tag),
        apexWire,
      ]);
      const ownerWire = nameWire(owner);
      const signed: Uint8Array[] = [fields];
      for (const rdata of rdatas) signed.push(ownerWire, u16(first.type), u16(RRClass.IN), u32(first.ttl), u16(rdata.length), rdata);
      const signature = sign('sha256', Buffer.concat(signed), { key: privateKey, dsaEncoding: 'ieee-p1363' });
      const rrsig: RawRecord = { name: first.name, type: RRType.RRSIG, ttl: first.ttl, rdata: Buffer.concat([fields, signature]) };
      signatures.set(memoKey, rrsig);
      return rrsig;
    },
  };
}

/** An NSEC type bitmap (RFC 4034 §4.1.2): per window of 256 types, the bits of those present. */
export function typeBitmap(types: Iterable<number>): Buffer {
  const windows = new Map<number, Uint8Array>();
  for (const type of types) {
    const window = type >>> 8;
    let bits = windows.get(window);
    if (!bits) windows.set(window, (bits = new Uint8Array(32)));
    const low = type & 0xff;
    bits[low >>> 3] = (bits[low >>> 3] as number) | (0x80 >>> (low & 7));
  }
  const parts: Buffer[] = [];
  for (const window of [...windows.keys()].sort((a, b) => a - b)) {
    const bits = windows.get(window) as Uint8Array;
    let length = 32;
    while (length > 0 && bits[length - 1] === 0) length--;
    parts.push(Buffer.from([window, length]), Buffer.from(bits.subarray(0, length)));
  }
  return Buffer.concat(parts);
}

/**
 * The compact-denial NSEC for `name` (RFC 9824): it covers only the name itself, next name `\000.name`,
 * so nothing else is revealed and it can be made on the fly; `types` are those present at the name.
 */
export function compactNsec(name: string, types: Iterable<number>, ttl: number): RawRecord {
  const owner = name.toLowerCase();
  const next = Buffer.concat([Buffer.from([1, 0]), nameWire(owner)]);
  return { name, type: RRType.NSEC, ttl, rdata: Buffer.concat([next, typeBitmap(types)]) };
}
