import { parseAddress } from './address.js';
import ipaddr from 'ipaddr.js';
import { parseRecordData } from './record-data.js';
import { BACKEND_LABEL, recordOwner, type FrontEndConfig, type RedirectorState, type ZoneConfig } from './config.js';
import type { ZoneSigner } from './dnssec/signer.js';
import { RRType } from './wire/constants.js';
import type { ResourceRecord } from './wire/sections.js';
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
  /** Names below the apex that hold NS records: delegations, answered with referrals. */
  cuts: Set<string>;
  /** Present when the zone is signed. */
  signer?: ZoneSigner;
}

export interface IndexedSite {
  frontEnds: IndexedFrontEnd[];
}

/** What exists at one owner name inside a zone. A name with neither site nor records is an empty non-terminal. */
export interface NameNode {
  zone: IndexedZone;
  site?: IndexedSite;
  /** Static records by type (the in-zone name servers' addresses among them). */
  rrsets: Map<number, ResourceRecord[]>;
  /** The CNAME target, when the name is an alias. */
  cname?: string;
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

function indexZone(apex: string, config: ZoneConfig, signer: ZoneSigner | undefined): IndexedZone {
  const hosts = new Map<string, { ipv4: string[]; ipv6: string[] }>();
  for (const ns of config.ns) if (isAtOrBelow(ns.name, apex)) hosts.set(ns.name, splitFamilies(ns.addresses));
  const cuts = new Set<string>();
  for (const record of config.records) {
    const owner = recordOwner(record.name, apex);
    if (record.code === RRType.NS && owner !== apex) cuts.add(owner);
  }
  return {
    apex,
    config,
    mname: config.soa.mname ?? (config.ns[0] as { name: string }).name,
    rname: config.soa.rname ?? `hostmaster.${apex}`,
    hosts,
    cuts,
    signer,
  };
}

/** Reads the text of the wire name at the start of `rdata` (uncompressed, as record-data.ts writes it). */
export function rdataName(rdata: Uint8Array): string {
  const labels: string[] = [];
  for (let at = 0; at < rdata.length && rdata[at] !== 0; at += 1 + (rdata[at] as number)) {
    labels.push(Buffer.from(rdata.subarray(at + 1, at + 1 + (rdata[at] as number))).toString('latin1'));
  }
  return labels.join('.');
}

function addRecord(node: NameNode, record: ResourceRecord): void {
  let set = node.rrsets.get(record.type);
  if (!set) node.rrsets.set(record.type, (set = []));
  set.push(record);
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
    if (!names.has(ancestor)) names.set(ancestor, { zone, rrsets: new Map() });
    if (ancestor === zone.apex) break;
  }
  return names.get(name) as NameNode;
}

/** `_backend.<domain>`: a TXT per assigned back-end, and the addresses of tunnel hosts that are IP literals. */
function addBackEnds(node: NameNode, name: string, backEnds: RedirectorState['sites'][string]['backEnds'], ttl: number): void {
  for (const backEnd of backEnds) {
    // Ids and addresses come from the feed: one that cannot be written is left out, never the whole state.
    const text = `"id=${backEnd.id.replace(/["\\]/g, '')}"${backEnd.tunnel ? ` "tunnel=${backEnd.tunnel.replace(/["\\]/g, '')}"` : ''}`;
    try {
      addRecord(node, { name, type: RRType.TXT, ttl, rdata: parseRecordData(RRType.TXT, text) });
    } catch {
      continue;
    }
    const host = /^\[?([^\]]*?)\]?:\d+$/.exec(backEnd.tunnel ?? '')?.[1];
    if (host === undefined || !ipaddr.isValid(host)) continue;
    const address = ipaddr.process(host);
    addRecord(node, { name, type: address.kind() === 'ipv4' ? RRType.A : RRType.AAAA, ttl, address: address.toString() });
  }
}

/** A zone's signer by apex, made by the caller (keys come from files); none for unsigned zones. */
export type SignerOf = (apex: string, config: ZoneConfig) => ZoneSigner | undefined;

export function buildZoneIndex(state: RedirectorState, signerOf: SignerOf = () => undefined): ZoneIndex {
  const zones = new Map(Object.entries(state.zones).map(([apex, config]) => [apex, indexZone(apex, config, signerOf(apex, config))]));
  const frontEnds = new Map(Object.entries(state.frontEnds).map(([id, config]) => [id, indexFrontEnd(id, config)]));
  const names = new Map<string, NameNode>();
  for (const zone of zones.values()) {
    const { ttl } = zone.config;
    addName(names, zone, zone.apex);
    for (const [host, addresses] of zone.hosts) {
      if (findZone(zones, host) !== zone) continue;
      const node = addName(names, zone, host);
      for (const address of addresses.ipv4) addRecord(node, { name: host, type: RRType.A, ttl, address });
      for (const address of addresses.ipv6) addRecord(node, { name: host, type: RRType.AAAA, ttl, address });
    }
    for (const record of zone.config.records) {
      const owner = recordOwner(record.name, zone.apex);
      if (findZone(zones, owner) !== zone) continue;
      const node = addName(names, zone, owner);
      addRecord(node, { name: owner, type: record.code, ttl: record.ttl ?? ttl, rdata: record.rdata });
      if (record.code === RRType.CNAME) node.cname = rdataName(record.rdata);
    }
  }
  for (const site of Object.values(state.sites)) {
    const indexed: IndexedSite = { frontEnds: site.frontEnds.flatMap((id) => frontEnds.get(id) ?? []) };
    for (const domain of site.domains) {
      const zone = findZone(zones, domain);
      if (!zone) continue;
      addName(names, zone, domain).site = indexed;
      if (site.backEnds.length) addBackEnds(addName(names, zone, `${BACKEND_LABEL}.${domain}`), `${BACKEND_LABEL}.${domain}`, site.backEnds, state.answerTtl);
    }
  }
  return { state, zones, names, popTable: new PopTable(state.popPreferences), frontEnds };
}
