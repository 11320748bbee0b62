import { BodyCollector } from './collector.js';
import { endToEndHeaders, fieldValue, headerBytes, parseCacheControl, parseDeltaSeconds, type HeaderMap } from './headers.js';
import { freshnessLifetimeMs, initialAgeMs } from './freshness.js';
import { ByteLru } from './lru.js';
import { ENTRY_OVERHEAD_BYTES, defaultCacheOptions, verifyCacheOptions, type CacheOptions } from './options.js';
import {
  bypassReason, hasValidator, invalidates, unstorableReason, varyNames, varyValue,
  type CacheRequest, type CacheResponse,
} from './policy.js';

/** One stored response. Treat as read-only; hand it back to `refresh` after a 304. */
export interface CacheEntry {
  readonly key: string;
  /** Request fields named by the response's Vary, and the values they had on the request that fetched it. */
  readonly varyNames: readonly string[];
  readonly varyValues: readonly (string | null)[];
  readonly status: number;
  /** End-to-end fields only, Content-Length set to the body's length, no Age (added on each hit). */
  readonly headers: Readonly<Record<string, string | string[]>>;
  readonly body: Buffer;
  /** Wall-clock ms when the response arrived. */
  readonly responseTime: number;
  readonly initialAgeMs: number;
  readonly lifetimeMs: number;
  /** Response `no-cache`: never served without asking the origin first. */
  readonly alwaysRevalidate: boolean;
  /** Bytes charged against the budget. */
  readonly size: number;
}

export interface CachedResponse {
  status: number;
  headers: Record<string, string | string[]>;
  /** The stored body; for a HEAD request send the headers only. */
  body: Buffer;
}

export type LookupResult =
  | { status: 'hit'; response: CachedResponse }
  /** Forward the request with `conditionalHeaders` (replacing any validators of the client's); on 304 call `refresh`. */
  | { status: 'stale'; conditionalHeaders: Record<string, string>; entry: CacheEntry }
  | { status: 'miss' }
  | { status: 'bypass'; reason: string };

export interface ExchangeTiming {
  /** Wall-clock ms when the request was sent upstream; the response's time in flight counts toward its age. */
  requestTime?: number;
}

/**
 * A shared HTTP/1.1 response cache (a subset of RFC 9111) held in memory: GET and HEAD, explicit
 * freshness only, validators for revalidation, Vary, LRU within a byte budget. Pure: no I/O, time
 * from the injected clock. The caller fetches; the cache decides and remembers.
 */
export class HttpCache {
  private readonly options: CacheOptions;
  private readonly variants = new Map<string, CacheEntry[]>();
  private readonly lru: ByteLru<CacheEntry>;

  constructor(options: Partial<CacheOptions> = {}) {
    this.options = { ...defaultCacheOptions, ...options };
    verifyCacheOptions(this.options);
    this.lru = new ByteLru(this.options.maxBytes, (entry) => this.forget(entry));
  }

  lookup(request: CacheRequest): LookupResult {
    const reason = bypassReason(request);
    if (reason !== undefined) return { status: 'bypass', reason };
    const entry = this.select(request);
    if (entry === undefined) return { status: 'miss' };

    const age = this.currentAgeMs(entry);
    const fresh = entry.lifetimeMs > age;
    if (fresh && !entry.alwaysRevalidate && !clientWantsRevalidation(request.headers, age)) {
      this.lru.touch(entry);
      return { status: 'hit', response: withAge(entry, age) };
    }
    if (!hasValidator(entry.headers)) {
      if (!fresh) this.remove(entry);
      return { status: 'miss' };
    }
    this.lru.touch(entry);
    return { status: 'stale', conditionalHeaders: conditionalHeaders(entry.headers), entry };
  }

  /** Why a response would not be stored, or undefined: check the head before collecting its body. */
  unstorableReason(request: CacheRequest, response: CacheResponse): string | undefined {
    return unstorableReason(request, response, this.options.maxObjectBytes, this.options.now());
  }

  /** Collects a body for `store`, giving up once it passes the largest storable object. */
  collector(): BodyCollector {
    return new BodyCollector(this.options.maxObjectBytes);
  }

  /** Stores a complete response if the rules allow; returns whether it did. */
  store(request: CacheRequest, response: CacheResponse, body: Buffer, timing: ExchangeTiming = {}): boolean {
    const now = this.options.now();
    if (unstorableReason(request, response, this.options.maxObjectBytes, now) !== undefined) return false;
    const declaredLength = fieldValue(response.headers, 'content-length');
    if (declaredLength !== undefined && Number(declaredLength) !== body.length) return false; // truncated
    const names = varyNames(response.headers) as readonly string[];
    const values = names.map((name) => varyValue(request.headers, name));
    const entry = this.makeEntry(primaryKey(request), names, values, response.status, response.headers, body, timing.requestTime ?? now, now);
    if (entry.size > this.options.maxObjectBytes) return false;
    this.insert(entry);
    return true;
  }

