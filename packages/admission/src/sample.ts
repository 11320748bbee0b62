/** What the gateway measured for one finished origin request. */
export interface Sample {
  /** From sending the request to the origin to its response's end (queue wait excluded), ms. */
  latencyMs: number;
  /** False when the origin failed, timed out or answered "overloaded" (503); such samples carry no latency. */
  ok: boolean;
  /** Response bytes received from the origin. */
  bytes: number;
}

/** The state around a sample, supplied by whoever releases the slot. */
export interface SampleContext {
  /** Requests in flight to the origin when this one completed, itself included. */
  inFlight: number;
  /** Requests waiting in the queue in front of the origin at that moment. */
  queued: number;
}

/** Anything that sets an origin's concurrency limit: an adaptive controller or a fixed number. */
export interface LimitControl {
  /** Current limit, an integer of at least 1. */
  readonly limit: number;
  onSample(sample: Sample, context: SampleContext): void;
  /** Keeps the law at or below `ceiling` (a share of a budget split across gateways), when it can. */
  setCeiling?(ceiling: number): void;
}

/** A limit that only changes when told to (operator-configured origins, tests). */
export class StaticLimit implements LimitControl {
  private value: number;

  constructor(limit: number) {
    this.value = StaticLimit.check(limit);
  }

  get limit(): number {
    return this.value;
  }

  set(limit: number): void {
    this.value = StaticLimit.check(limit);
  }

  onSample(): void {}

  private static check(limit: number): number {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError('limit: integer of at least 1');
    return limit;
  }
}
