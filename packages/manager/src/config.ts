import { loadConfigFile } from '@overlay/common';
import { z } from 'zod';
import { managerDefaults, managerLimits } from './defaults.js';
import { managerRoleSchema } from './feed-schema.js';
import { hostPortSchema } from './names.js';

const token = z.string().min(16, 'must be at least 16 characters').max(4096);
const positiveMs = z.number().int().min(1).max(2_147_483_647);
const positiveInt = z.number().int().positive();

const feedSchema = z.strictObject({
  pingIntervalMs: positiveMs.default(managerDefaults.feed.pingIntervalMs),
  maxBufferedBytes: positiveInt.default(managerDefaults.feed.maxBufferedBytes),
  maxSubscribers: positiveInt.default(managerDefaults.feed.maxSubscribers),
  maxMessageBytes: positiveInt.default(managerDefaults.feed.maxMessageBytes),
  reportPushDelayMs: z.number().int().min(0).max(1000).default(managerDefaults.feed.reportPushDelayMs),
});

const capacitySchema = z.strictObject({
  enabled: z.boolean().default(managerDefaults.capacity.enabled),
  intervalMs: positiveMs.default(managerDefaults.capacity.intervalMs),
  raiseAfterMs: z.number().int().min(0).default(managerDefaults.capacity.raiseAfterMs),
  releaseAfterMs: z.number().int().min(0).default(managerDefaults.capacity.releaseAfterMs),
  releaseBelow: z.number().gt(0).lt(1).default(managerDefaults.capacity.releaseBelow),
  maxAutoPerSite: z.number().int().min(0).max(managerLimits.maxGatewaysPerSite).default(managerDefaults.capacity.maxAutoPerSite),
});
export type CapacitySettings = z.output<typeof capacitySchema>;

const etcdSchema = z.strictObject({
  /** etcd client URLs, e.g. `http://10.0.0.1:2379`; the client moves to another when one fails. */
  endpoints: z.array(z.url({ protocol: /^https?$/ })).min(1).max(16),
  /** Key prefix of this manager cluster: several clusters may share one etcd. */
  prefix: z.string().min(1).max(256).default(managerDefaults.etcd.prefix),
  /** Leader lease, seconds: how long after a leader dies another one takes over. */
  leaderTtlS: z.number().int().min(1).max(60).default(managerDefaults.etcd.leaderTtlS),
  dialTimeoutMs: positiveMs.default(managerDefaults.etcd.dialTimeoutMs),
});
export type EtcdSettings = z.output<typeof etcdSchema>;

export const managerConfigSchema = z.strictObject({
  /** Name in logs and metrics. */
  id: z.string().min(1).max(128).default('manager'),
  role: managerRoleSchema,
  /** API, feed, dashboard, /metrics and /healthz, all on one port; port 0 picks a free one. */
  listen: hostPortSchema,
  /** An extra listener with only /metrics and /healthz, for operators who keep those apart. */
  admin: hostPortSchema.optional(),
  /** Bearer token for every call and the feed; `${ENV}` in a file. */
  token,
  /** Tokens that may read (GET, the feed, the dashboard) but not write or register gateways. */
  readTokens: z.array(token).max(managerLimits.maxReadTokens).default([]),
  /** Where the durable store lives; relative paths start at the working directory. */
  dataDir: z.string().min(1).default(managerDefaults.dataDir),
  reportTimeoutMs: positiveMs.default(managerDefaults.reportTimeoutMs),
  maxBodyBytes: positiveInt.default(managerDefaults.maxBodyBytes),
  feed: feedSchema.prefault({}),
  capacity: capacitySchema.prefault({}),
  store: z
    .strictObject({
      compactEvery: positiveInt.default(managerDefaults.store.compactEvery),
      /** Replicas on one etcd cluster instead of the embedded file store in `dataDir`. */
      etcd: etcdSchema.optional(),
    })
    .prefault({}),
});

export type ManagerConfig = z.output<typeof managerConfigSchema>;
export type ManagerConfigInput = z.input<typeof managerConfigSchema>;

/** Reads a YAML or JSON manager config, expanding `${ENV}`; errors name the file and the field. */
export function loadManagerConfig(file: string): Promise<ManagerConfig> {
  return loadConfigFile(file, managerConfigSchema);
}
