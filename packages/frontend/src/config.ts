import { domainSchema as domain, gatewayIdSchema as gatewayId, hostPortSchema as hostPort, loadConfigFile, managerLinkSchema, siteNameSchema } from '@overlay/common';
import { priorityRulesSchema } from '@overlay/classifier';
import { z } from 'zod';
import { defaultBackEndRoute, defaultCacheSettings, defaultHttpListenerOptions } from './options.js';

const positiveInt = z.number().int().positive();

export const backEndStateSchema = z.strictObject({
  /** The back-end's tunnel address. */
  tunnel: hostPort,
  /** Pre-shared tunnel key; `${ENV}` in a config file. */
  key: z.string().min(16, 'must be at least 16 characters'),
  /** Connect over TLS: `ca` is a PEM text or a file path; `servername` the name in the back-end's certificate. */
  tls: z.strictObject({ ca: z.string().min(1).optional(), servername: z.string().min(1).optional() }).optional(),
  /** In-flight requests on this route before it counts as full (seed 001's high-water mark). */
  highWater: positiveInt.default(defaultBackEndRoute.highWater),
});

export const siteStateSchema = z
  .strictObject({
    domains: z.array(domain).min(1).max(256),
    mode: z.enum(['http', 'tcp']).default('http'),
    /** Back-end ids (keys of `backEnds`) that serve this site; the front-end balances across them. */
    backEnds: z.array(gatewayId).min(1).max(64),
    priorities: priorityRulesSchema.optional(),
    /** TCP sites only: the dedicated listener. */
    listen: hostPort.optional(),
  })
  .superRefine((site, ctx) => {
    if (site.mode === 'tcp' && site.listen === undefined) ctx.addIssue({ code: 'custom', path: ['listen'], message: 'a tcp site needs a listen address' });
    if (site.mode === 'http' && site.listen !== undefined) ctx.addIssue({ code: 'custom', path: ['listen'], message: 'only tcp sites have their own listener' });
  });

export const ringsSchema = z.strictObject({
  /** Blender weight per priority ring 0..4, bytes per round per ready stream. */
  weights: z.array(z.number().positive().finite()).length(5),
});

/** The part a manager replaces live (`update(state)`). */
export const frontEndStateSchema = z
  .strictObject({
    backEnds: z.record(gatewayId, backEndStateSchema).default({}),
    sites: z.record(siteNameSchema, siteStateSchema).default({}),
    rings: ringsSchema.optional(),
  })
  .superRefine((state, ctx) => {
    const owner = new Map<string, string>();
    const listeners = new Map<string, string>();
    for (const [name, site] of Object.entries(state.sites)) {
      site.backEnds.forEach((id, index) => {
        if (!Object.hasOwn(state.backEnds, id)) ctx.addIssue({ code: 'custom', path: ['sites', name, 'backEnds', index], message: `unknown back-end "${id}"` });
      });
      site.domains.forEach((host, index) => {
        const other = owner.get(host);
        if (other !== undefined) ctx.addIssue({ code: 'custom', path: ['sites', name, 'domains', index], message: `"${host}" already belongs to site "${other}"` });
        owner.set(host, name);
      });
      // Port 0 asks for any free port: two of those never collide.
      if (site.listen !== undefined && !site.listen.endsWith(':0')) {
        const other = listeners.get(site.listen);
        if (other !== undefined) ctx.addIssue({ code: 'custom', path: ['sites', name, 'listen'], message: `${site.listen} already used by site "${other}"` });
        listeners.set(site.listen, name);
      }
    }
  });

