import { SiteQueue, type Grant, type OriginLimit, type PickOrigin, type SiteQueueDeps, type SubmitOptions } from '@overlay/admission';
import type { QueueConfig } from './config.js';

/**
 * The FIFO queue of one origin list (a site's, or a path route's). New queue settings take effect for new
 * arrivals: the old queue keeps its waiters, stays attached to the origins until it has served or timed
 * them out, and is then dropped (`prune`).
 */
export class RouteQueue {
  private current: SiteQueue;
  private retiring: SiteQueue[] = [];
  private origins: readonly OriginLimit[];
  private settings: string;

  constructor(
    origins: readonly OriginLimit[],
    options: QueueConfig,
    private readonly deps: SiteQueueDeps,
  ) {
    this.origins = origins;
    this.settings = JSON.stringify(options);
    this.current = new SiteQueue(origins, options, deps);
  }

  /** Joins the current queue (FIFO) for an origin with a free slot. */
  submit(pick: PickOrigin, options: SubmitOptions): Promise<Grant> {
    return this.current.submit(pick, options);
  }

  get length(): number {
    return this.retiring.reduce((sum, queue) => sum + queue.length, this.current.length);
  }

  get maxQueue(): number {
    return this.current.options.maxQueue;
  }

  get limits(): readonly OriginLimit[] {
    return this.origins;
  }

  /** New origin set; waiters stay and are served from it. */
  setOrigins(origins: readonly OriginLimit[]): void {
    this.origins = origins;
    for (const queue of [this.current, ...this.retiring]) queue.setOrigins(origins);
  }

  setOptions(options: QueueConfig): void {
    const settings = JSON.stringify(options);
    if (settings === this.settings) return;
    this.settings = settings;
    this.retiring.push(this.current);
    this.current = new SiteQueue(this.origins, options, this.deps);
  }

  dispatch(): void {
    for (const queue of [this.current, ...this.retiring]) queue.dispatch();
  }

  /** Drops retired queues that have emptied. */
  prune(): void {
    this.retiring = this.retiring.filter((queue) => {
      if (queue.length > 0) return true;
      queue.setOrigins([]);
      return false;
    });
  }

  /** The list is gone (site or route removed): its waiters fail ERR_NO_ORIGIN. */
  close(): void {
    for (const queue of [this.current, ...this.retiring]) queue.setOrigins([]);
    this.retiring = [];
  }
}
