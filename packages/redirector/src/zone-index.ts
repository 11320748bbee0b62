import { parseAddress } from './address.js';
import type { FrontEndConfig, RedirectorState, ZoneConfig } from './config.js';
import { isAtOrBelow, selfAndAncestors } from './names.js';
import { PopTable } from './pop-table.js';
import type { FrontEndView } from './select.js';

export interface IndexedFrontEnd extends FrontEndView {
  ipv4: string[];
  ipv6: string[];
}

export interface IndexedZone {
  apex: string;
  config: ZoneConfig;
  mname: string;
  rname: string;
  /** In-zone name server host → its addresses (served as A/AAAA and as glue). */
  hosts: Map<string, { ipv4: string[]; ipv6: string[] }>;
}

export interface IndexedSite {
  frontEnds: IndexedFrontEnd[];
}

/** What exists at one owner name inside a zone. A name with neither site nor host is an empty non-terminal. */
export interface NameNode {
  zone: IndexedZone;
  site?: IndexedSite;
  host?: { ipv4: string[]; ipv6: string[] };
}

/** The state compiled for lookups; rebuilt on every update and swapped in whole, so queries never see half. */
export interface ZoneIndex {
  state: RedirectorState;
  zones: Map<string, IndexedZone>;
  names: Map<string, NameNode>;
  popTable: PopTable;
  frontEnds: Map<string, IndexedFrontEnd>;
}

function splitFamilies(addresses: readonly string[]): { ipv4: string[]; ipv6: string[] } {
  const ipv4: string[] = [];
  const ipv6: string[] = [];
  for (const address of addresses) (parseAddress(address).family === 4 ? ipv4 : ipv6).push(address);
  return { ipv4, ipv6 };
}

function indexFrontEnd(id: string, config: FrontEndConfig): IndexedFrontEnd {
  return { id, pop: config.pop, healthy: config.healthy, load: config.load, ...splitFamilies(config.addresses) };
}

function indexZone(apex: string, config: ZoneConfig): IndexedZone {
  const hosts = new Map<string, { ipv4: string[]; ipv6: string[] }>();
  for (const ns of config.ns) if (isAtOrBelow(ns.name, apex)) hosts.set(ns.name, splitFamilies(ns.addresses));
  return {
    apex,
    config,
    mname: config.soa.mname ?? (config.ns[0] as { name: string }).name,
    rname: config.soa.rname ?? `hostmaster.${apex}`,
    hosts,
  };
}

/** The zone a name belongs to: the configured apex that is its longest suffix. */
export function findZone(zones: ReadonlyMap<string, IndexedZone>, name: string): IndexedZone | undefined {
  for (const candidate of selfAndAncestors(name)) {
    const zone = zones.get(candidate);
    if (zone) return zone;
  }
  return undefined;
}

/** Adds `name` and its ancestors up to the zone apex, so empty non-terminals answer NODATA, not NXDOMAIN. */
function addName(names: Map<string, NameNode>, zone: IndexedZone, name: string): NameNode {
  for (const ancestor of selfAndAncestors(name)) {
    if (!names.has(ancestor)) names.set(ancestor, { zone });
    if (ancestor === zone.apex) break;
  }
  return names.get(name) as NameNode;
}

export function buildZoneIndex(state: RedirectorState): ZoneIndex {
  const zones = new Map(Object.entries(state.zones).map(([apex, config]) => [apex, indexZone(apex, config)]));
  const frontEnds = new Map(Object.entries(state.frontEnds).map(([id, config]) => [id, indexFrontEnd(id, config)]));
  const names = new Map<string, NameNode>();
  for (const zone of zones.values()) {
    addName(names, zone, zone.apex);
    for (const [host, addresses] of zone.hosts) {
      const owner = findZone(zones, host);
      if (owner === zone) addName(names, zone, host).host = addresses;
    }
  }
  for (const site of Object.values(state.sites)) {
    const indexed: IndexedSite = { frontEnds: site.frontEnds.flatMap((id) => frontEnds.get(id) ?? []) };
    for (const domain of site.domains) {
      const zone = findZone(zones, domain);
      if (zone) addName(names, zone, domain).site = indexed;
    }
  }
  return { state, zones, names, popTable: new PopTable(state.popPreferences), frontEnds };
}
