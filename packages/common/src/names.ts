import { z } from 'zod';
import { parseHostPort } from './config.js';

/**
 * Names and addresses every config and the manager API agree on: whatever the manager accepts, the
 * gateways accept too.
 */

function isHostPort(value: string): boolean {
  try {
    parseHostPort(value);
    return true;
  } catch {
    return false;
  }
}

/** `host:port`, IPv6 hosts in brackets. */
export const hostPortSchema = z.string().refine(isHostPort, 'must be host:port, e.g. 127.0.0.1:7000');

/** Whether a host is a bind-everything address (`0.0.0.0`, `::`): fine to listen on, meaningless to dial or answer in DNS. */
export function isWildcardHost(host: string): boolean {
  return host === '0.0.0.0' || /^[0:]+$/.test(host) || host === '::ffff:0.0.0.0';
}

/** A public `host:port` others dial (DNS answers, tunnel dialling, manager registration): never a wildcard. */
export const advertisedAddressSchema = hostPortSchema.refine(
  (value) => !isHostPort(value) || !isWildcardHost(parseHostPort(value).host),
  'a wildcard address cannot be dialled: give the public host:port (the NAT or load balancer address)',
);

/** Whether a `host:port` binds every address, so another address must be published for it. */
export function bindsEveryAddress(listen: string): boolean {
  return isHostPort(listen) && isWildcardHost(parseHostPort(listen).host);
}

/**
 * A gateway id: `x-overlay-frontend`/`-backend`, the tunnel handshake, the manager's registry. Lower-case
 * letters, digits and hyphens only, so no id can name a prototype member (`__proto__`, `toString`);
 * `constructor` is an ordinary id, which is why every map keyed by ids is a Map or checked with `ownValue`.
 */
export const GATEWAY_ID_PATTERN = /^[a-z0-9][a-z0-9-]{0,62}$/;
export const gatewayIdSchema = z.string().regex(GATEWAY_ID_PATTERN, 'gateway ids are lower-case letters, digits and - (at most 63), starting with a letter or digit');

/** A site name: as a gateway id, plus dots between labels (sites are often named after their domain). */
export const SITE_NAME_PATTERN = /^[a-z0-9][a-z0-9-]{0,62}(\.[a-z0-9][a-z0-9-]{0,62})*$/;
export const siteNameSchema = z
  .string()
  .max(253, 'site names are at most 253 characters')
  .regex(SITE_NAME_PATTERN, 'site names are lower-case letters, digits and -, in dot-separated labels of at most 63');

/**
 * `record[key]` when `key` is the record's own entry, else undefined: a lookup by id that an id such as
 * `constructor` cannot turn into a prototype member.
 */
export function ownValue<V>(record: Readonly<Record<string, V>>, key: string): V | undefined {
  return Object.hasOwn(record, key) ? record[key] : undefined;
}

/** A DNS name as clients send it in Host; stored lower-case without a trailing dot. */
export const domainSchema = z
  .string()
  .max(253)
  .regex(/^[A-Za-z0-9]([A-Za-z0-9-]{0,62})(\.[A-Za-z0-9]([A-Za-z0-9-]{0,62}))*\.?$/, 'must be a DNS name such as shop.example.com')
  .transform((name) => name.toLowerCase().replace(/\.$/, ''));

export type SiteMode = 'http' | 'tcp';

/** URL schemes an origin of each site mode may have. */
export const ORIGIN_SCHEMES: Readonly<Record<SiteMode, readonly string[]>> = Object.freeze({ http: ['http:', 'https:'], tcp: ['tcp:'] });

/** Why an origin URL is unusable, or undefined. Origins are scheme://host[:port] with no path, query or credentials. */
export function originUrlProblem(text: string): string | undefined {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return 'must be a URL such as http://10.0.0.5:8080 or tcp://10.0.0.5:5432';
  }
  if (![...ORIGIN_SCHEMES.http, ...ORIGIN_SCHEMES.tcp].includes(url.protocol)) return 'scheme must be http, https or tcp';
  if (!url.hostname) return 'must name a host';
  if (url.protocol === 'tcp:' && !url.port) return 'a tcp origin needs a port';
  if (url.username || url.password) return 'must not carry credentials';
  if ((url.pathname !== '' && url.pathname !== '/') || url.search || url.hash) return 'must not have a path, query or fragment';
  return undefined;
}

/**
 * Where a process finds its manager (a `manager:` section in a config). The token is a secret: `${ENV}`
 * in files, never logged.
 */
const managerUrl = z.url({ protocol: /^https?$/ });
export const managerLinkSchema = z.strictObject({
  /** One manager's base URL, or several replicas': the subscriber moves to the next when its own fails. */
  url: z.union([managerUrl, z.array(managerUrl).min(1).max(16)]),
  token: z.string().min(16, 'must be at least 16 characters'),
  /** For https URLs: the CA that signed the manager's certificate, PEM text or a file path (default: the system's CAs). */
  ca: z.string().min(1).optional(),
});

/** The value of a Host header: a name or address, with an optional port (a site's `originHost`). */
export const hostHeaderSchema = z.string().max(261).regex(/^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+)(:\d{1,5})?$/, 'must be a host name or address with an optional :port');

/**
 * How a site's origins are probed instead of the back-end's gateway-wide `health` settings (seed 003):
 * GET `path`, healthy when the status is one of `expectStatus` (default any 2xx or 3xx), every
 * `intervalMs`, each probe given `timeoutMs`. TCP sites: a connect, so only the times apply.
 */
export const siteHealthCheckSchema = z.strictObject({
  path: z.string().startsWith('/', 'must start with "/"').max(2048).optional(),
  expectStatus: z.array(z.number().int().min(100).max(599)).min(1).max(16).optional(),
  intervalMs: z.number().int().min(100).max(2_147_483_647).optional(),
  timeoutMs: z.number().int().min(1).max(2_147_483_647).optional(),
  /**
   * Seed 001, freshest mirror first: the probe answer's `header` (an HTTP date such as Last-Modified, or a
   * number: a content version, a Unix time) says how fresh each origin is; an origin behind the list's
   * freshest by more than `maxLagS` (default 60) gets work only when no fresh one can take it. HTTP sites.
   */
  freshness: z.strictObject({
    header: z.string().max(64).regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, 'must be an HTTP header name').transform((name) => name.toLowerCase()),
    maxLagS: z.number().min(0).max(31_536_000).optional(),
  }).optional(),
});
