import { dirname, resolve } from 'node:path';
import { defaultLimitControllerOptions, verifyLimitControllerOptions } from '@overlay/admission';
import { RouteTable, requestTypes, siteLimits, type RequestType } from '@overlay/balancer';
import { accessLogSchema, advertisedAddressSchema, bindsEveryAddress, hostHeaderSchema, ringsStateSchema, siteHealthCheckSchema, managerLinkSchema, gatewayIdSchema as gatewayId, hostPortSchema as hostPort, loadConfigFile, ORIGIN_SCHEMES as SCHEMES, originUrlProblem, siteNameSchema as siteName, validate, type SiteMode } from '@overlay/common';
import { z } from 'zod';
import { backEndDefaults, backEndLimits } from './defaults.js';

const originId = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9.:_\[\]-]{0,127}$/, 'letters, digits, . : _ - [ ] (at most 128)');
const positiveInt = z.number().int().positive();
const ms = z.number().int().min(0).max(2_147_483_647);
const positiveMs = z.number().int().min(1).max(2_147_483_647);

export type { SiteMode };

/** The id an origin gets when the config names none: its host:port, so the same URL is the same origin everywhere. */
export function defaultOriginId(url: string): string {
  const parsed = new URL(url);
  const port = parsed.port || (parsed.protocol === 'https:' ? '443' : '80');
  return `${parsed.hostname}:${port}`;
}

const originSchema = z
  .strictObject({
    url: z.string().superRefine((text, ctx) => {
      const problem = originUrlProblem(text);
      if (problem) ctx.addIssue({ code: 'custom', message: problem });
    }),
    /** Name in metrics, logs and `x-origin`-style reporting; default host:port of the URL. */
    id: originId.optional(),
    /** Share of the work relative to the list's other origins. */
    weight: z.number().positive().finite().optional(),
    /** Primaries get all the work until every one is saturated or down (seed 001). */
    primary: z.boolean().optional(),
    /**
     * The origin's own concurrency budget, requests, shared by every back-end serving it: a manager splits
     * it (`originShares`); without one this back-end keeps within all of it. docs/admission.md.
     */
    maxConcurrency: z.number().int().min(1).max(65_535).optional(),
  })
  .transform((origin) => ({ ...origin, id: origin.id ?? defaultOriginId(origin.url) }));

const routeSchema = z.strictObject({
  pathPrefix: z.string().min(1).max(2048).startsWith('/', 'must start with "/"'),
  origins: z.array(originSchema).min(1).max(siteLimits.maxOrigins),
});

export type SiteHealthCheck = z.output<typeof siteHealthCheckSchema>;

export const siteSchema = z
  .strictObject({
    mode: z.enum(['http', 'tcp']).default('http'),
    origins: z.array(originSchema).min(1).max(siteLimits.maxOrigins),
    /** Longest matching path prefix picks the origin list (seed 002); HTTP sites only. */
    routes: z.array(routeSchema).max(siteLimits.maxRoutes).default([]),
    /**
     * TCP sites: start each origin connection with a PROXY header of this version naming the client.
     * (HTTP origins share pooled connections among clients; they get X-Forwarded-For and Forwarded.)
     */
    proxyProtocol: z.union([z.literal(1), z.literal(2)]).optional(),
    /** `Host` sent to the origins instead of the client's (which they get by default). HTTP sites only. */
    originHost: hostHeaderSchema.optional(),
    healthCheck: siteHealthCheckSchema.optional(),
    /**
     * Release queued requests by type (the order given, types left out last) or by size (what the path
     * answered last, smallest first) instead of FIFO (seed 001). release-order.ts.
     */
    queueRelease: z.discriminatedUnion('by', [
      z.strictObject({ by: z.literal('type'), order: z.array(z.enum(requestTypes as [RequestType, ...RequestType[]])).min(1).max(4) }),
      z.strictObject({ by: z.literal('size') }),
    ]).optional(),
  })
  .superRefine((site, ctx) => {
    if (site.mode === 'http' && site.proxyProtocol !== undefined) ctx.addIssue({ code: 'custom', path: ['proxyProtocol'], message: 'only tcp sites: HTTP origin connections are pooled across clients' });
    if (site.mode === 'tcp' && site.originHost !== undefined) ctx.addIssue({ code: 'custom', path: ['originHost'], message: 'tcp sites send no Host' });
    if (site.mode === 'tcp' && (site.healthCheck?.path !== undefined || site.healthCheck?.expectStatus !== undefined || site.healthCheck?.freshness !== undefined)) {
      ctx.addIssue({ code: 'custom', path: ['healthCheck'], message: 'tcp origins are checked by a connect: only intervalMs and timeoutMs apply' });
    }
    const check = (origins: ReadonlyArray<{ url: string }>, path: Array<string | number>) =>
      origins.forEach((origin, index) => {
        if (!SCHEMES[site.mode].includes(new URL(origin.url).protocol)) {
          ctx.addIssue({ code: 'custom', path: [...path, index, 'url'], message: `a ${site.mode} site needs ${SCHEMES[site.mode].join(' or ').replace(/:/g, '')} origins` });
        }
      });
    check(site.origins, ['origins']);
    site.routes.forEach((route, index) => check(route.origins, ['routes', index, 'origins']));
    if (site.mode === 'tcp' && site.routes.length > 0) ctx.addIssue({ code: 'custom', path: ['routes'], message: 'tcp sites have no path routes' });
    try {
      new RouteTable(site);
    } catch (err) {
      // RouteTable names the field in its message ("routes[1].pathPrefix: ... appears twice").
      ctx.addIssue({ code: 'custom', message: (err as Error).message });
    }
  });