  /**
   * Applies a 304 from revalidating `entry` (RFC 9111 §4.3.4): its fields update the stored ones and
   * the entry's age restarts. Returns the response to serve, or undefined when the 304 speaks of
   * another representation (a different ETag): then fetch again without validators.
   */
  refresh(entry: CacheEntry, notModified: CacheResponse, timing: ExchangeTiming = {}): CachedResponse | undefined {
    if (notModified.status !== 304) throw new TypeError(`refresh needs a 304 response, got ${notModified.status}`);
    const newTag = fieldValue(notModified.headers, 'etag');
    const oldTag = fieldValue(entry.headers, 'etag');
    if (newTag !== undefined && oldTag !== undefined && opaqueTag(newTag) !== opaqueTag(oldTag)) {
      this.remove(entry);
      return undefined;
    }
    const now = this.options.now();
    const received = { ...entry.headers, ...endToEndHeaders(notModified.headers, ['content-length']) };
    const updated = this.makeEntry(entry.key, entry.varyNames, entry.varyValues, entry.status, received, entry.body, timing.requestTime ?? now, now);
    const anyRequest: CacheRequest = { method: 'GET', url: '', headers: {} };
    if (unstorableReason(anyRequest, updated, this.options.maxObjectBytes, now) === undefined && updated.size <= this.options.maxObjectBytes) {
      this.insert(updated);
    } else {
      this.remove(entry);
    }
    return withAge(updated, this.currentAgeMs(updated));
  }

  /** After an unsafe request (POST, PUT, DELETE…) succeeds, drops what is stored for its URL (RFC 9111 §4.4). */
  invalidate(request: CacheRequest, status: number): number {
    if (!invalidates(request, status)) return 0;
    const stored = [...(this.variants.get(primaryKey(request)) ?? [])];
    for (const entry of stored) this.remove(entry);
    return stored.length;
  }

  /** Bytes charged against `maxBytes`. */
  get bytes(): number {
    return this.lru.bytes;
  }

  get entries(): number {
    return this.lru.count;
  }

  private select(request: CacheRequest): CacheEntry | undefined {
    const stored = this.variants.get(primaryKey(request));
    if (stored === undefined) return undefined;
    // Newest first: when two variants match (their Vary lists differ), the later response wins.
    for (let i = stored.length - 1; i >= 0; i--) {
      const entry = stored[i];
      if (entry.varyNames.every((name, at) => varyValue(request.headers, name) === entry.varyValues[at])) return entry;
    }
    return undefined;
  }

  private insert(entry: CacheEntry): void {
    const stored = this.variants.get(entry.key) ?? [];
    for (const old of stored.filter((candidate) => sameVariant(candidate, entry))) this.remove(old);
    const kept = this.variants.get(entry.key) ?? [];
    kept.push(entry);
    this.variants.set(entry.key, kept);
    if (kept.length > this.options.maxVariantsPerKey) this.remove(kept[0]);
    this.lru.add(entry, entry.size);
  }

  private remove(entry: CacheEntry): void {
    this.lru.delete(entry);
    this.forget(entry);
  }

  /** Drops an entry from the Vary index; the LRU has already let go of it. */
  private forget(entry: CacheEntry): void {
    const stored = this.variants.get(entry.key);
    if (stored === undefined) return;
    const at = stored.indexOf(entry);
    if (at >= 0) stored.splice(at, 1);
    if (stored.length === 0) this.variants.delete(entry.key);
  }

  private makeEntry(
    key: string, names: readonly string[], values: readonly (string | null)[], status: number,
    received: HeaderMap, body: Buffer, requestTime: number, responseTime: number,
  ): CacheEntry {
    const headers = endToEndHeaders(received, ['age', 'content-length']);
    if (status !== 204) headers['content-length'] = String(body.length);
    const directives = parseCacheControl(fieldValue(headers, 'cache-control'));
    return {
      key, varyNames: names, varyValues: values, status, headers, body, responseTime,
      initialAgeMs: initialAgeMs(received, requestTime, responseTime),
      lifetimeMs: freshnessLifetimeMs(headers, responseTime),
      alwaysRevalidate: directives.has('no-cache'),
      size: body.length + headerBytes(headers) + key.length + ENTRY_OVERHEAD_BYTES,
    };
  }

  private currentAgeMs(entry: CacheEntry): number {
    return entry.initialAgeMs + Math.max(0, this.options.now() - entry.responseTime);
  }
}

/** The cache key: the Host field and the request target (method is left out: only GET is stored, HEAD reads it). */
function primaryKey(request: CacheRequest): string {
  return `${(fieldValue(request.headers, 'host') ?? '').toLowerCase()} ${request.url}`;
}

/** Request `no-cache`, or `max-age=N` with the stored response N seconds old or older. */
function clientWantsRevalidation(headers: HeaderMap, ageMs: number): boolean {
  const directives = parseCacheControl(fieldValue(headers, 'cache-control'));
  if (directives.has('no-cache')) return true;
  if (!directives.has('max-age')) return false;
  return ageMs >= (parseDeltaSeconds(directives.get('max-age')) ?? 0) * 1000;
}

function conditionalHeaders(headers: HeaderMap): Record<string, string> {
  const out: Record<string, string> = {};
  const etag = fieldValue(headers, 'etag');
  const lastModified = fieldValue(headers, 'last-modified');
  if (etag !== undefined) out['if-none-match'] = etag;
  if (lastModified !== undefined) out['if-modified-since'] = lastModified;
  return out;
}

function withAge(entry: CacheEntry, ageMs: number): CachedResponse {
  return { status: entry.status, headers: { ...entry.headers, age: String(Math.floor(ageMs / 1000)) }, body: entry.body };
}

function sameVariant(a: CacheEntry, b: CacheEntry): boolean {
  return a.varyNames.length === b.varyNames.length &&
    a.varyNames.every((name, at) => b.varyNames[at] === name && b.varyValues[at] === a.varyValues[at]);
}

/** An entity tag without its weak prefix: a 304 may answer a strong tag with the weak form. */
function opaqueTag(tag: string): string {
  return tag.trim().replace(/^W\//, '');
}
