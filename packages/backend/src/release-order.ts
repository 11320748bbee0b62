import { requestTypeOf, type RequestInfo, type RequestType } from '@overlay/balancer';

/** How a site's queued requests are released (seed 001: by size, timing or type); FIFO when not set. */
export type ReleaseOrder = { by: 'type'; order: RequestType[] } | { by: 'size' };

/** Response sizes remembered per path, for release by size; the oldest path is forgotten past this. */
const MAX_SIZES = 1024;
/** Rank of a path whose size is not known yet: between a few KiB and a few hundred. */
const UNKNOWN_SIZE_RANK = 3;

/**
 * The rank a queued request waits with (lower is released first, FIFO within a rank): its type's place
 * in the site's order, or the size class of what the same path answered last time (smallest first, the
 * shortest-job-first rule that keeps short requests from waiting behind downloads): < 1 KiB, < 4 KiB, … one
 * class per ×4, up to 7.
 */
export class ReleaseRanker {
  private readonly sizes = new Map<string, number>();

  constructor(private readonly order: ReleaseOrder | undefined) {}

  rank(request: RequestInfo): number {
    if (!this.order) return 0;
    if (this.order.by === 'type') {
      const place = this.order.order.indexOf(requestTypeOf(request));
      return place < 0 ? this.order.order.length : place;
    }
    const bytes = this.sizes.get(pathKey(request.path));
    return bytes === undefined ? UNKNOWN_SIZE_RANK : sizeClass(bytes);
  }

  /** What a path answered, for its next requests (release by size only). */
  answered(path: string, bytes: number): void {
    if (this.order?.by !== 'size') return;
    const key = pathKey(path);
    this.sizes.delete(key);
    this.sizes.set(key, bytes);
    if (this.sizes.size > MAX_SIZES) this.sizes.delete(this.sizes.keys().next().value as string);
  }
}

/** 0 below 1 KiB, then one class per factor 4, at most 7 (≥ 16 MiB). */
export function sizeClass(bytes: number): number {
  let rank = 0;
  for (let limit = 1024; bytes >= limit && rank < 7; limit *= 4) rank++;
  return rank;
}

function pathKey(path: string): string {
  const query = path.indexOf('?');
  return query < 0 ? path : path.slice(0, query);
}
