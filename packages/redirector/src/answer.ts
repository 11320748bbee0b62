/** What to answer for one question, given the compiled state and where the client is. Pure. */
import type { ClientLocation } from './location.js';
import { isAtOrBelow, selfAndAncestors } from './names.js';
import { selectFrontEnds, type SelectionBasis } from './select.js';
import { Rcode, RRClass, RRType } from './wire/constants.js';
import type { Question } from './wire/query.js';
import type { ResourceRecord } from './wire/sections.js';
import { findZone, rdataName, type IndexedSite, type IndexedZone, type NameNode, type ZoneIndex } from './zone-index.js';

/** What kind of response this is: response rate limiting keys its buckets by it (as NSD and Knot do). */
export type AnswerKind = 'positive' | 'nxdomain' | 'nodata' | 'referral' | 'refused';

export interface Answer {
  rcode: number;
  authoritative: boolean;
  kind: AnswerKind;
  /** The name rate limiting counts this answer against: the question, or the zone for NXDOMAIN, the cut for referrals. */
  limitName: string;
  /** The zone that answered, when one did. */
  zone?: IndexedZone;
  /** For NODATA: what exists at the name, so a signed zone can list it (NSEC type bitmap). */
  node?: NameNode;
  /** For negative answers: the name that does not exist or lacks the type (the last of a CNAME chain). */
  deniedName?: string;
  answers: ResourceRecord[];
  authorities: ResourceRecord[];
  additionals: ResourceRecord[];
  /** ECS SCOPE PREFIX-LENGTH to report: 0 unless the answer depended on the client's location. */
  scopeLength: number;
  /** Front-end ids whose addresses are in the answer, best first. */
  frontEnds: string[];
  /** How the front-ends were chosen, when a site name was asked for addresses. */
  basis?: SelectionBasis;
}

type AddressType = typeof RRType.A | typeof RRType.AAAA;

/** Longest CNAME chain followed inside our zones (a loop ends here too). */
const MAX_CHAIN = 8;

function blank(rcode: number, authoritative: boolean, kind: AnswerKind, limitName: string): Answer {
  return { rcode, authoritative, kind, limitName, answers: [], authorities: [], additionals: [], scopeLength: 0, frontEnds: [] };
}

function soaRecord(zone: IndexedZone, ttl: number): ResourceRecord {
  const { soa } = zone.config;
  return {
    name: zone.apex,
    type: RRType.SOA,
    ttl,
    primary: zone.mname,
    admin: zone.rname,
    serial: soa.serial,
    refresh: soa.refresh,
    retry: soa.retry,
    expiration: soa.expire,
    minimum: soa.minimum,
  };
}

/** Seconds a resolver may cache "no such name/type": the configured negative TTL, capped by the SOA minimum. */
function negativeTtl(index: ZoneIndex, zone: IndexedZone): number {
  const wanted = index.state.negativeTtl ?? index.state.answerTtl;
  return Math.min(wanted, zone.config.soa.minimum);
}

function addressRecords(name: string, type: AddressType, addresses: readonly string[], ttl: number): ResourceRecord[] {
  return addresses.map((address) => ({ name, type, ttl, address }));
}

function familyOf(type: AddressType): 'ipv4' | 'ipv6' {
  return type === RRType.A ? 'ipv4' : 'ipv6';
}

/** The chosen front-ends' addresses for a site name, into `answer`. */
function siteAddresses(index: ZoneIndex, site: IndexedSite, name: string, type: AddressType, location: ClientLocation, answer: Answer): void {
  const family = familyOf(type);
  const { state } = index;
  const match = index.popTable.lookup(location.address);
  const selection = selectFrontEnds({
    assigned: site.frontEnds.filter((frontEnd) => frontEnd[family].length > 0),
    popPreference: match.pops,
    clientKey: location.networkKey,
    count: state.answerCount,
    overloadThreshold: state.overloadThreshold,
  });
  for (const frontEnd of selection.chosen) answer.answers.push(...addressRecords(name, type, frontEnd[family], state.answerTtl));
  answer.scopeLength = match.scopeLength;
  answer.frontEnds = selection.chosen.map((frontEnd) => frontEnd.id);
  answer.basis = selection.basis;
}

/** Names are stored lower case; answers carry the name as asked for the first owner, stored form after. */
function renamed(records: readonly ResourceRecord[], name: string): ResourceRecord[] {
  return records.map((record) => ({ ...record, name }));
}

function nameServers(zone: IndexedZone, name: string): ResourceRecord[] {
  return zone.config.ns.map((ns) => ({ name, type: RRType.NS, ttl: zone.config.ttl, ns: ns.name }));
}

/** A/AAAA of in-zone name server hosts: glue for NS answers and referrals. */
function glue(index: ZoneIndex, targets: readonly string[], below: string): ResourceRecord[] {
  const records: ResourceRecord[] = [];
  for (const target of targets) {
    if (!isAtOrBelow(target, below)) continue;
    const node = index.names.get(target);
    for (const type of [RRType.A, RRType.AAAA]) records.push(...(node?.rrsets.get(type) ?? []));
  }
  return records;
}

