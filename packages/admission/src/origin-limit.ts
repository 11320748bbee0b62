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
  /** Queues that may use this origin; bounded by the configured routes that name it. */
  private readonly queues = new Set<OriginWaiters>();

  constructor(
    readonly id: string,
    readonly control: LimitControl = new LimitController(),
  ) {}

  get limit(): number {
    return this.control.limit;
  }

  get inFlight(): number {
    return this.running;
  }

  /** True while another request may be sent now. */
  get available(): boolean {
    return this.running < this.control.limit;
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
  release(sample: Sample, queued = this.waiting()): void {
    if (this.running === 0) throw new Error(`origin ${this.id}: release without acquire`);
    const inFlight = this.running;
    this.running--;
    this.control.onSample(sample, { inFlight, queued });
    this.wake();
  }

  attach(queue: OriginWaiters): void {
    this.queues.add(queue);
  }

  detach(queue: OriginWaiters): void {
    this.queues.delete(queue);
  }

  private waiting(): number {
    let total = 0;
    for (const queue of this.queues) total += queue.length;
    return total;
  }

  /** Every attached queue gets a turn; the first one rotates so no queue always goes first. */
  private wake(): void {
    const queues = [...this.queues];
    for (const queue of queues) queue.dispatch();
    const first = queues[0];
    if (first && this.queues.delete(first)) this.queues.add(first);
  }
}