const httpSchema = z
  .strictObject({
    /** One HTTP/1.1 listener for every HTTP site; the Host header picks the site. */
    listen: hostPort,
    headersTimeoutMs: positiveInt.default(defaultHttpListenerOptions.headersTimeoutMs),
    requestTimeoutMs: z.number().int().min(0).default(defaultHttpListenerOptions.requestTimeoutMs),
    keepAliveTimeoutMs: positiveInt.default(defaultHttpListenerOptions.keepAliveTimeoutMs),
    maxHeaderBytes: z.number().int().min(1024).max(1024 * 1024).default(defaultHttpListenerOptions.maxHeaderBytes),
    maxConnections: positiveInt.default(defaultHttpListenerOptions.maxConnections),
    maxHeadConnections: positiveInt.default(defaultHttpListenerOptions.maxHeadConnections),
    maxHeadConnectionsPerSource: positiveInt.default(defaultHttpListenerOptions.maxHeadConnectionsPerSource),
    replyTimeoutMs: positiveInt.default(defaultHttpListenerOptions.replyTimeoutMs),
    closeGraceMs: z.number().int().min(0).default(defaultHttpListenerOptions.closeGraceMs),
  })
  .refine((http) => http.requestTimeoutMs === 0 || http.requestTimeoutMs >= http.headersTimeoutMs, {
    path: ['requestTimeoutMs'],
    message: 'must be 0 (off) or at least headersTimeoutMs',
  })
  .refine((http) => http.maxHeadConnectionsPerSource <= http.maxHeadConnections, { path: ['maxHeadConnectionsPerSource'], message: 'must not exceed maxHeadConnections' });

const cacheSchema = z
  .strictObject({
    enabled: z.boolean().default(defaultCacheSettings.enabled),
    maxBytes: positiveInt.default(defaultCacheSettings.maxBytes),
    maxObjectBytes: positiveInt.default(defaultCacheSettings.maxObjectBytes),
    maxVariantsPerKey: positiveInt.default(defaultCacheSettings.maxVariantsPerKey),
  })
  .refine((cache) => cache.maxObjectBytes <= cache.maxBytes, { path: ['maxObjectBytes'], message: 'must not exceed maxBytes' });

/** AdmissionGate options (docs/admission.md); omitted fields keep that package's defaults. */
const admissionSchema = z
  .strictObject({
    threshold: positiveInt.optional(),
    reopenRatio: z.number().gt(0).lt(1).optional(),
    maxQueued: positiveInt.optional(),
    minRetryAfterS: positiveInt.optional(),
    maxRetryAfterS: positiveInt.optional(),
  })
  .refine((a) => a.threshold === undefined || a.maxQueued === undefined || a.maxQueued >= a.threshold, { path: ['maxQueued'], message: 'must be at least threshold' });

export const frontEndConfigSchema = z.strictObject({
  /** This front-end's gateway id: `x-overlay-frontend`, `Via`, the tunnel handshake. */
  id: gatewayId,
  /** The POP it stands in (reported, used by managers and the redirector). */
  pop: z.string().min(1).max(128).optional(),
  http: httpSchema,
  /** /metrics and /healthz. */
  admin: hostPort,
  /** Bearer token for POST /reload on the admin address; without one it is open, as /metrics is. `${ENV}`. */
  adminToken: z.string().min(16, 'must be at least 16 characters').optional(),
  /** Processes serving the listeners; 1 runs everything in this process (seed 004: several on one port). */
  workers: z.number().int().min(1).max(64).default(1),
  cache: cacheSchema.default(() => cacheSchema.parse({})),
  admission: admissionSchema.default({}),
  state: frontEndStateSchema.default(() => frontEndStateSchema.parse({})),
  /**
   * Follow a manager: its pushed state replaces `state` (docs/manager.md). The tunnel key is this
   * front-end's own: the manager never carries secrets. Use `${ENV}` for both secrets.
   */
  manager: managerLinkSchema.extend({ tunnelKey: z.string().min(16, 'must be at least 16 characters') }).optional(),
});

export type FrontEndConfig = z.output<typeof frontEndConfigSchema>;
export type FrontEndConfigInput = z.input<typeof frontEndConfigSchema>;
export type FrontEndState = z.output<typeof frontEndStateSchema>;
export type FrontEndStateInput = z.input<typeof frontEndStateSchema>;
export type BackEndState = z.output<typeof backEndStateSchema>;
export type SiteState = z.output<typeof siteStateSchema>;

/** Reads a YAML or JSON front-end config, expanding `${ENV}`; errors name the file and the field. */
export function loadFrontEndConfig(file: string): Promise<FrontEndConfig> {
  return loadConfigFile(file, frontEndConfigSchema);
}
