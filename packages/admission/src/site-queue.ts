import type { AbortLike } from '@overlay/common';
import { abortedError, noOriginError, queueFullError, queueTimeoutError } from './errors.js';
import { defaultSiteQueueOptions, verifySiteQueueOptions, type SiteQueueOptions } from './options.js';
import type { OriginLimit } from './origin-limit.js';
import type { Sample } from './sample.js';
import { systemTimers, type TimerHandle, type Timers } from './timers.js';
import { WaitList, type Linked } from './wait-list.js';

/**
 * Chooses among origins that have a free slot right now (load balancing lives elsewhere). Returning
 * undefined makes the request wait, and, the queue being strictly FIFO, everyone behind it too.
 */
export type PickOrigin = (candidates: readonly OriginLimit[]) => OriginLimit | undefined;

/** A slot on one origin. Release it exactly once when the origin's response ended (or failed). */
export interface Grant {
  readonly origin: OriginLimit;
  /** Time spent in the queue, ms (0 when a slot was free on arrival). */
  readonly waitedMs: number;
  /**
   * Returns the slot with what was measured (no sample: it was already fed with `origin.observe`, as for
   * a long-lived TCP connection); calls after the first do nothing.
   */
  release(sample?: Sample): void;
}

export interface SubmitOptions {
  /** Abort when the client goes away: the request leaves the queue and the promise rejects ERR_ABORTED. */
  signal?: AbortLike;
  /**
   * Release class (seed 001: release by size or type): a waiter is served before every waiter of a
   * higher rank, FIFO within a rank. Default 0 for all: plain FIFO.
   */
  rank?: number;
}

export interface SiteQueueDeps {
  timers?: Timers;
  /** Health as the health checker sees it; unhealthy origins get no work. Default: all healthy. */
  healthy?: (origin: OriginLimit) => boolean;
}

interface Waiter extends Linked<Waiter> {
  readonly pick: PickOrigin;
  readonly enqueuedAt: number;
  readonly resolve: (grant: Grant) => void;
  readonly reject: (error: unknown) => void;
  readonly signal: AbortLike | undefined;
  readonly rank: number;
  timer: TimerHandle;
  onAbort: (() => void) | undefined;
}

/**
 * The FIFO queue in front of a set of origins (seed 000, cluster variant): a request goes to an origin
 * with a free slot, or waits; each time a slot frees, the oldest waiter is dispatched. A newcomer never
 * overtakes a waiter. Waiting is bounded in count (`maxQueue`) and time (`queueTimeoutMs`).
 */
export class SiteQueue {
  readonly options: Readonly<SiteQueueOptions>;
  private readonly timers: Timers;
  private readonly healthy: (origin: OriginLimit) => boolean;
  private readonly waiting = new WaitList<Waiter>();
  private origins: readonly OriginLimit[];

  constructor(origins: readonly OriginLimit[], options: Partial<SiteQueueOptions> = {}, deps: SiteQueueDeps = {}) {
    this.options = Object.freeze({ ...defaultSiteQueueOptions, ...options });
    verifySiteQueueOptions(this.options);
    this.timers = deps.timers ?? systemTimers;
    this.healthy = deps.healthy ?? (() => true);
    this.origins = [];
    this.setOrigins(origins);
  }

  /** Requests waiting now. */
  get length(): number {
    return this.waiting.length;
  }

  /**
   * Replaces the origin set (config change). Work in flight on removed origins still releases normally.
   * `setOrigins([])` retires the queue: it detaches from every origin and fails its waiters ERR_NO_ORIGIN.
   */
  setOrigins(origins: readonly OriginLimit[]): void {
    for (const origin of this.origins) if (!origins.includes(origin)) origin.detach(this);
    for (const origin of origins) origin.attach(this);
    this.origins = [...origins];
    this.dispatch();
  }

