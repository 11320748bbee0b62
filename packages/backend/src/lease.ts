import type { Grant } from '@overlay/admission';
import type { RequestOutcome } from '@overlay/balancer';
import type { HealthMonitor } from './health.js';
import type { OriginRuntime } from './origin.js';

/**
 * One origin slot held by one request (or TCP connection): from the queue grant until the origin's side is
 * done. Ending it feeds the limit control (latency to the response head, ok, bytes) and the balancer's
 * pending counts, exactly once. Passive health hears the verdict as soon as the origin answers (a response
 * head, a TCP connect), so a long download or a long-lived connection never looks like a silent origin;
 * a failure after that is reported as a failure of its own.
 */
export class OriginLease {
  readonly origin: OriginRuntime;
  readonly waitedMs: number;
  /** Response bytes from the origin. */
  bytes = 0;
  private readonly sentAt = performance.now();
  private headAt: number | undefined;
  /** The origin answered 503: alive, but saying it is overloaded (a failed sample, a passive failure). */
  private overloaded = false;
  private ended = false;
  /** The sample went to the limit control when the connection was accepted (long-lived TCP). */
  private observed = false;

  constructor(
    private readonly grant: Grant,
    origin: OriginRuntime,
    private readonly untrack: () => void,
    private readonly health: HealthMonitor,
  ) {
    this.origin = origin;
    this.waitedMs = grant.waitedMs;
    health.requestStarted(origin.id);
  }

  /** The origin's response head arrived (or the TCP connection came up): the latency sample ends here. */
  responded(status?: number): void {
    if (this.headAt !== undefined) return;
    this.headAt = performance.now();
    this.overloaded = status === 503;
    this.health.requestEnded(this.origin.id, this.overloaded ? 'error' : 'ok', this.overloaded ? 'answered 503' : undefined);
  }

  /**
   * A long-lived TCP connection came up: the limit control is fed its accept latency now, with the
   * connections open as the concurrency; the slot stays held until `end`.
   */
  accepted(): void {
    if (this.headAt !== undefined) return;
    this.responded();
    this.observed = true;
    this.origin.limit.observe({ latencyMs: (this.headAt ?? this.sentAt) - this.sentAt, ok: true, bytes: 0 });
  }

  /**
   * Returns the slot. `ok` and `cancelled` (the front-end left: no verdict on the origin) count as good
   * samples; `error` (connect failure, reset) and `timeout` as failures, as does a 503 answer.
   */
  end(outcome: RequestOutcome, detail?: string): void {
    if (this.ended) return;
    this.ended = true;
    const latencyMs = (this.headAt ?? performance.now()) - this.sentAt;
    const ok = (outcome === 'ok' || outcome === 'cancelled') && !this.overloaded;
    this.grant.release(this.observed ? undefined : { latencyMs, ok, bytes: this.bytes });
    this.untrack();
    if (this.headAt === undefined) {
      this.health.requestEnded(this.origin.id, outcome, detail);
    } else if (outcome === 'error' || outcome === 'timeout') {
      // Failed after answering (cut mid-body, reset): one more failure for passive detection.
      this.health.requestStarted(this.origin.id);
      this.health.requestEnded(this.origin.id, outcome, detail);
    }
  }
}
