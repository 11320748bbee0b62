import { loadConfigFile, managerLinkSchema, parseHostPort } from '@overlay/common';
import ipaddr from 'ipaddr.js';
import { z } from 'zod';
import { isAtOrBelow, nameProblem, normalizeName } from './names.js';

/** Every default of the redirector, with its unit. Schemas below and docs/redirector.md quote these. */
export const redirectorDefaults = Object.freeze({
  /** TTL of A/AAAA answers for site names, seconds: short, so a health change reaches clients quickly. */
  answerTtl: 20,
  /** Front-ends named in one A/AAAA answer (each contributes its addresses of the asked family). */
  answerCount: 1,
  /** A front-end whose load (0..1) is at or above this is skipped while any healthy one is below it. */
  overloadThreshold: 0.9,
  /** TTL of SOA, NS and glue records, seconds. */
  zoneTtl: 3600,
  soa: { serial: 1, refresh: 3600, retry: 600, expire: 86_400, minimum: 60 },
  /** Largest UDP response we send whatever the client offers, bytes (DNS Flag Day 2020 value). */
  udpPayloadCap: 1232,
  /**
   * UDP socket receive buffer asked of the kernel, bytes: room for bursts of queries while a pass of the
   * event loop runs. The kernel's default (about 208 KiB) holds about 190 queries; net.core.rmem_max caps it.
   */
  udpReceiveBufferBytes: 4 * 1024 * 1024,
  tcp: {
    /** A TCP connection with no query for this long is closed, ms (RFC 7766 §6.2.3 suggests seconds). */
    idleTimeoutMs: 10_000,
    /** Open TCP connections at once; more are refused at accept. */
    maxConnections: 256,
  },
  rateLimit: {
    enabled: true,
    /** Sustained UDP responses per second to one client network (/24 IPv4, /56 IPv6). */
    responsesPerSecond: 50,
    /** Responses a client network may receive in a burst above the sustained rate. */
    burst: 100,
    /** Every `slip`-th limited query gets a tiny truncated answer (TC) so real clients retry over TCP; 0 = drop all. */
    slip: 2,
    /** Client networks tracked at once; the least recently seen is forgotten first. */
    maxTrackedNetworks: 100_000,
    /** Sources never limited: loopback, so local tests and the demo are unaffected. */
    exempt: ['127.0.0.0/8', '::1/128'],
  },
  /** Memo sizes, entries per generation (each memo holds at most twice this; see bounded-cache.ts). */
  caches: {
    /** Encoded answers per state: by question, and again by question and client network. */
    answers: 10_000,
    /** Packet source address text → parsed location, and → rate-limit network. */
    sourceAddresses: 10_000,
  },
  /** Address the DNS and admin listeners bind when a config names only a port. */
  host: '127.0.0.1',
});

const domainName = z
  .string()
  .transform(normalizeName)
  .superRefine((name, ctx) => {
    const problem = nameProblem(name);
    if (problem) ctx.addIssue({ code: 'custom', message: `domain name ${problem}` });
  });

const ipAddress = z
  .string()
  .refine((text) => ipaddr.IPv4.isValidFourPartDecimal(text) || ipaddr.IPv6.isValid(text), 'must be an IPv4 or IPv6 address')
  .transform((text) => ipaddr.process(text).toString());

const cidr = z.string().refine((text) => ipaddr.isValidCIDR(text), 'must be a CIDR block like 10.1.0.0/16');
const seconds = z.number().int().min(0).max(2_147_483_647);
const uint32 = z.number().int().min(0).max(0xffff_ffff);

export const zoneSchema = z.object({
  /** Name servers of the zone; `addresses` become glue when the name lies inside the zone. */
  ns: z.array(z.object({ name: domainName, addresses: z.array(ipAddress).default([]) })).min(1),
  soa: z
    .object({
      /** Primary name server; the first NS name when omitted. */
      mname: domainName.optional(),
      /** Responsible mailbox as a name; `hostmaster.<apex>` when omitted. */
      rname: domainName.optional(),
      serial: uint32.default(redirectorDefaults.soa.serial),
      refresh: seconds.default(redirectorDefaults.soa.refresh),
      retry: seconds.default(redirectorDefaults.soa.retry),
      expire: seconds.default(redirectorDefaults.soa.expire),
      /** Negative-caching TTL, seconds (RFC 2308). */
      minimum: seconds.default(redirectorDefaults.soa.minimum),
    })
    .default({
      serial: redirectorDefaults.soa.serial,
      refresh: redirectorDefaults.soa.refresh,
      retry: redirectorDefaults.soa.retry,
      expire: redirectorDefaults.soa.expire,
      minimum: redirectorDefaults.soa.minimum,
    }),
  /** TTL of SOA, NS and glue records, seconds. */
  ttl: seconds.default(redirectorDefaults.zoneTtl),
});

export const siteSchema = z.object({
  domains: z.array(domainName).min(1),
  /** Assigned front-end ids; ids not (yet) in `frontEnds` are ignored. */
  frontEnds: z.array(z.string().min(1)).default([]),
});

export const frontEndSchema = z.object({
  addresses: z.array(ipAddress).min(1),
  healthy: z.boolean().default(true),
  load: z.number().min(0).max(1).default(0),
  pop: z.string().min(1),
});

