import { dirname, resolve } from 'node:path';
import { formatPath, loadConfigFile } from '@overlay/common';
import { z } from 'zod';
import { tokenEntries } from './credentials.js';
import { managerDefaults, managerLimits } from './defaults.js';
import { managerRoleSchema } from './feed-schema.js';
import { gatewayIdSchema, hostPortSchema } from './names.js';

const token = z.string().min(16, 'must be at least 16 characters').max(4096);
/** One token, or several valid at once (a rotation: add the new one, move the holders, drop the old one). */
const tokens = z.union([token, z.array(token).min(1).max(managerLimits.maxReadTokens)]).transform((value) => (typeof value === 'string' ? [value] : value));
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
  /**
   * /metrics and /healthz (and POST /reload) on their own listener. With it, the API port serves no
   * /metrics; without it, /metrics on the API port needs an admin or read token.
   */
  admin: hostPortSchema.optional(),
  /** Admin token(s): every call, the feed, registering any gateway. `${ENV}` in a file. */
  token: tokens,
  /** Tokens that may read (GET, the feed, the dashboard) but not write or register gateways. */
  readTokens: z.array(token).max(managerLimits.maxReadTokens).default([]),
  /** Per gateway id, the token(s) it may use: only the feed, registering and reporting as that id. */
  gatewayTokens: z.record(gatewayIdSchema, tokens).default({}),
  /** Serve the API, feed and dashboard over HTTPS: PEM file paths (relative to the config file). */
  tls: z.strictObject({ cert: z.string().min(1), key: z.string().min(1) }).optional(),
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
}).superRefine((config, ctx) => {
  // One token, one meaning: a token listed twice would grant whichever entry is checked first.
  // (Refinements run even when a field failed; only well-formed lists are compared.)
  const lists = [config.token, config.readTokens, ...Object.values(config.gatewayTokens ?? {})];
  if (!lists.every(Array.isArray)) return;
  const seen = new Map<string, string>();
  for (const { token: value, path } of tokenEntries({ admin: config.token, read: config.readTokens, gateways: config.gatewayTokens })) {
    const other = seen.get(value);
    if (other !== undefined) ctx.addIssue({ code: 'custom', path, message: `the same token as ${other}` });
    seen.set(value, formatPath(path));
  }
});

export type ManagerConfig = z.output<typeof managerConfigSchema>;
export type ManagerConfigInput = z.input<typeof managerConfigSchema>;

/** Reads a YAML or JSON manager config, expanding `${ENV}`; errors name the file and the field; TLS paths resolve against the file's folder. */
export async function loadManagerConfig(file: string): Promise<ManagerConfig> {
  const config = await loadConfigFile(file, managerConfigSchema);
  if (!config.tls) return config;
  const at = (path: string) => resolve(dirname(resolve(file)), path);
  return { ...config, tls: { cert: at(config.tls.cert), key: at(config.tls.key) } };
}
