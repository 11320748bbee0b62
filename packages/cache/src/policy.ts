import { fieldValue, parseCacheControl, type HeaderMap } from './headers.js';
import { freshnessLifetimeMs } from './freshness.js';

export interface CacheRequest {
  method: string;
  /** Path and query as the client sent them; with the Host field this is the cache key. */
  url: string;
  headers: HeaderMap;
}

export interface CacheResponse {
  status: number;
  headers: HeaderMap;
}

/** Status codes this cache stores (the RFC 9110 heuristically cacheable set, minus 206 and 501). */
export const STORABLE_STATUSES: ReadonlySet<number> = new Set([200, 203, 204, 300, 301, 404, 410]);

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE']);

/**
 * Why this request must go to the origin without the cache being consulted, or undefined.
 * Requests carrying Authorization bypass the cache although RFC 9111 would let a shared cache answer
 * them: an origin that forgets `Vary: Authorization` must not see a signed-in user served the page
 * stored for anonymous ones (Varnish and most CDNs do the same).
 */
export function bypassReason(request: CacheRequest): string | undefined {
  if (request.method !== 'GET' && request.method !== 'HEAD') return 'method';
  if (parseCacheControl(fieldValue(request.headers, 'cache-control')).has('no-store')) return 'request no-store';
  if (fieldValue(request.headers, 'authorization') !== undefined) return 'authorization';
  return undefined;
}

/**
 * Why this response must not be stored, or undefined when it may be (RFC 9111 §3, the subset in
 * docs/front-end-http.md). Call it on the response head, before collecting a body. `now` is when the
 * response arrived (wall clock, ms).
 */
export function unstorableReason(
  request: CacheRequest, response: CacheResponse, maxObjectBytes: number, now: number,
): string | undefined {
  if (request.method !== 'GET') return 'method';
  const requestDirectives = parseCacheControl(fieldValue(request.headers, 'cache-control'));
  if (requestDirectives.has('no-store')) return 'request no-store';
  if (!STORABLE_STATUSES.has(response.status)) return 'status';
  const directives = parseCacheControl(fieldValue(response.headers, 'cache-control'));
  if (directives.has('no-store')) return 'no-store';
  if (directives.has('private')) return 'private';
  if (fieldValue(request.headers, 'authorization') !== undefined &&
      !directives.has('public') && !directives.has('s-maxage') && !directives.has('must-revalidate')) {
    return 'authorization';
  }
  if (response.headers['set-cookie'] !== undefined) return 'set-cookie';
  if (varyNames(response.headers) === '*') return 'vary *';
  const declaredLength = Number(fieldValue(response.headers, 'content-length') ?? 0);
  if (declaredLength > maxObjectBytes) return 'too large';
  // Without a validator an entry is only useful while fresh; one that never is would just take space.
  const everFresh = !directives.has('no-cache') && freshnessLifetimeMs(response.headers, now) > 0;
  if (!everFresh && !hasValidator(response.headers)) return 'never fresh and no validator';
  return undefined;
}

/** Whether a response to this request should drop the stored responses for its URL (RFC 9111 §4.4). */
export function invalidates(request: CacheRequest, status: number): boolean {
  return !SAFE_METHODS.has(request.method) && status >= 200 && status < 400;
}

export function hasValidator(headers: HeaderMap): boolean {
  return fieldValue(headers, 'etag') !== undefined || fieldValue(headers, 'last-modified') !== undefined;
}

/** The request fields a response varies on, lower-case, or '*' when it varies on everything. */
export function varyNames(headers: HeaderMap): readonly string[] | '*' {
  const value = fieldValue(headers, 'vary');
  if (value === undefined) return [];
  const names = value.split(',').map((name) => name.trim().toLowerCase()).filter((name) => name !== '');
  return names.includes('*') ? '*' : [...new Set(names)];
}

/** A request field as compared for Vary: repeated lines joined, blanks around commas removed; null when absent. */
export function varyValue(headers: HeaderMap, name: string): string | null {
  const value = fieldValue(headers, name);
  return value === undefined ? null : value.trim().replace(/\s*,\s*/g, ',');
}