  submit(pick: PickOrigin, options: SubmitOptions = {}): Promise<Grant> {
    const { signal } = options;
    if (signal?.aborted) return Promise.reject(abortedError(signal.reason));
    if (!this.origins.some(this.healthy)) return Promise.reject(noOriginError());
    if (this.waiting.length === 0) {
      const candidates = this.candidates();
      if (candidates.length > 0) {
        try {
          const origin = choose(pick, candidates);
          if (origin) return Promise.resolve(this.grant(origin, 0));
        } catch (error) {
          return Promise.reject(error);
        }
      }
    }
    if (this.waiting.length >= this.options.maxQueue) return Promise.reject(queueFullError(this.options.maxQueue));
    const rank = options.rank ?? 0;
    if (!Number.isFinite(rank)) return Promise.reject(new RangeError('rank: a finite number'));
    return new Promise<Grant>((resolve, reject) => this.enqueue(pick, signal, rank, resolve, reject));
  }

  /**
   * Hands free slots to waiters, oldest first. Runs by itself when a grant is released; call it after
   * raising a limit by hand or when an origin turns healthy.
   */
  dispatch(): void {
    for (let head = this.waiting.peek(); head; head = this.waiting.peek()) {
      if (!this.origins.some(this.healthy)) {
        this.rejectAll(noOriginError);
        return;
      }
      const candidates = this.candidates();
      if (candidates.length === 0) return;
      let origin: OriginLimit | undefined;
      try {
        origin = choose(head.pick, candidates);
      } catch (error) {
        // One request's broken pick must not wedge the queue for everyone behind it.
        this.leave(head);
        head.reject(error);
        continue;
      }
      if (!origin) return;
      this.leave(head);
      head.resolve(this.grant(origin, this.timers.now() - head.enqueuedAt));
    }
  }

  private enqueue(
    pick: PickOrigin,
    signal: AbortLike | undefined,
    rank: number,
    resolve: (grant: Grant) => void,
    reject: (error: unknown) => void,
  ): void {
    const enqueuedAt = this.timers.now();
    const waiter: Waiter = {
      pick, enqueuedAt, resolve, reject, signal, rank,
      timer: undefined, onAbort: undefined, prev: undefined, next: undefined, linked: false,
    };
    // Behind every waiter of its rank or better; from the tail, so plain FIFO (all rank 0) costs O(1).
    let anchor = this.waiting.last();
    while (anchor && anchor.rank > rank) anchor = anchor.prev;
    this.waiting.insertAfter(waiter, anchor);
    waiter.timer = this.timers.setTimeout(
      () => this.abandon(waiter, queueTimeoutError(this.timers.now() - enqueuedAt)),
      this.options.queueTimeoutMs,
    );
    if (signal) {
      waiter.onAbort = () => this.abandon(waiter, abortedError(signal.reason));
      signal.addEventListener('abort', waiter.onAbort, { once: true });
    }
  }

  /** A waiter gives up (timeout, abort); whoever was behind it may now be servable. */
  private abandon(waiter: Waiter, error: unknown): void {
    if (!waiter.linked) return;
    this.leave(waiter);
    waiter.reject(error);
    this.dispatch();
  }

  /** Unlinks a waiter and drops everything that could reach it later: nothing leaks. */
  private leave(waiter: Waiter): void {
    this.waiting.remove(waiter);
    this.timers.clearTimeout(waiter.timer);
    if (waiter.onAbort) waiter.signal?.removeEventListener('abort', waiter.onAbort);
  }

  private rejectAll(makeError: () => unknown): void {
    for (let head = this.waiting.peek(); head; head = this.waiting.peek()) {
      this.leave(head);
      head.reject(makeError());
    }
  }

  private candidates(): OriginLimit[] {
    return this.origins.filter((origin) => origin.available && this.healthy(origin));
  }

  private grant(origin: OriginLimit, waitedMs: number): Grant {
    origin.acquire();
    let released = false;
    return {
      origin,
      waitedMs,
      release: (sample) => {
        if (released) return;
        released = true;
        origin.release(sample); // wakes every queue attached to the origin, this one included
      },
    };
  }
}

function choose(pick: PickOrigin, candidates: readonly OriginLimit[]): OriginLimit | undefined {
  const origin = pick(candidates);
  if (origin !== undefined && !candidates.includes(origin)) {
    throw new TypeError(`pick returned origin ${origin.id}, which has no free slot`);
  }
  return origin;
}
