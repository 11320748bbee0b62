import { priorityRulesSchema, type PriorityRules } from '@overlay/classifier';
import { formatPath } from '@overlay/common';
import { z } from 'zod';
import { DEFAULT_RING_WEIGHTS } from './defaults.js';
import { gatewayAddressesSchema, type GatewayAddresses } from './feed-schema.js';
import { gatewayIdSchema, siteNameSchema } from './names.js';
import { ringsBodySchema, siteBodySchema, type RingsBody, type SiteBody } from './site-schema.js';
import { zoneApexSchema, zoneRecordSchema, type ZoneRecord } from './zone-records.js';

/** The two gateway kinds, named as the API and the pushed state name them. */
export type GatewayKind = 'frontEnds' | 'backEnds';
export const GATEWAY_KINDS: readonly GatewayKind[] = ['frontEnds', 'backEnds'];
/** How people name each kind, in messages and metric labels. */
export const KIND_LABEL: Readonly<Record<GatewayKind, string>> = { frontEnds: 'front-end', backEnds: 'back-end' };

/** A site as stored: the PUT body, its priority rules, and the gateways the capacity reaction added. */
export interface SiteRecord {
  body: SiteBody;
  priorities?: PriorityRules;
  auto: Record<GatewayKind, string[]>;
}

/** A gateway as stored: what its hello said. Health and load are not stored; they come from live reports. */
export interface GatewayRecord {
  pop?: string;
  addresses: GatewayAddresses;
  tunnelTls?: boolean;
}

/** Everything that survives a restart. Only `applyChange` modifies it. */
export interface DurableState {
  sites: Map<string, SiteRecord>;
  rings: RingsBody;
  /** Zone apex → static records the redirector serves there (zone-records.ts). */
  zoneRecords: Map<string, ZoneRecord[]>;
  gateways: Record<GatewayKind, Map<string, GatewayRecord>>;
  /** Every feed version issued so far is below this (docs/manager.md "Versions"). */
  versionCeiling: number;
}

const kindSchema = z.enum(['frontEnds', 'backEnds']);
const gatewayRecordSchema = z.strictObject({ pop: z.string().optional(), addresses: gatewayAddressesSchema, tunnelTls: z.boolean().optional() });

/** One entry of the change log: every acknowledged write is one of these. */
export const changeSchema = z.discriminatedUnion('op', [
  z.strictObject({ op: z.literal('putSite'), site: siteNameSchema, body: siteBodySchema }),
  z.strictObject({ op: z.literal('deleteSite'), site: siteNameSchema }),
  z.strictObject({ op: z.literal('putPriorities'), site: siteNameSchema, priorities: priorityRulesSchema }),
  ringsBodySchema.extend({ op: z.literal('putRings') }),
  z.strictObject({ op: z.literal('putZoneRecords'), apex: zoneApexSchema, records: z.array(zoneRecordSchema) }),
  z.strictObject({ op: z.literal('putGateway'), kind: kindSchema, id: gatewayIdSchema, record: gatewayRecordSchema }),
  z.strictObject({ op: z.literal('deleteGateway'), kind: kindSchema, id: gatewayIdSchema }),
  z.strictObject({ op: z.literal('setAuto'), site: siteNameSchema, kind: kindSchema, ids: z.array(gatewayIdSchema) }),
  z.strictObject({ op: z.literal('leaseVersions'), ceiling: z.number().int().min(0) }),
]);
export type Change = z.output<typeof changeSchema>;

export function emptyDurableState(): DurableState {
  return {
    sites: new Map(),
    rings: { weights: [...DEFAULT_RING_WEIGHTS] },
    zoneRecords: new Map(),
    gateways: { frontEnds: new Map(), backEnds: new Map() },
    versionCeiling: 0,
  };
}

