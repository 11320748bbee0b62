/**
 * Turns an answer into its signed form for a DO query to a signed zone: an RRSIG after every
 * authoritative RRset, and negative answers denied with one compact NSEC (RFC 9824). There,
 * NXDOMAIN becomes NOERROR with an NSEC whose bitmap holds NXNAME, as RFC 9824 §3 says (validators
 * treat it as NODATA; the name still does not exist). Referrals carry the DS, or an NSEC proving there
 * is none (an insecure delegation). Glue in the additional section is not signed (RFC 4035 §2.2).
 */
import type { Answer } from '../answer.js';
import { Rcode, RRType } from '../wire/constants.js';
import type { ResourceRecord } from '../wire/sections.js';
import { findZone, type NameNode, type ZoneIndex } from '../zone-index.js';
import { compactNsec } from './signer.js';

/** Records grouped into RRsets (same owner, same type), in order. */
function rrsets(records: readonly ResourceRecord[]): ResourceRecord[][] {
  const sets: ResourceRecord[][] = [];
  for (const record of records) {
    const last = sets[sets.length - 1];
    const head = last?.[0];
    if (last && head && head.type === record.type && head.name.toLowerCase() === record.name.toLowerCase()) last.push(record);
    else sets.push([record]);
  }
  return sets;
}

function signed(index: ZoneIndex, records: readonly ResourceRecord[], nowSeconds: number): ResourceRecord[] {
  const out: ResourceRecord[] = [];
  for (const set of rrsets(records)) {
    out.push(...set);
    const signer = findZone(index.zones, (set[0] as ResourceRecord).name.toLowerCase())?.signer;
    if (signer) out.push(signer.sign(set, nowSeconds));
  }
  return out;
}

/** What exists at a name, for its NSEC bitmap: never the type being denied. */
function typesAt(index: ZoneIndex, name: string, node: NameNode | undefined, denied: number): number[] {
  const types = new Set<number>([RRType.RRSIG, RRType.NSEC]);
  if (!node) {
    types.add(RRType.NXNAME);
    return [...types];
  }
  for (const type of node.rrsets.keys()) types.add(type);
  if (node.site?.frontEnds.some((frontEnd) => frontEnd.ipv4.length > 0)) types.add(RRType.A);
  if (node.site?.frontEnds.some((frontEnd) => frontEnd.ipv6.length > 0)) types.add(RRType.AAAA);
  if (index.zones.get(name)) for (const type of [RRType.SOA, RRType.NS, RRType.DNSKEY, RRType.CDS, RRType.CDNSKEY]) types.add(type);
  types.delete(denied);
  return [...types];
}

export function signAnswer(index: ZoneIndex, answer: Answer, questionType: number, nowSeconds: number): Answer {
  const zone = answer.zone;
  if (!zone?.signer) return answer;
  const result: Answer = { ...answer, answers: signed(index, answer.answers, nowSeconds), additionals: answer.additionals };
  const soaTtl = answer.authorities.find((record) => record.type === RRType.SOA)?.ttl ?? zone.config.ttl;
  if (answer.kind === 'referral') {
    const cut = answer.deniedName as string;
    const ds = answer.node?.rrsets.get(RRType.DS);
    const proof = ds?.length ? ds : [compactNsec(cut, [RRType.NS, RRType.RRSIG, RRType.NSEC], soaTtl)];
    result.authorities = [...answer.authorities, ...signed(index, proof, nowSeconds)];
    return result;
  }
  if (answer.kind === 'nxdomain' || answer.kind === 'nodata') {
    const denied = answer.deniedName as string;
    const nsec = compactNsec(denied, typesAt(index, denied, answer.node, questionType), soaTtl);
    result.rcode = Rcode.NOERROR;
    result.authorities = [...signed(index, answer.authorities, nowSeconds), ...signed(index, [nsec], nowSeconds)];
    return result;
  }
  result.authorities = signed(index, answer.authorities, nowSeconds);
  return result;
}
