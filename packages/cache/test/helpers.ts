import { HttpCache, type CacheOptions, type CacheRequest, type CacheResponse, type HeaderMap } from '@overlay/cache';

export const T0 = Date.parse('2025-03-01T12:00:00Z');

export function httpDate(ms: number): string {
  return new Date(ms).toUTCString();
}

/** A cache on a hand-driven clock. */
export function cacheWithClock(options: Partial<CacheOptions> = {}): { cache: HttpCache; advance: (seconds: number) => void; now: () => number } {
  let now = T0;
  const cache = new HttpCache({ ...options, now: () => now });
  return { cache, advance: (seconds) => { now += seconds * 1000; }, now: () => now };
}

export function get(url = '/a', headers: HeaderMap = {}, method = 'GET'): CacheRequest {
  return { method, url, headers: { host: 'shop.demo.test', ...headers } };
}

export function ok(headers: HeaderMap = {}, status = 200): CacheResponse {
  return { status, headers };
}

export function body(text = 'hello'): Buffer {
  return Buffer.from(text);
}
