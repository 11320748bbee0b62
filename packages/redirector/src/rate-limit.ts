import type { Clock } from '@overlay/common';
import ipaddr from 'ipaddr.js';
import { clientNetworkKey, familyBits, parseAddress } from './address.js';
import { GenerationCache } from './bounded-cache.js';
import { redirectorDefaults, type RateLimitOptions } from './config.js';

/** What to do with one UDP response: send it, send a tiny truncated one instead (slip), or nothing. */
export type RateDecision = 'allow' | 'slip' | 'drop';

/** Stands for "exempt" where a network key would be; no key is empty. */
const EXEMPT = '';

interface Bucket {
  tokens: number;
  updatedAt: number;
  limited: number;
}

/**
 * Response rate limiting against reflection and amplification: a token bucket per client network
 * (/24, /56), keyed by the packet source (never by ECS, which anyone can write). Over the limit most
 * responses are dropped; every `slip`-th becomes a minimal TC answer so a real client behind a
 * spoofed flood can still get through over TCP. The table is bounded; the least recently seen network
 * is forgotten first.
 */
export class ResponseRateLimiter {
  private readonly buckets = new Map<string, Bucket>();
  private readonly exempt: Array<[ipaddr.IPv4 | ipaddr.IPv6, number]>;
  /** Source address text → its network key, or EXEMPT: parsing the text costs more than the bucket. */
  private readonly sources = new GenerationCache<string, string>(redirectorDefaults.caches.sourceAddresses);

  constructor(
    private readonly options: RateLimitOptions,
    private readonly now: Clock,
  ) {
    this.exempt = options.exempt.map((cidr) => ipaddr.parseCIDR(cidr));
  }

  decide(sourceAddress: string): RateDecision {
    if (!this.options.enabled) return 'allow';
    const key = this.networkOf(sourceAddress);
    if (key === EXEMPT) return 'allow';
    const now = this.now();
    const bucket = this.take(key, now);
    const refill = ((now - bucket.updatedAt) / 1000) * this.options.responsesPerSecond;
    bucket.tokens = Math.min(this.options.burst, bucket.tokens + refill);
    bucket.updatedAt = now;
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return 'allow';
    }
    bucket.limited += 1;
    const { slip } = this.options;
    return slip > 0 && bucket.limited % slip === 0 ? 'slip' : 'drop';
  }

  /** Networks currently tracked (bounded by maxTrackedNetworks). */
  get size(): number {
    return this.buckets.size;
  }

  private networkOf(sourceAddress: string): string {
    let key = this.sources.get(sourceAddress);
    if (key === undefined) {
      const address = parseAddress(sourceAddress);
      key = this.isExempt(sourceAddress) ? EXEMPT : clientNetworkKey(address, familyBits(address.family));
      this.sources.set(sourceAddress, key);
    }
    return key;
  }

  private isExempt(sourceAddress: string): boolean {
    const address = ipaddr.process(sourceAddress);
    return this.exempt.some(([network, bits]) => network.kind() === address.kind() && address.match(network, bits));
  }

  /** The bucket for `key`, moved to the most-recent end of the map; a new one starts full. */
  private take(key: string, now: number): Bucket {
    const bucket = this.buckets.get(key) ?? { tokens: this.options.burst, updatedAt: now, limited: 0 };
    this.buckets.delete(key);
    this.buckets.set(key, bucket);
    if (this.buckets.size > this.options.maxTrackedNetworks) {
      const oldest = this.buckets.keys().next().value as string;
      this.buckets.delete(oldest);
    }
    return bucket;
  }
}