const controllerKeys = Object.keys(defaultLimitControllerOptions).filter((key) => !['minLimit', 'maxLimit', 'initialLimit'].includes(key));

const limitsSchema = z
  .strictObject({
    adaptive: z.boolean().default(backEndDefaults.limits.adaptive),
    min: positiveInt.default(backEndDefaults.limits.min),
    max: positiveInt.max(4096).default(backEndDefaults.limits.max),
    initial: positiveInt.default(backEndDefaults.limits.initial),
    /** Further LimitController options (docs/admission.md), for tuning the adaptive law. */
    controller: z.partialRecord(z.enum(controllerKeys as [string, ...string[]]), z.number()).default({}),
  })
  .superRefine((limits, ctx) => {
    if (limits.min > limits.max) ctx.addIssue({ code: 'custom', path: ['min'], message: 'must not exceed max' });
    if (limits.initial < limits.min || limits.initial > limits.max) ctx.addIssue({ code: 'custom', path: ['initial'], message: 'must be within [min, max]' });
    if (!limits.adaptive || limits.min > limits.max) return;
    try {
      verifyLimitControllerOptions(controllerOptions(limits));
    } catch (err) {
      const [field, ...rest] = (err as Error).message.split(': ');
      ctx.addIssue({ code: 'custom', path: ['controller', field], message: rest.join(': ') || (err as Error).message });
    }
  });

/** The LimitController options a `limits` block stands for. */
export function controllerOptions(limits: { min: number; max: number; initial: number; controller: Partial<Record<string, number>> }) {
  const probeLimit = Math.min(limits.max, Math.max(limits.min, defaultLimitControllerOptions.probeLimit));
  return { ...defaultLimitControllerOptions, probeLimit, ...limits.controller, minLimit: limits.min, maxLimit: limits.max, initialLimit: limits.initial };
}

const queueSchema = z.strictObject({
  maxQueue: z.number().int().min(0).default(backEndDefaults.queue.maxQueue),
  queueTimeoutMs: positiveMs.default(backEndDefaults.queue.queueTimeoutMs),
});

const healthSchema = z.strictObject({
  path: z.string().startsWith('/', 'must start with "/"').max(2048).default(backEndDefaults.health.path),
  intervalMs: positiveMs.default(backEndDefaults.health.intervalMs),
  timeoutMs: positiveMs.default(backEndDefaults.health.timeoutMs),
  rise: positiveInt.default(backEndDefaults.health.rise),
  fall: positiveInt.default(backEndDefaults.health.fall),
  passiveFailures: positiveInt.default(backEndDefaults.health.passiveFailures),
  passiveHoldMs: ms.max(60_000).default(backEndDefaults.health.passiveHoldMs),
  silenceMs: positiveMs.default(backEndDefaults.health.silenceMs),
  slowStartMs: ms.default(backEndDefaults.health.slowStartMs),
});

const poolSchema = z.strictObject({
  idleTimeoutMs: positiveMs.default(backEndDefaults.pool.idleTimeoutMs),
  connectTimeoutMs: positiveMs.default(backEndDefaults.pool.connectTimeoutMs),
  responseTimeoutMs: positiveMs.default(backEndDefaults.pool.responseTimeoutMs),
  bodyTimeoutMs: ms.default(backEndDefaults.pool.bodyTimeoutMs),
  connectRetries: z.number().int().min(0).max(16).default(backEndDefaults.pool.connectRetries),
  stallTimeoutMs: ms.default(backEndDefaults.pool.stallTimeoutMs),
  minUploadBytesPerS: z.number().int().min(0).default(backEndDefaults.pool.minUploadBytesPerS),
  uploadWindowMs: positiveMs.default(backEndDefaults.pool.uploadWindowMs),
});