/** Applies one change in place. Changes are validated before they are logged, so this cannot fail. */
export function applyChange(state: DurableState, change: Change): void {
  switch (change.op) {
    case 'putSite': {
      const previous = state.sites.get(change.site);
      // A gateway now assigned through the API is no longer the capacity reaction's to release.
      const stillAuto = (kind: GatewayKind) => (previous?.auto[kind] ?? []).filter((id) => !change.body[kind].includes(id));
      state.sites.set(change.site, {
        body: change.body,
        priorities: previous?.priorities,
        auto: { frontEnds: stillAuto('frontEnds'), backEnds: stillAuto('backEnds') },
      });
      return;
    }
    case 'deleteSite':
      state.sites.delete(change.site);
      return;
    case 'putPriorities': {
      const site = state.sites.get(change.site);
      if (site) site.priorities = change.priorities;
      return;
    }
    case 'putRings': {
      const { op: _op, ...rings } = change;
      state.rings = structuredClone(rings);
      return;
    }
    case 'putZoneRecords':
      if (change.records.length) state.zoneRecords.set(change.apex, change.records);
      else state.zoneRecords.delete(change.apex);
      return;
    case 'putGateway':
      state.gateways[change.kind].set(change.id, change.record);
      return;
    case 'deleteGateway':
      state.gateways[change.kind].delete(change.id);
      return;
    case 'setAuto': {
      const site = state.sites.get(change.site);
      if (site) site.auto = { ...site.auto, [change.kind]: [...change.ids] };
      return;
    }
    case 'leaseVersions':
      state.versionCeiling = Math.max(state.versionCeiling, change.ceiling);
      return;
  }
}

/** The snapshot file's content: plain JSON. */
const snapshotSchema = z.strictObject({
  sites: z.record(
    siteNameSchema,
    z.strictObject({
      body: siteBodySchema,
      priorities: priorityRulesSchema.optional(),
      auto: z.strictObject({ frontEnds: z.array(gatewayIdSchema), backEnds: z.array(gatewayIdSchema) }),
    }),
  ),
  rings: ringsBodySchema,
  zoneRecords: z.record(zoneApexSchema, z.array(zoneRecordSchema)).default({}),
  gateways: z.strictObject({ frontEnds: z.record(gatewayIdSchema, gatewayRecordSchema), backEnds: z.record(gatewayIdSchema, gatewayRecordSchema) }),
  versionCeiling: z.number().int().min(0),
});
export type DurableSnapshot = z.input<typeof snapshotSchema>;

export function toSnapshot(state: DurableState): DurableSnapshot {
  return {
    sites: Object.fromEntries(state.sites),
    rings: state.rings,
    zoneRecords: Object.fromEntries(state.zoneRecords),
    gateways: { frontEnds: Object.fromEntries(state.gateways.frontEnds), backEnds: Object.fromEntries(state.gateways.backEnds) },
    versionCeiling: state.versionCeiling,
  };
}

/** Checks and rebuilds a snapshot read back from storage; a problem names the field. */
export function fromSnapshot(value: unknown): DurableState {
  const parsed = snapshotSchema.safeParse(value);
  if (!parsed.success) throw new Error(describeIssue(parsed.error));
  const data = parsed.data;
  return {
    sites: new Map(Object.entries(data.sites)),
    rings: data.rings,
    zoneRecords: new Map(Object.entries(data.zoneRecords)),
    gateways: { frontEnds: new Map(Object.entries(data.gateways.frontEnds)), backEnds: new Map(Object.entries(data.gateways.backEnds)) },
    versionCeiling: data.versionCeiling,
  };
}

/** Checks a change read back from storage. */
export function parseChange(value: unknown): Change {
  const parsed = changeSchema.safeParse(value);
  if (!parsed.success) throw new Error(describeIssue(parsed.error));
  return parsed.data;
}

function describeIssue(error: z.ZodError): string {
  const issue = error.issues[0];
  return `${formatPath(issue?.path ?? []) || '(root)'}: ${issue?.message ?? 'invalid'}`;
}
