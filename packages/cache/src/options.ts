import type { Clock } from '@overlay/common';

/** Everything the cache can be tuned by, with units; defaults below, checked by `verifyCacheOptions`. */
export interface CacheOptions {
  /** Budget for all stored responses, bytes (body + header names and values + a fixed per-entry overhead). */
  maxBytes: number;
  /** Largest single response kept, bytes, counted the same way; bigger bodies are passed through unstored. */
  maxObjectBytes: number;
  /** Stored variants per URL (responses with `Vary`); the oldest goes when one more arrives. */
  maxVariantsPerKey: number;
  /** Wall-clock milliseconds since the epoch: ages are compared with `Date` and `Expires`. */
  now: Clock;
}

export const defaultCacheOptions: Readonly<CacheOptions> = Object.freeze({
  maxBytes: 64 * 1024 * 1024,
  maxObjectBytes: 8 * 1024 * 1024,
  maxVariantsPerKey: 8,
  now: Date.now,
});

/** Accounted per stored response on top of its bytes, so a flood of empty bodies still fills the budget. */
export const ENTRY_OVERHEAD_BYTES = 256;

export function verifyCacheOptions(options: CacheOptions): void {
  const { maxBytes, maxObjectBytes, maxVariantsPerKey } = options;
  if (!Number.isSafeInteger(maxBytes) || maxBytes < 1) throw new RangeError('cache maxBytes: positive integer');
  if (!Number.isSafeInteger(maxObjectBytes) || maxObjectBytes < 1 || maxObjectBytes > maxBytes) {
    throw new RangeError('cache maxObjectBytes: positive integer no larger than maxBytes');
  }
  if (!Number.isInteger(maxVariantsPerKey) || maxVariantsPerKey < 1) throw new RangeError('cache maxVariantsPerKey: positive integer');
}