/** The live part: what `update(state)` replaces and a manager pushes. */
export const backEndStateSchema = z
  .strictObject({
    sites: z.record(siteName, siteSchema).default({}),
    limits: limitsSchema.prefault({}),
    queue: queueSchema.prefault({}),
    health: healthSchema.prefault({}),
    pool: poolSchema.prefault({}),
    /**
     * This back-end's share of each budgeted origin's `maxConcurrency`, by origin URL, as the manager split
     * it (0: wait for a share). An origin with a budget but no share here keeps within its whole budget.
     */
    originShares: z.record(z.string().max(2048), z.number().int().min(0).max(65_535)).optional(),
    /** Blender weight per priority ring 0..4 for response bytes, bytes per round per ready stream. */
    rings: ringsStateSchema.optional(),
  })
  .superRefine((state, ctx) => {
    const names = Object.keys(state.sites);
    if (names.length > backEndLimits.maxSites) ctx.addIssue({ code: 'custom', path: ['sites'], message: `at most ${backEndLimits.maxSites} sites` });
    // One id, one URL: sites share an origin's limit, pool and health by its id.
    const urlOf = new Map<string, string>();
    for (const name of names) {
      const site = state.sites[name];
      const lists = [{ origins: site.origins, path: ['sites', name, 'origins'] }, ...site.routes.map((route, index) => ({ origins: route.origins, path: ['sites', name, 'routes', index, 'origins'] }))];
      for (const { origins, path } of lists) {
        origins.forEach((origin, index) => {
          const known = urlOf.get(origin.id);
          if (known !== undefined && known !== origin.url) ctx.addIssue({ code: 'custom', path: [...path, index, 'id'], message: `origin "${origin.id}" is already ${known}` });
          urlOf.set(origin.id, origin.url);
        });
      }
    }
    if (urlOf.size > backEndLimits.maxOrigins) ctx.addIssue({ code: 'custom', path: ['sites'], message: `at most ${backEndLimits.maxOrigins} distinct origins` });
  });

export const backEndConfigSchema = z.strictObject({
  /** This back-end's gateway id: told to front-ends in the handshake, sent as `x-overlay-backend`. */
  id: gatewayId,
  tunnel: z.strictObject({
    /** Where front-ends connect. */
    listen: hostPort,
    /** Pre-shared keys accepted (several during a rotation); use `${ENV}` in files. */
    keys: z.array(z.string().min(16, 'must be at least 16 characters')).min(1).max(8),
    /** Serve the tunnel over TLS: PEM file paths (relative to the config file); `ca` asks front-ends for a certificate it signed (mutual TLS). */
    tls: z.strictObject({ cert: z.string().min(1), key: z.string().min(1), ca: z.string().min(1).optional() }).optional(),
  }),
  /** One JSON line per stream at info level (docs/operations.md "Access logs"). */
  accessLog: accessLogSchema.prefault({}),
  /** Public addresses, when they differ from the bound ones (NAT, a load balancer): what the manager tells front-ends to dial. */
  advertise: z.strictObject({ tunnel: advertisedAddressSchema.optional() }).default({}),
  /** /metrics and /healthz. */
  admin: hostPort,
  /** Bearer token for POST /reload on the admin address; without one it is open, as /metrics is. `${ENV}`. */
  adminToken: z.string().min(16, 'must be at least 16 characters').optional(),
  drainTimeoutMs: ms.default(backEndDefaults.drainTimeoutMs),
  state: backEndStateSchema.prefault({}),
  /** Follow a manager: its pushes update `state`, part by part (docs/manager.md). `${ENV}` for the token. */
  manager: managerLinkSchema.optional(),
}).superRefine((config, ctx) => {
  if (config.manager && !config.advertise?.tunnel && bindsEveryAddress(config.tunnel?.listen ?? '')) {
    ctx.addIssue({ code: 'custom', path: ['advertise', 'tunnel'], message: `required: tunnel.listen ${config.tunnel.listen} binds every address, so give the host:port front-ends dial` });
  }
});

export type BackEndConfig = z.output<typeof backEndConfigSchema>;
export type BackEndConfigInput = z.input<typeof backEndConfigSchema>;
export type BackEndState = z.output<typeof backEndStateSchema>;
export type BackEndStateInput = z.input<typeof backEndStateSchema>;
export type SiteConfig = z.output<typeof siteSchema>;
export type OriginConfig = SiteConfig['origins'][number];
export type LimitsConfig = BackEndState['limits'];
export type QueueConfig = BackEndState['queue'];
export type HealthConfig = BackEndState['health'];
export type PoolConfig = BackEndState['pool'];

/** Validates a whole config (for callers that build one in code); throws ConfigError naming the field. */
export function parseBackEndConfig(value: unknown): BackEndConfig {
  return validate(backEndConfigSchema, value);
}

/** Validates a live state (what a manager pushes); throws ConfigError naming the field. */
export function parseBackEndState(value: unknown): BackEndState {
  return validate(backEndStateSchema, value);
}

/** Reads a YAML or JSON back-end config, expanding `${ENV}`; TLS paths resolve against the file's folder. */
export async function loadBackEndConfig(file: string): Promise<BackEndConfig> {
  const config = await loadConfigFile(file, backEndConfigSchema);
  const tls = config.tunnel.tls;
  if (!tls) return config;
  const base = dirname(resolve(file));
  const at = (path: string) => resolve(base, path);
  return { ...config, tunnel: { ...config.tunnel, tls: { cert: at(tls.cert), key: at(tls.key), ...(tls.ca ? { ca: at(tls.ca) } : {}) } } };
}
