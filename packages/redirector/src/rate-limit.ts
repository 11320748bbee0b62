import type { Clock } from '@overlay/common';
import ipaddr from 'ipaddr.js';
import { formatAddress, maskAddress, parseAddress } from './address.js';
import { GenerationCache, PairCache } from './bounded-cache.js';
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
 * Response rate limiting (RRL) as NSD and Knot do it, against reflection and amplification: a token
 * bucket per (response, client network), where "response" is its kind and the name it is about (the
 * question for answers, the zone for NXDOMAIN so random names share one bucket, the cut for referrals:
 * the answer cache's `limitKey`). A resolver asking many names spends many buckets and is not slowed;
 * a flood of one answer toward one network (a spoofed victim) is. Keyed by packet source, never by ECS,
 * which anyone can write. Over the limit most responses are dropped; every `slip`-th becomes a minimal
 * TC answer so a real client behind a spoofed flood still gets through over TCP. Bounded: buckets live
 * in a two-generation memo, so the least recently used are forgotten first.
 */
export class ResponseRateLimiter {
  private readonly buckets: PairCache<string, string, Bucket>;
  private readonly exempt: Array<[ipaddr.IPv4 | ipaddr.IPv6, number]>;
  /** Source address text → its network key, or EXEMPT: parsing the text costs more than the bucket. */
  private readonly sources = new GenerationCache<string, string>(redirectorDefaults.caches.sourceAddresses);

  constructor(
    private readonly options: RateLimitOptions,
    private readonly now: Clock,
  ) {
    this.exempt = options.exempt.map((cidr) => ipaddr.parseCIDR(cidr));
    this.buckets = new PairCache(options.maxTrackedNetworks);
  }

  get enabled(): boolean {
    return this.options.enabled;
  }

  /** The decision for one response of bucket `limitKey` to `sourceAddress`. */
  decide(sourceAddress: string, limitKey: string): RateDecision {
    if (!this.options.enabled) return 'allow';
    const network = this.networkOf(sourceAddress);
    if (network === EXEMPT) return 'allow';
    const now = this.now();
    let bucket = this.buckets.get(network, limitKey);
    if (bucket === undefined) {
      bucket = { tokens: this.options.burst, updatedAt: now, limited: 0 };
      this.buckets.set(network, limitKey, bucket);
    }
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

  /** Buckets currently tracked (at most twice maxTrackedNetworks). */
  get size(): number {
    return this.buckets.size;
  }

  private networkOf(sourceAddress: string): string {
    let key = this.sources.get(sourceAddress);
    if (key === undefined) {
      const address = parseAddress(sourceAddress);
      const bits = address.family === 4 ? this.options.ipv4PrefixLength : this.options.ipv6PrefixLength;
      key = this.isExempt(sourceAddress) ? EXEMPT : `${formatAddress(maskAddress(address, bits))}/${bits}`;
      this.sources.set(sourceAddress, key);
    }
    return key;
  }

  private isExempt(sourceAddress: string): boolean {
    const address = ipaddr.process(sourceAddress);
    return this.exempt.some(([network, bits]) => network.kind() === address.kind() && address.match(network, bits));
  }
}
