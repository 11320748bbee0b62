import { LimitController } from './controller.js';
import type { LimitControl, Sample } from './sample.js';

/** Work waiting for an origin: a SiteQueue attaches itself to each origin of its set. */
export interface OriginWaiters {
  readonly length: number;
  /** Hands free slots to waiters. */
  dispatch(): void;
}

/**
 * One origin's concurrency budget. The gateway sends at most one request per origin connection at a time
 * (seed 000), so the limit is also the number of origin connections in use at most. Lowering the limit
 * never cancels work: it only stops granting until enough requests finish (seed 000 closes only idle
 * connections).
 */
export class OriginLimit {
  private running = 0;
  /** This gateway's share of the origin's budget (split across back-ends); Infinity when not budgeted. */
  private share = Infinity;
  /** Queues that may use this origin; bounded by the configured routes that name it. */
  private readonly queues = new Set<OriginWaiters>();
  /** A new share is set but more requests than it are still in service. */
  private draining = false;

  constructor(
    readonly id: string,
    readonly control: LimitControl = new LimitController(),
    /**
     * Called once a new share holds: at once when no more than it is in service, else when enough
     * requests have finished. Whoever split the budget can count on it from then on (a report).
     */
    private readonly onShareHeld?: () => void,
  ) {}

  /** The control's limit, never above this gateway's share of the origin's budget (may be 0). */
  get limit(): number {
    return Math.min(this.control.limit, this.share);
  }

  get ceiling(): number {
    return this.share;
  }

  /**
   * Caps the limit at `share` (Infinity lifts the cap). Lowering it cancels nothing, as any decrease;
   * raising it hands the new slots to waiters at once.
   */
  setCeiling(share: number): void {
    if (!(share >= 0)) throw new RangeError(`origin ${this.id}: ceiling must be a number of at least 0`);
    const raised = share > this.share;
    const changed = share !== this.share;
    this.share = share;
    this.control.setCeiling?.(share);
    if (changed) {
      this.draining = this.running > share;
      if (!this.draining) this.onShareHeld?.();
    }
    if (raised) this.wake();
  }

  get inFlight(): number {
    return this.running;
  }

  /** True while another request may be sent now. */
  get available(): boolean {
    return this.running < this.limit;
  }

  /** Work waiting for this origin in the attached queues. */
  get waiting(): number {
    let total = 0;
    for (const queue of this.queues) total += queue.length;
    return total;
  }

  /** Takes a slot if one is free; false otherwise (the caller queues). */
  acquire(): boolean {
    if (!this.available) return false;
    this.running++;
    return true;
  }

  /**
   * Returns a slot, feeds its measurement to the limit control, then lets the attached queues take the
   * free slots. `queued`: work waiting for this origin, by default what the attached queues hold.
   */
  release(sample: Sample | undefined, queued = this.waiting): void {
    if (this.running === 0) throw new Error(`origin ${this.id}: release without acquire`);
    const inFlight = this.running;
    this.running--;
    if (this.draining && this.running <= this.share) {
      this.draining = false;
      this.onShareHeld?.();
    }
    if (sample) this.control.onSample(sample, { inFlight, queued });
    this.wake();
  }

  /**
   * Feeds a measurement while the slot stays taken: a long-lived TCP connection is judged by how fast the
   * origin accepted it, with the connections open as the concurrency (release it later without a sample).
   */
  observe(sample: Sample): void {
    this.control.onSample(sample, { inFlight: this.running, queued: this.waiting });
    this.wake();
  }

  attach(queue: OriginWaiters): void {
    this.queues.add(queue);
  }

  detach(queue: OriginWaiters): void {
    this.queues.delete(queue);
  }

  /** Every attached queue gets a turn; the first one rotates so no queue always goes first. */
  private wake(): void {
    // The usual case, one list naming the origin: nothing to rotate.
    if (this.queues.size === 1) {
      for (const queue of this.queues) queue.dispatch();
      return;
    }
    const queues = [...this.queues];
    for (const queue of queues) queue.dispatch();
    const first = queues[0];
    if (first && this.queues.delete(first)) this.queues.add(first);
  }
}