/** The nearest delegation at or above `name` (and below the apex), if any. */
function cutAbove(zone: IndexedZone, name: string): string | undefined {
  if (zone.cuts.size === 0) return undefined;
  let found: string | undefined;
  for (const ancestor of selfAndAncestors(name)) {
    if (ancestor === zone.apex) break;
    if (zone.cuts.has(ancestor)) found = ancestor;
  }
  return found;
}

function nsTarget(record: ResourceRecord): string {
  return 'rdata' in record ? rdataName(record.rdata) : 'ns' in record ? record.ns : '';
}

function referral(index: ZoneIndex, zone: IndexedZone, cut: string): Answer {
  const answer = blank(Rcode.NOERROR, false, 'referral', cut);
  answer.zone = zone;
  const node = index.names.get(cut) as NameNode;
  const ns = node.rrsets.get(RRType.NS) ?? [];
  answer.authorities.push(...ns);
  answer.node = node;
  answer.deniedName = cut;
  answer.additionals.push(...glue(index, ns.map(nsTarget), cut));
  return answer;
}

/** RFC 8482 §4.2: one small synthesized HINFO instead of everything at the name. */
function minimalAny(name: string, ttl: number): ResourceRecord {
  const cpu = Buffer.from('RFC8482');
  return { name, type: RRType.HINFO, ttl, rdata: Buffer.concat([Buffer.from([cpu.length]), cpu, Buffer.from([0])]) };
}

/** The records of `type` at `node` (asked as `name`), into `answer`; false when there are none. */
function positive(index: ZoneIndex, node: NameNode, name: string, key: string, type: number, location: ClientLocation, answer: Answer): boolean {
  const zone = node.zone;
  const before = answer.answers.length;
  if (type === RRType.ANY) {
    answer.answers.push(minimalAny(name, index.state.answerTtl));
  } else if (key === zone.apex && type === RRType.SOA) {
    answer.answers.push(soaRecord(zone, zone.config.ttl));
  } else if (key === zone.apex && type === RRType.NS) {
    answer.answers.push(...nameServers(zone, name));
    answer.additionals.push(...glue(index, zone.config.ns.map((ns) => ns.name), zone.apex));
  } else if (key === zone.apex && zone.signer && type === RRType.DNSKEY) {
    answer.answers.push(...renamed(zone.signer.dnskeys, name));
  } else if (key === zone.apex && zone.signer && (type === RRType.CDS || type === RRType.CDNSKEY)) {
    answer.answers.push(...renamed(type === RRType.CDS ? zone.signer.cds : zone.signer.cdnskeys, name));
  } else if (node.site && (type === RRType.A || type === RRType.AAAA)) {
    siteAddresses(index, node.site, name, type, location, answer);
  } else {
    answer.answers.push(...renamed(node.rrsets.get(type) ?? [], name));
  }
  return answer.answers.length > before;
}

function deny(index: ZoneIndex, answer: Answer, zone: IndexedZone, rcode: number, name: string, node: NameNode | undefined): Answer {
  answer.rcode = rcode;
  answer.kind = rcode === Rcode.NXDOMAIN ? 'nxdomain' : 'nodata';
  // Random names share one bucket per zone, as NSD keys NXDOMAIN (a random-subdomain flood is one stream).
  if (answer.answers.length === 0) answer.limitName = rcode === Rcode.NXDOMAIN ? zone.apex : name;
  answer.zone = zone;
  answer.node = node;
  answer.deniedName = name;
  answer.authorities.push(soaRecord(zone, negativeTtl(index, zone)));
  return answer;
}

export function answerQuestion(index: ZoneIndex, question: Question, location: ClientLocation): Answer {
  // QCLASS ANY asks every class; IN is the only one we hold (RFC 1035 §3.2.5).
  if (question.class !== RRClass.IN && question.class !== RRClass.ANY) return blank(Rcode.REFUSED, false, 'refused', '');
  const first = findZone(index.zones, question.key);
  // Outside every zone, and zone transfers: not ours to give.
  if (!first || question.type === RRType.AXFR || question.type === RRType.IXFR) return blank(Rcode.REFUSED, false, 'refused', '');
  const answer = blank(Rcode.NOERROR, true, 'positive', question.key);
  answer.zone = first;
  let zone = first;
  let key = question.key;
  let name = question.name;
  for (let step = 0; ; step++) {
    const cut = cutAbove(zone, key);
    // DS lives on the parent side of a cut (RFC 4035 §3.1.4.1): answered here, not referred.
    if (cut !== undefined && !(cut === key && question.type === RRType.DS)) {
      if (step === 0) return referral(index, zone, cut);
      return answer;
    }
    const node = index.names.get(key);
    if (!node) return deny(index, answer, zone, Rcode.NXDOMAIN, key, undefined);
    if (node.cname === undefined || question.type === RRType.CNAME || question.type === RRType.ANY) {
      if (positive(index, node, name, key, question.type, location, answer)) return answer;
      return deny(index, answer, zone, Rcode.NOERROR, key, node);
    }
    answer.answers.push(...renamed(node.rrsets.get(RRType.CNAME) ?? [], name));
    // Follow the alias while it stays in our zones, so the resolver needs no second question (RFC 1034 §4.3.2).
    const next = findZone(index.zones, node.cname);
    if (!next || step + 1 >= MAX_CHAIN) return answer;
    zone = next;
    key = node.cname;
    name = node.cname;
  }
}
