import { isIP } from 'node:net';
import {
  accessLogSchema, advertisedAddressSchema, ringsStateSchema, bindsEveryAddress, domainSchema as domain, gatewayIdSchema as gatewayId, hostPortSchema as hostPort, loadConfigFile, managerLinkSchema, parseHostPort, siteNameSchema,
} from '@overlay/common';
import { priorityRulesSchema } from '@overlay/classifier';
import { z } from 'zod';
import { defaultBackEndRoute, defaultCacheSettings, defaultHttpListenerOptions } from './options.js';
import { defaultTlsSettings } from './tls.js';

const positiveInt = z.number().int().positive();

/**
 * TLS of a tunnel as the front-end dials it. PEM texts or file paths: `ca` checks the back-end's certificate
 * (default: the system's CAs), `servername` is the name it must carry (default: the dialled host), and
 * `cert` with `key` is this front-end's own certificate for back-ends that ask for one (mutual TLS).
 */
export const tunnelTlsSchema = z
  .strictObject({
    ca: z.string().min(1).optional(),
    servername: z.string().min(1).optional(),
    cert: z.string().min(1).optional(),
    key: z.string().min(1).optional(),
  })
  .refine((tls) => (tls.cert === undefined) === (tls.key === undefined), { path: ['cert'], message: 'cert and key go together' });

export const backEndStateSchema = z.strictObject({
  /** The back-end's tunnel address. */
  tunnel: hostPort,
  /** Pre-shared tunnel key; `${ENV}` in a config file. */
  key: z.string().min(16, 'must be at least 16 characters'),
  /** Connect over TLS: `ca` is a PEM text or a file path; `servername` the name in the back-end's certificate. */
  tls: tunnelTlsSchema.optional(),
  /** In-flight requests on this route before it counts as full (seed 001's high-water mark). */
  highWater: positiveInt.default(defaultBackEndRoute.highWater),
});

/** PEM text, or (in a config file) the path of a PEM file, for each part; leaf first, then its chain. */
export const certificateSchema = z.strictObject({
  cert: z.string().min(1).max(256 * 1024),
  key: z.string().min(1).max(64 * 1024),
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
    /** TCP sites only: the idle check's window, ms (options.ts TcpSiteOptions). */
    idleTimeoutMs: positiveInt.optional(),
    /** TCP sites only: least average rate per idle window, bytes/s, both directions together; 0: off. */
    minBytesPerS: z.number().min(0).finite().optional(),
    /** The site's own TLS certificate, served on the HTTPS listener for its domains (SNI). */
    certificate: certificateSchema.optional(),
  })
  .superRefine((site, ctx) => {
    if (site.mode === 'tcp' && site.listen === undefined) ctx.addIssue({ code: 'custom', path: ['listen'], message: 'a tcp site needs a listen address' });
    if (site.mode === 'http' && site.listen !== undefined) ctx.addIssue({ code: 'custom', path: ['listen'], message: 'only tcp sites have their own listener' });
    for (const key of ['idleTimeoutMs', 'minBytesPerS'] as const) {
      if (site.mode === 'http' && site[key] !== undefined) ctx.addIssue({ code: 'custom', path: [key], message: 'only tcp sites have an idle deadline (HTTP sites use the http listener timeouts)' });
    }
    if (site.mode === 'tcp' && site.certificate !== undefined) ctx.addIssue({ code: 'custom', path: ['certificate'], message: 'tcp sites are carried as raw bytes: no certificate' });
  });

