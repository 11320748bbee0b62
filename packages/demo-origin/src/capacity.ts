/**
 * A server that thrashes past its capacity, as a processor-sharing queue: every request needs
 * `serviceMs` of work; with k requests in service each progresses at full speed while k ≤ capacity,
 * and past it they share capacity that itself shrinks with the overload:
 *
 *   throughput(k) = capacity / (1 + penalty × (k − capacity) / capacity)      (requests per serviceMs)
 *
 * so at 2× capacity with penalty 1 the server completes half as much work as at capacity: throughput
 * collapses instead of plateauing, like a real server swapping or contending on locks. This is what
 * makes limiting concurrency in front of an origin pay (seed 000: nearly 3× the request rate).
 * Pure: time comes in as arguments.
 */
export interface ServiceModelOptions {
  /** Requests served at full speed at once; Infinity for no limit. */
  capacity: number;
  /** Work per request, ms at full speed. */
  serviceMs: number;
  /** How fast throughput falls past capacity (0 = plateau, 1 = halved at 2× capacity). */
  overloadPenalty: number;
}

/** Work left below this is done (floating-point dust), ms. */
const DONE_EPSILON_MS = 1e-6;

export class ServiceModel<T> {
  /** Work left per request, ms at full speed. Bounded by the requests the server holds open. */
  private readonly remaining = new Map<T, number>();
  private updatedAt: number;

  constructor(private readonly options: ServiceModelOptions, now: number) {
    this.updatedAt = now;
  }

  /** Progress per ms of each request in service when `k` are. */
  speed(k: number): number {
    const { capacity, overloadPenalty } = this.options;
    if (k <= capacity) return 1;
    return capacity / k / (1 + (overloadPenalty * (k - capacity)) / capacity);
  }

  /** Starts a request; returns those that finished before it arrived (call `advance` first to avoid any). */
  admit(job: T, now: number): T[] {
    const finished = this.advance(now);
    this.remaining.set(job, this.options.serviceMs);
    return finished;
  }

  /** Drops a request whose client went away; returns what finished meanwhile. */
  cancel(job: T, now: number): T[] {
    const finished = this.advance(now);
    this.remaining.delete(job);
    return finished;
  }

  /** Moves time forward to `now`, finishing requests in order (speed changes as each one leaves). */
  advance(now: number): T[] {
    const finished: T[] = [];
    let elapsed = Math.max(0, now - this.updatedAt);
    this.updatedAt = Math.max(now, this.updatedAt);
    while (this.remaining.size > 0) {
      const speed = this.speed(this.remaining.size);
      const step = Math.min(elapsed, this.leastRemaining() / speed);
      for (const [job, work] of this.remaining) {
        const left = work - step * speed;
        if (left <= DONE_EPSILON_MS) {
          this.remaining.delete(job);
          finished.push(job);
        } else {
          this.remaining.set(job, left);
        }
      }
      elapsed -= step;
      if (elapsed <= 0) break;
    }
    return finished;
  }

  /** Ms from the last `advance` until the next request finishes, or undefined when none is in service. */
  nextCompletionMs(): number | undefined {
    if (this.remaining.size === 0) return undefined;
    return this.leastRemaining() / this.speed(this.remaining.size);
  }

  get inService(): number {
    return this.remaining.size;
  }

  private leastRemaining(): number {
    let least = Infinity;
    for (const work of this.remaining.values()) least = Math.min(least, work);
    return least;
  }
}
