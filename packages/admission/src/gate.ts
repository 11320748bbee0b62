import { monotonicNow, type Clock } from '@overlay/common';
import { defaultAdmissionGateOptions, verifyAdmissionGateOptions, type AdmissionGateOptions } from './options.js';
import { RateMeter } from './rate-meter.js';

export type GateState = 'open' | 'refusing';

/** One admitted request's place in the count: start() when it begins, finish() when it is done or dropped. */
export interface AdmissionTicket {
  /** Queued → in flight. Calls after the first, or after finish(), do nothing. */
  start(): void;
  /** Leaves the count, from either stage. Calls after the first do nothing. */
  finish(): void;
}

export type Admission =
  | { admitted: true; ticket: AdmissionTicket }
  | {
      admitted: false;
      /** `overloaded`: new clients refused past the threshold; `full`: even established ones, past maxQueued. */
      reason: 'overloaded' | 'full';
      /** What to put in Retry-After, seconds. */
      retryAfterSeconds: number;
    };

export interface AdmissionRequest {
  /** The client's connection already had a request served: it is served before newcomers (seed 000 [0037]). */
  established: boolean;
  /** The client's source (`sourceKey` of its address: the IPv4 address, an IPv6 /64): its queued work is counted apart. */
  source: string;
}

/**
 * The front-end's overload refusal (seed 000 [0037]): once queued work reaches `threshold`, new clients are
 * refused fast (503 + Retry-After) while established ones are still admitted up to `maxQueued`. The gate
 * re-opens only when the queue has fallen to threshold × reopenRatio, so it does not flap. While refusing, a
 * newcomer whose source holds less than its fair share of the reopen level is still admitted: the queue is
 * then above that level, so some source holds more than its share, and the sources holding the most are the
 * ones refused. One source cannot lock everyone else out.
 */
export class AdmissionGate {
  readonly options: Readonly<AdmissionGateOptions>;
  private readonly drained: RateMeter;
  private waitingCount = 0;
  /** Queued requests per source; a source leaves the map when it has none. */
  private readonly waitingBySource = new Map<string, number>();
  private runningCount = 0;
  private gateState: GateState = 'open';

  constructor(options: Partial<AdmissionGateOptions> = {}, now: Clock = monotonicNow) {
    this.options = Object.freeze({ ...defaultAdmissionGateOptions, ...options });
    verifyAdmissionGateOptions(this.options);
    this.drained = new RateMeter(this.options.rateBucketMs, now);
  }

  get state(): GateState {
    return this.gateState;
  }

  get queued(): number {
    return this.waitingCount;
  }

  get inFlight(): number {
    return this.runningCount;
  }

  /** Sources holding queued work now. */
  get sources(): number {
    return this.waitingBySource.size;
  }

  /** Queued requests `source` holds now. */
  queuedFrom(source: string): number {
    return this.waitingBySource.get(source) ?? 0;
  }

  /**
   * What one source may hold of the queue before a refusing gate turns its newcomers away, requests:
   * ⌊reopenLevel / sources holding queued work⌋, `source` counted even when it holds none yet. The shares
   * add up to the reopen level, which a refusing gate's queue is above, so one source at least is over.
   */
  fairShare(source: string): number {
    const sources = this.waitingBySource.size + (this.waitingBySource.has(source) ? 0 : 1);
    return Math.floor(this.reopenLevel / sources);
  }

  /** Queued work at or below which a refusing gate opens again, requests. */
  get reopenLevel(): number {
    return Math.floor(this.options.threshold * this.options.reopenRatio);
  }

  admit(request: AdmissionRequest): Admission {
    if (this.waitingCount >= this.options.maxQueued) return this.refuse('full');
    if (!request.established && this.gateState === 'refusing' && !this.withinFairShare(request.source)) return this.refuse('overloaded');
    this.waitingCount++;
    this.countSource(request.source, +1);
    this.update();
    return { admitted: true, ticket: this.ticket(request.source) };
  }

  /**
   * Seconds until the queue is expected to fall to the reopen level at the rate work has been leaving it,
   * within [minRetryAfterS, maxRetryAfterS]; the maximum when nothing has left lately.
   */
  retryAfterSeconds(): number {
    const { minRetryAfterS, maxRetryAfterS } = this.options;
    const excess = this.waitingCount - this.reopenLevel;
    if (excess <= 0) return minRetryAfterS;
    const rate = this.drained.perSecond();
    if (rate <= 0) return maxRetryAfterS;
    return Math.min(maxRetryAfterS, Math.max(minRetryAfterS, Math.ceil(excess / rate)));
  }

  private withinFairShare(source: string): boolean {
    return this.options.sourceFairness && this.queuedFrom(source) < this.fairShare(source);
  }

  private countSource(source: string, delta: 1 | -1): void {
    const held = this.queuedFrom(source) + delta;
    if (held > 0) this.waitingBySource.set(source, held);
    else this.waitingBySource.delete(source);
  }

  /** One queued request of `source` leaves the queue (started or dropped). */
  private leaveQueue(source: string): void {
    this.waitingCount--;
    this.countSource(source, -1);
  }

  private refuse(reason: 'overloaded' | 'full'): Admission {
    return { admitted: false, reason, retryAfterSeconds: this.retryAfterSeconds() };
  }

  private ticket(source: string): AdmissionTicket {
    let stage: 'queued' | 'running' | 'done' = 'queued';
    return {
      start: () => {
        if (stage !== 'queued') return;
        stage = 'running';
        this.leaveQueue(source);
        this.runningCount++;
        this.drained.record();
        this.update();
      },
      finish: () => {
        if (stage === 'done') return;
        if (stage === 'queued') this.leaveQueue(source);
        else this.runningCount--;
        stage = 'done';
        this.update();
      },
    };
  }

  private update(): void {
    if (this.gateState === 'open' && this.waitingCount >= this.options.threshold) this.gateState = 'refusing';
    else if (this.gateState === 'refusing' && this.waitingCount <= this.reopenLevel) this.gateState = 'open';
  }
}
