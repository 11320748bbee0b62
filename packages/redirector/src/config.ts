import { loadConfigFile, managerLinkSchema, parseHostPort } from '@overlay/common';
import ipaddr from 'ipaddr.js';
import { z } from 'zod';
import { isAtOrBelow, nameProblem, normalizeName } from './names.js';
import { parseRecordData, RecordDataError, recordTypeCode } from './record-data.js';

/** Every default of the redirector, with its unit. Schemas below and docs/redirector.md quote these. */
export const redirectorDefaults = Object.freeze({
  /** TTL of A/AAAA answers for site names, seconds: short, so a health change reaches clients quickly. */
  answerTtl: 20,
  /** Front-ends named in one A/AAAA answer (each contributes its addresses of the asked family). */
  answerCount: 1,
  /** A front-end whose load (0..1) is at or above this is skipped while any healthy one is below it. */
  overloadThreshold: 0.9,
  /** TTL of SOA, NS, glue and static records, seconds. */
  zoneTtl: 3600,
  /** DNSSEC signatures are valid this long from signing, and made an hour before it (clock skew), seconds. */
  signatureValiditySeconds: 7 * 86_400,
  soa: { serial: 1, refresh: 3600, retry: 600, expire: 86_400, minimum: 60 },
  /** Largest UDP response we send whatever the client offers, bytes (DNS Flag Day 2020 value). */
  udpPayloadCap: 1232,
  /**
   * UDP socket receive buffer asked of the kernel, bytes: room for bursts of queries while a pass of the
   * event loop runs. The kernel's default (about 208 KiB) holds about 190 queries; net.core.rmem_max caps it.
   */
  udpReceiveBufferBytes: 4 * 1024 * 1024,
  /**
   * UDP in batches (recvmmsg/sendmmsg through the addon `pnpm build` compiles; batched-udp.ts) where it is
   * built and the redirector runs in one process; node:dgram otherwise (and in workers, which share dgram sockets).
   */
  udpBatching: true,
  tcp: {
    /**
     * A TCP connection with no query for this long is closed, ms (RFC 7766 §6.2.3 suggests seconds). The
     * timeout shrinks as the table fills: at `maxConnections` open it is `minIdleTimeoutMs`.
     */
    idleTimeoutMs: 10_000,
    /** The idle timeout when every slot is taken, ms. */
    minIdleTimeoutMs: 500,
    /** A message must arrive whole within this long of its first byte, ms; trickling bytes do not extend it. */
    messageTimeoutMs: 3_000,
    /** Open TCP connections at once; a new one past this closes the idlest open connection. */
    maxConnections: 256,
    /** Open TCP connections from one source address; a new one past this closes that source's idlest. */
    maxConnectionsPerSource: 32,
  },
  rateLimit: {
    enabled: true,
    /**
     * Sustained UDP responses per second in one bucket: one (response kind, name, client network) as
     * NSD's and Knot's RRL key them, so a resolver asking many names spends many buckets.
     */
    responsesPerSecond: 200,
    /** Responses one bucket may give in a burst above the sustained rate. */
    burst: 200,
    /** Every `slip`-th limited query gets a tiny truncated answer (TC) so real clients retry over TCP; 0 = drop all. */
    slip: 2,
    /** Bits of the source address that make one client network (IPv4, IPv6). */
    ipv4PrefixLength: 24,
    ipv6PrefixLength: 56,
    /** Buckets tracked at once (per generation; see bounded-cache.ts). */
    maxTrackedNetworks: 100_000,
    /** Sources never limited (the whitelist): loopback, so local tools and the demo are unaffected. */
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

/** The label under a site name where its assigned back-ends are answered. */
export const BACKEND_LABEL = '_backend';

export const staticRecordSchema = z
  .object({
    /** Owner: `@` for the apex, a name at or below the apex as is, anything else relative to the apex. */
    name: z.string().min(1),
    /** A, AAAA, CNAME, MX, TXT, SRV, CAA, NS, ... or TYPEnnn. */
    type: z.string().min(1),
    /** Presentation form as in a zone file, e.g. `10 mail.example.com.`; `\\# len hex` for any type. */
    data: z.string(),
    /** Seconds; the zone's `ttl` when omitted. */
    ttl: seconds.optional(),
  })
  .transform((record, ctx) => {
    try {
      const code = recordTypeCode(record.type);
      return { ...record, type: record.type.trim().toUpperCase(), code, rdata: parseRecordData(code, record.data) };
    } catch (err) {
      if (!(err instanceof RecordDataError)) throw err;
      ctx.addIssue({ code: 'custom', message: `${record.type} ${JSON.stringify(record.data)}: ${err.message}` });
      return z.NEVER;
    }
  });

export const dnssecSchema = z.strictObject({
  /** PEM file with the zone's ECDSA P-256 private key (PKCS#8 or SEC1), the one key signing everything. */
  keyFile: z.string().min(1),
  /** Signatures are valid this long, seconds (re-signed well before: see docs/redirector.md "DNSSEC"). */
  signatureValiditySeconds: z.number().int().min(3600).default(redirectorDefaults.signatureValiditySeconds),
});

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
  /** TTL of SOA, NS, glue and static records, seconds. */
  ttl: seconds.default(redirectorDefaults.zoneTtl),
  /** Static records at the apex and below, beside the steered site names (docs/redirector.md "Static records"). */
  records: z.array(staticRecordSchema).default([]),
  /** Sign every answer online (ECDSA P-256) and deny with compact NSEC (RFC 9824). */
  dnssec: dnssecSchema.optional(),
});

export const siteSchema = z.object({
  domains: z.array(domainName).min(1),
  /** Assigned front-end ids; ids not (yet) in `frontEnds` are ignored. */
  frontEnds: z.array(z.string().min(1)).default([]),
  /**
   * The back-ends the managers assigned, answered at `_backend.<domain>` (TXT `id=… tunnel=host:port`,
   * and A/AAAA of the tunnel host when it is an address), so a site can look its back-end up in DNS.
   */
  backEnds: z.array(z.object({ id: z.string().min(1), tunnel: z.string().optional() })).default([]),
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
  /** TTL of negative answers (NXDOMAIN, NODATA), seconds, capped by the SOA minimum; `answerTtl` when omitted. */
  negativeTtl: seconds.optional(),
  answerCount: z.number().int().min(1).max(64).default(redirectorDefaults.answerCount),
  overloadThreshold: z.number().gt(0).max(1).default(redirectorDefaults.overloadThreshold),
};

type StateFields = z.output<z.ZodObject<typeof redirectorStateShape>>;

/** The owner name a static record means: `@` is the apex, a name at or below it stays, others are relative. */
export function recordOwner(name: string, apex: string): string {
  const normalized = normalizeName(name);
  if (normalized === '@') return apex;
  return isAtOrBelow(normalized, apex) ? normalized : `${normalized}.${apex}`;
}

/** RFC 1034 §3.6.2 and RFC 2181 §10.1: a CNAME owner has no other data, so never the apex (SOA, NS live there). */
function checkRecords(apex: string, zone: StateFields['zones'][string], ctx: z.core.$RefinementCtx<StateFields>): Map<string, Set<string>> {
  const types = new Map<string, Set<string>>();
  zone.records.forEach((record, index) => {
    const owner = recordOwner(record.name, apex);
    const path = ['zones', apex, 'records', index];
    const problem = nameProblem(owner);
    if (problem) ctx.addIssue({ code: 'custom', path: [...path, 'name'], message: `owner ${owner} ${problem}` });
    if (owner === apex && (record.type === 'CNAME' || record.type === 'NS' || record.type === 'DNAME')) {
      const why = record.type === 'NS' ? 'the apex NS set is zones.*.ns' : 'the apex holds SOA and NS, and a CNAME owner may hold nothing else (RFC 1034 §3.6.2)';
      ctx.addIssue({ code: 'custom', path: [...path, 'type'], message: `no ${record.type} at the apex: ${why}` });
    }
    let set = types.get(owner);
    if (!set) types.set(owner, (set = new Set()));
    set.add(record.type);
  });
  for (const [owner, set] of types) {
    if (set.has('CNAME') && set.size > 1) {
      ctx.addIssue({ code: 'custom', path: ['zones', apex, 'records'], message: `${owner} has a CNAME beside other data (${[...set].join(', ')}); a CNAME stands alone` });
    }
  }
  return types;
}

/** Facts that span fields: every site name lies in a zone, no name is claimed twice, static records are coherent. */
function checkStateConsistency(state: StateFields, ctx: z.core.$RefinementCtx<StateFields>): void {
  const apexes = Object.keys(state.zones);
  const owner = new Map<string, string>();
  const staticTypes = new Map<string, Set<string>>();
  for (const [apex, zone] of Object.entries(state.zones)) {
    for (const ns of zone.ns) if (isAtOrBelow(ns.name, apex)) owner.set(ns.name, `name server of ${apex}`);
    for (const [name, types] of checkRecords(apex, zone, ctx)) staticTypes.set(name, types);
  }
  for (const [siteName, site] of Object.entries(state.sites)) {
    site.domains.forEach((domain, index) => {
      const path = ['sites', siteName, 'domains', index];
      if (!apexes.some((apex) => isAtOrBelow(domain, apex))) {
        ctx.addIssue({ code: 'custom', path, message: `${domain} is outside every zone` });
      }
      const previous = owner.get(domain);
      if (previous) ctx.addIssue({ code: 'custom', path, message: `${domain} is already the ${previous}` });
      if (staticTypes.has(`${BACKEND_LABEL}.${domain}`)) {
        ctx.addIssue({ code: 'custom', path, message: `${BACKEND_LABEL}.${domain} is answered from the back-end assignment; it cannot hold static records` });
      }
      const clash = [...(staticTypes.get(domain) ?? [])].filter((type) => ['A', 'AAAA', 'CNAME', 'NS', 'DNAME'].includes(type));
      if (clash.length) ctx.addIssue({ code: 'custom', path, message: `${domain} is steered, so it cannot also have static ${clash.join(', ')}` });
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
  ipv4PrefixLength: z.number().int().min(1).max(32).default(redirectorDefaults.rateLimit.ipv4PrefixLength),
  ipv6PrefixLength: z.number().int().min(1).max(128).default(redirectorDefaults.rateLimit.ipv6PrefixLength),
  maxTrackedNetworks: z.number().int().min(1).default(redirectorDefaults.rateLimit.maxTrackedNetworks),
  exempt: z.array(cidr).default([...redirectorDefaults.rateLimit.exempt]),
});

/** A redirector config file: listeners, limits, and the initial state (the managers' feed replaces it). */
export const redirectorConfigSchema = z
  .strictObject({
    id: z.string().min(1).default('redirector'),
    /** Processes answering on the same sockets (node:cluster); 1 answers in this process. */
    workers: z.number().int().min(1).max(64).default(1),
    /**
     * UDP and TCP on the same host and port; port 0 picks a free one. A list binds each address on its
     * own socket, so every answer leaves from the address it was asked at (multi-homed hosts, IPv4 + IPv6).
     */
    listen: z.union([listenerSchema, z.array(listenerSchema).min(1)]).transform((value) => (Array.isArray(value) ? value : [value])),
    /** GET /metrics and GET /healthz. */
    admin: listenerSchema.optional(),
    /** Bearer token for POST /reload on the admin address; without one it is open, as /metrics is. `${ENV}`. */
    adminToken: z.string().min(16, 'must be at least 16 characters').optional(),
    rateLimit: rateLimitSchema.default(rateLimitSchema.parse({})),
    udpPayloadCap: z.number().int().min(512).max(4096).default(redirectorDefaults.udpPayloadCap),
    udpReceiveBufferBytes: z.number().int().min(64 * 1024).max(1024 * 1024 * 1024).default(redirectorDefaults.udpReceiveBufferBytes),
    udpBatching: z.boolean().default(redirectorDefaults.udpBatching),
    tcp: z
      .strictObject({
        idleTimeoutMs: z.number().int().min(1).default(redirectorDefaults.tcp.idleTimeoutMs),
        minIdleTimeoutMs: z.number().int().min(1).default(redirectorDefaults.tcp.minIdleTimeoutMs),
        messageTimeoutMs: z.number().int().min(1).default(redirectorDefaults.tcp.messageTimeoutMs),
        maxConnections: z.number().int().min(1).default(redirectorDefaults.tcp.maxConnections),
        maxConnectionsPerSource: z.number().int().min(1).default(redirectorDefaults.tcp.maxConnectionsPerSource),
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
export type StaticRecord = z.output<typeof staticRecordSchema>;
export type TcpOptions = RedirectorConfig['tcp'];
export type ListenAddress = RedirectorConfig['listen'][number];
export type FrontEndConfig = z.output<typeof frontEndSchema>;

/** Reads a YAML/JSON redirector config; a bad file fails with one message naming file and field. */
export function loadRedirectorConfig(file: string): Promise<RedirectorConfig> {
  return loadConfigFile(file, redirectorConfigSchema);
}