/** Ring weights, packet size and per-ring features, as the manager pushes them (`PUT /v1/rings`). */
export const ringsSchema = ringsStateSchema;

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
    /** One listener for every HTTP site (HTTP/1.1, and h2c with prior knowledge); the Host header picks the site. */
    listen: hostPort,
    /** Connections come from an L4 balancer that sends a PROXY v1/v2 header first (required then). */
    proxyProtocol: z.boolean().default(false),
    /** Streams one HTTP/2 connection may have open at once. */
    maxConcurrentStreams: positiveInt.max(1024).default(defaultHttpListenerOptions.maxConcurrentStreams),
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
    /** Past the threshold, newcomers from a source holding less than its fair share of the queue are still admitted. */
    sourceFairness: z.boolean().optional(),
    /**
     * How a TCP-mode site turns a new connection away (HTTP sites always answer 503 + Retry-After):
     * `close` ends it (FIN) once accepted, `reset` refuses it with a TCP reset (RST, seed 000's refusal),
     * which clients see as "connection reset" and may retry elsewhere at once.
     */
    tcpRefusal: z.enum(['close', 'reset']).default('close'),
  })
  .refine((a) => a.threshold === undefined || a.maxQueued === undefined || a.maxQueued >= a.threshold, { path: ['maxQueued'], message: 'must be at least threshold' });

/** The HTTPS listener: TLS with SNI and ALPN (h2, http/1.1); timeouts and limits are `http`'s. */
const httpsSchema = z.strictObject({
  listen: hostPort,
  proxyProtocol: z.boolean().default(false),
  /** Certificates for every site without its own; the first is served to clients that send no (or an unknown) name. */
  certificates: z.array(certificateSchema).max(1024).default([]),
  minVersion: z.enum(['TLSv1.2', 'TLSv1.3']).default(defaultTlsSettings.minVersion),
  /** Lifetime of a session ticket (resumption), seconds. */
  sessionTimeoutS: positiveInt.max(7 * 24 * 3600).default(defaultTlsSettings.sessionTimeoutS),
});

export const frontEndConfigSchema = z.strictObject({
  /** This front-end's gateway id: `x-overlay-frontend`, `Via`, the tunnel handshake. */
  id: gatewayId,
  /** The POP it stands in (reported, used by managers and the redirector). */
  pop: z.string().min(1).max(128).optional(),
  http: httpSchema,
  https: httpsSchema.optional(),
  /** /metrics and /healthz. */
  admin: hostPort,
  /** Bearer token for POST /reload on the admin address; without one it is open, as /metrics is. `${ENV}`. */
  adminToken: z.string().min(16, 'must be at least 16 characters').optional(),
  /** Processes serving the listeners; 1 runs everything in this process (seed 004: several on one port). */
  workers: z.number().int().min(1).max(64).default(1),
  cache: cacheSchema.default(() => cacheSchema.parse({})),
  admission: admissionSchema.prefault({}),
  state: frontEndStateSchema.default(() => frontEndStateSchema.parse({})),
  /**
   * Follow a manager: its pushed state replaces `state` (docs/manager.md). The tunnel key is this
   * front-end's own: the manager never carries secrets. Use `${ENV}` for both secrets.
   */
  manager: managerLinkSchema
    .extend({
      tunnelKey: z.string().min(16, 'must be at least 16 characters'),
      /** TLS for tunnels to the back-ends that register a TLS tunnel (the others are dialled in plain TCP). */
      tunnelTls: tunnelTlsSchema.optional(),
    })
    .optional(),
  /** One JSON line per request at info level (docs/operations.md "Access logs"). */
  accessLog: accessLogSchema.prefault({}),
  /** Public addresses, when they differ from the bound ones (NAT, a load balancer): what the manager and DNS answers give out. */
  advertise: z.strictObject({ http: advertisedAddressSchema.refine(hasIpHost, 'DNS answers need an IP address here, not a name').optional() }).default({}),
}).superRefine((config, ctx) => {
  if (config.manager && !config.advertise?.http && bindsEveryAddress(config.http?.listen ?? '')) {
    ctx.addIssue({ code: 'custom', path: ['advertise', 'http'], message: `required: http.listen ${config.http.listen} binds every address, so give the IP:port clients reach` });
  }
});

function hasIpHost(value: string): boolean {
  try {
    return isIP(parseHostPort(value).host) !== 0;
  } catch {
    return true; // not host:port at all: that problem is reported by the address check
  }
}

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
