/** What to answer for one question, given the compiled state and where the client is. Pure. */
import type { ClientLocation } from './location.js';
import { selectFrontEnds, type SelectionBasis } from './select.js';
import { Rcode, RRClass, RRType } from './wire/constants.js';
import type { Question } from './wire/query.js';
import type { ResourceRecord } from './wire/sections.js';
import { findZone, type IndexedSite, type IndexedZone, type NameNode, type ZoneIndex } from './zone-index.js';

export interface Answer {
  rcode: number;
  authoritative: boolean;
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

type Sections = Partial<Pick<Answer, 'answers' | 'authorities' | 'additionals'>>;

function answerOf(rcode: number, authoritative: boolean, sections: Sections = {}): Answer {
  return { rcode, authoritative, answers: [], authorities: [], additionals: [], scopeLength: 0, frontEnds: [], ...sections };
}

const refused = answerOf(Rcode.REFUSED, false);

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

/** NXDOMAIN and NODATA carry the SOA, with TTL min(SOA TTL, MINIMUM) as negative caching wants (RFC 2308 §3). */
function negative(zone: IndexedZone, rcode: number): Answer {
  const ttl = Math.min(zone.config.ttl, zone.config.soa.minimum);
  return answerOf(rcode, true, { authorities: [soaRecord(zone, ttl)] });
}

function found(answers: ResourceRecord[], additionals: ResourceRecord[] = []): Answer {
  return answerOf(Rcode.NOERROR, true, { answers, additionals });
}

function addressRecords(name: string, type: AddressType, addresses: readonly string[], ttl: number): ResourceRecord[] {
  return addresses.map((address) => ({ name, type, ttl, address }));
}

function familyOf(type: AddressType): 'ipv4' | 'ipv6' {
  return type === RRType.A ? 'ipv4' : 'ipv6';
}

function siteAddresses(index: ZoneIndex, site: IndexedSite, name: string, type: AddressType, location: ClientLocation): Answer {
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
  return {
    ...found(selection.chosen.flatMap((frontEnd) => addressRecords(name, type, frontEnd[family], state.answerTtl))),
    scopeLength: match.scopeLength,
    frontEnds: selection.chosen.map((frontEnd) => frontEnd.id),
    basis: selection.basis,
  };
}

function nameServers(zone: IndexedZone, name: string): Answer {
  const { ttl } = zone.config;
  const glue = [...zone.hosts].flatMap(([host, addresses]) => [
    ...addressRecords(host, RRType.A, addresses.ipv4, ttl),
    ...addressRecords(host, RRType.AAAA, addresses.ipv6, ttl),
  ]);
  return found(zone.config.ns.map((ns) => ({ name, type: RRType.NS, ttl, ns: ns.name })), glue);
}

function addresses(
  index: ZoneIndex,
  node: NameNode,
  name: string,
  type: AddressType,
  location: ClientLocation,
): Answer | undefined {
  if (node.site) return siteAddresses(index, node.site, name, type, location);
  if (node.host) return found(addressRecords(name, type, node.host[familyOf(type)], node.zone.config.ttl));
  return undefined;
}

/** Several partial answers for one name (ANY) become one. */
function merge(parts: Array<Answer | undefined>): Answer | undefined {
  const present = parts.filter((part): part is Answer => part !== undefined);
  if (present.length === 0) return undefined;
  return {
    ...found(
      present.flatMap((part) => part.answers),
      present.flatMap((part) => part.additionals),
    ),
    scopeLength: Math.max(...present.map((part) => part.scopeLength)),
    frontEnds: present.flatMap((part) => part.frontEnds),
    basis: present.find((part) => part.basis)?.basis,
  };
}

function positive(index: ZoneIndex, node: NameNode, question: Question, location: ClientLocation): Answer | undefined {
  const name = question.name;
  const atApex = question.key === node.zone.apex;
  switch (question.type) {
    case RRType.SOA:
      return atApex ? found([soaRecord(node.zone, node.zone.config.ttl)]) : undefined;
    case RRType.NS:
      return atApex ? nameServers(node.zone, name) : undefined;
    case RRType.A:
    case RRType.AAAA:
      return addresses(index, node, name, question.type, location);
    case RRType.ANY:
      // RFC 8482 lets ANY be answered with less; the records here are few and small, so send them.
      return merge([
        atApex ? positive(index, node, { ...question, type: RRType.SOA }, location) : undefined,
        atApex ? nameServers(node.zone, name) : undefined,
        addresses(index, node, name, RRType.A, location),
        addresses(index, node, name, RRType.AAAA, location),
      ]);
    default:
      return undefined;
  }
}

export function answerQuestion(index: ZoneIndex, question: Question, location: ClientLocation): Answer {
  if (question.class !== RRClass.IN) return refused;
  const zone = findZone(index.zones, question.key);
  // Outside every zone, and zone transfers: not ours to give.
  if (!zone || question.type === RRType.AXFR || question.type === RRType.IXFR) return refused;
  const node = index.names.get(question.key);
  if (!node) return negative(zone, Rcode.NXDOMAIN);
  const answer = positive(index, node, question, location);
  return answer && answer.answers.length > 0 ? answer : negative(zone, Rcode.NOERROR);
}