/** What the managers feed in (`redirector.update(state)`) and what a config file holds besides listeners. */
export const redirectorStateShape = {
  /** Zone apex → zone. */
  zones: z.record(domainName, zoneSchema),
  /** Site name → its domain names and assigned front-ends. */
  sites: z.record(z.string().min(1), siteSchema).default({}),
  /** Front-end id → addresses, health, load, POP. */
  frontEnds: z.record(z.string().min(1), frontEndSchema).default({}),
  /** Client CIDR → POPs in order of preference; the longest matching prefix wins. */
  popPreferences: z.record(cidr, z.array(z.string().min(1)).min(1)).default({}),
  answerTtl: seconds.default(redirectorDefaults.answerTtl),
  answerCount: z.number().int().min(1).max(64).default(redirectorDefaults.answerCount),
  overloadThreshold: z.number().gt(0).max(1).default(redirectorDefaults.overloadThreshold),
};

type StateFields = z.output<z.ZodObject<typeof redirectorStateShape>>;

/** Facts that span fields: every site name lies in a zone, and no name is claimed twice. */
function checkStateConsistency(state: StateFields, ctx: z.core.$RefinementCtx<StateFields>): void {
  const apexes = Object.keys(state.zones);
  const owner = new Map<string, string>();
  for (const [apex, zone] of Object.entries(state.zones)) {
    for (const ns of zone.ns) if (isAtOrBelow(ns.name, apex)) owner.set(ns.name, `name server of ${apex}`);
  }
  for (const [siteName, site] of Object.entries(state.sites)) {
    site.domains.forEach((domain, index) => {
      const path = ['sites', siteName, 'domains', index];
      if (!apexes.some((apex) => isAtOrBelow(domain, apex))) {
        ctx.addIssue({ code: 'custom', path, message: `${domain} is outside every zone` });
      }
      const previous = owner.get(domain);
      if (previous) ctx.addIssue({ code: 'custom', path, message: `${domain} is already the ${previous}` });
      owner.set(domain, `name of site ${siteName}`);
    });
  }
}

export const redirectorStateSchema = z.object(redirectorStateShape).superRefine(checkStateConsistency);

/** `"host:port"` read as `{host, port}`; anything else is left for the object schema to judge. */
function hostPortObject(value: unknown): unknown {
  if (typeof value !== 'string') return value;
  try {
    return parseHostPort(value);
  } catch {
    return value;
  }
}

/** Where a listener binds: `"host:port"` as in every other role's config, or `{host, port}`. */
const listenerSchema = z.preprocess(
  hostPortObject,
  z.strictObject(
    {
      host: z.string().min(1).default(redirectorDefaults.host),
      port: z.number().int().min(0).max(65_535),
    },
    { error: 'must be "host:port" (e.g. 127.0.0.1:5353) or {host, port}' },
  ),
);

export const rateLimitSchema = z.strictObject({
  enabled: z.boolean().default(redirectorDefaults.rateLimit.enabled),
  responsesPerSecond: z.number().positive().default(redirectorDefaults.rateLimit.responsesPerSecond),
  burst: z.number().min(1).default(redirectorDefaults.rateLimit.burst),
  slip: z.number().int().min(0).default(redirectorDefaults.rateLimit.slip),
  maxTrackedNetworks: z.number().int().min(1).default(redirectorDefaults.rateLimit.maxTrackedNetworks),
  exempt: z.array(cidr).default([...redirectorDefaults.rateLimit.exempt]),
});

/** A redirector config file: listeners, limits, and the initial state (the managers' feed replaces it). */
export const redirectorConfigSchema = z
  .strictObject({
    id: z.string().min(1).default('redirector'),
    /** UDP and TCP on the same host and port; port 0 picks a free one. */
    listen: listenerSchema,
    /** GET /metrics and GET /healthz. */
    admin: listenerSchema.optional(),
    /** Bearer token for POST /reload on the admin address; without one it is open, as /metrics is. `${ENV}`. */
    adminToken: z.string().min(16, 'must be at least 16 characters').optional(),
    rateLimit: rateLimitSchema.default(rateLimitSchema.parse({})),
    udpPayloadCap: z.number().int().min(512).max(4096).default(redirectorDefaults.udpPayloadCap),
    udpReceiveBufferBytes: z.number().int().min(64 * 1024).max(1024 * 1024 * 1024).default(redirectorDefaults.udpReceiveBufferBytes),
    tcp: z
      .strictObject({
        idleTimeoutMs: z.number().int().min(1).default(redirectorDefaults.tcp.idleTimeoutMs),
        maxConnections: z.number().int().min(1).default(redirectorDefaults.tcp.maxConnections),
      })
      .default({ ...redirectorDefaults.tcp }),
    /** Follow a manager: sites, assignments and front-end health come from its feed (docs/manager.md). */
    manager: managerLinkSchema.optional(),
    ...redirectorStateShape,
  })
  .superRefine(checkStateConsistency);

export type RedirectorState = z.output<typeof redirectorStateSchema>;
/** The state as a caller may write it: defaults may be left out. */
export type RedirectorStateInput = z.input<typeof redirectorStateSchema>;
export type RedirectorConfig = z.output<typeof redirectorConfigSchema>;
export type RedirectorConfigInput = z.input<typeof redirectorConfigSchema>;
export type RateLimitOptions = z.output<typeof rateLimitSchema>;
export type ZoneConfig = z.output<typeof zoneSchema>;
export type FrontEndConfig = z.output<typeof frontEndSchema>;

/** Reads a YAML/JSON redirector config; a bad file fails with one message naming file and field. */
export function loadRedirectorConfig(file: string): Promise<RedirectorConfig> {
  return loadConfigFile(file, redirectorConfigSchema);
}
