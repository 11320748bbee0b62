export { HttpCache, type CacheEntry, type CachedResponse, type LookupResult, type ExchangeTiming } from './cache.js';
export { BodyCollector } from './collector.js';
export { defaultCacheOptions, verifyCacheOptions, ENTRY_OVERHEAD_BYTES, type CacheOptions } from './options.js';
export { STORABLE_STATUSES, type CacheRequest, type CacheResponse } from './policy.js';
export { parseCacheControl, parseHttpDate, type HeaderMap } from './headers.js';
