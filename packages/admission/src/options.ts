/**
 * Every tunable of the package, with units, defaults and checks in one place. docs/admission.md explains
 * how each one acts; change both together.
 */

/** The adaptive concurrency limit of one origin (LimitController). Latencies are origin latencies. */
export interface LimitControllerOptions {
  /** Lowest limit the controller may set, requests (= origin connections in use). */
  minLimit: number;
  /** Highest limit, requests; keep it below what the origin accepts (seed 000: below its own cap). */
  maxLimit: number;
  /** Limit applied once the first baseline is measured, requests. */
  initialLimit: number;
  /** Shortest sampling window, ms: the limit changes at most once per window. */
  windowMs: number;
  /** Completions a window needs before it may close, requests (a quiet origin's window simply lasts longer). */
  minSamples: number;
  /** Latencies kept per window, the most recent ones; bounds memory, requests. */
  maxWindowSamples: number;
  /** Which latency percentile stands for a window and for the baseline, 0..1. */
  percentile: number;
  /** Band top as a multiple of the baseline: past it the limit shrinks. gradient = baseline × tolerance / sample. */
  tolerance: number;
  /** Band bottom as a multiple of the baseline: below it the limit may grow. */
  growthTolerance: number;
  /** Smallest multiplier one window may apply when shrinking (0.5 = at most halve), 0..1. */
  decreaseFloor: number;
  /** Share of failed completions in a window past which the limit shrinks by `decreaseFloor`, 0..1. */
  maxErrorRatio: number;
  /**
   * How much of the proportional throughput gain an increase must deliver to be kept, 0..1: raising the
   * limit by x % must raise completed requests/s by at least goodputGain × x %, or it is undone.
   */
  goodputGain: number;
  /** Windows without increases after an increase was undone (and without latency cuts after a cut was undone), windows. */
  holdWindows: number;
  /** Concurrency while the baseline is re-measured, requests; within [minLimit, maxLimit]. */
  probeLimit: number;
  /** Completions a probe collects, requests. */
  probeSamples: number;
  /** A probe ends after this long even with fewer samples, ms. */
  probeMaxMs: number;
  /** Time between baseline probes, ms. */
  probeIntervalMs: number;
  /** Random spread of that interval, fraction (0.25 = ±25 %), so gateways do not probe in lockstep. */
  probeJitter: number;
  /** Consecutive windows at minLimit that trigger an early probe (the baseline may be stale), windows. */
  probeAfterMinWindows: number;
  /**
   * Measure the baseline with probes at probeLimit. Off for long-lived connections (TCP sites): none
   * completes during a probe, so the baseline is the fastest window's accept latency instead.
   */
  probing: boolean;
  /** Longest a due probe waits while work is queued (a probe at probeLimit would starve a loaded origin), ms. */
  probeMaxDeferMs: number;
}

export const defaultLimitControllerOptions: Readonly<LimitControllerOptions> = Object.freeze({
  minLimit: 2,
  maxLimit: 256,
  initialLimit: 8,
  windowMs: 1000,
  minSamples: 20,
  maxWindowSamples: 1024,
  percentile: 0.5,
  tolerance: 1.5,
  growthTolerance: 1.2,
  decreaseFloor: 0.5,
  maxErrorRatio: 0.25,
  goodputGain: 0.25,
  holdWindows: 10,
  probeLimit: 2,
  probeSamples: 20,
  probeMaxMs: 5000,
  probeIntervalMs: 60_000,
  probeJitter: 0.25,
  probeAfterMinWindows: 5,
  probeMaxDeferMs: 300_000,
  probing: true,
});

/** The FIFO queue in front of a site's origins (SiteQueue). */
export interface SiteQueueOptions {
  /** Requests that may wait at once; one more is refused with ERR_QUEUE_FULL, requests. */
  maxQueue: number;
  /** Longest wait for a free origin slot before ERR_QUEUE_TIMEOUT, ms. */
  queueTimeoutMs: number;
}

export const defaultSiteQueueOptions: Readonly<SiteQueueOptions> = Object.freeze({
  maxQueue: 1024,
  queueTimeoutMs: 5000,
});

/** The front-end's overload refusal (AdmissionGate). */
export interface AdmissionGateOptions {
  /** Queued requests at which new clients are refused, requests. */
  threshold: number;
  /** The gate re-opens once queued work falls to threshold × reopenRatio (hysteresis), 0..1. */
  reopenRatio: number;
  /** Hard cap on queued requests, established clients included, requests. */
  maxQueued: number;
  /** Bounds of the suggested Retry-After, seconds. */
  minRetryAfterS: number;
  maxRetryAfterS: number;
  /** Bucket of the drain-rate meter behind Retry-After, ms. */
  rateBucketMs: number;
  /**
   * Per-source fairness while refusing: a newcomer whose source holds fewer than ⌊threshold × reopenRatio /
   * sources holding queued work⌋ queued requests is still admitted (sources as `sourceKey` gives them).
   * Off: every newcomer is refused, whoever holds the queue.
   */
  sourceFairness: boolean;
}

export const defaultAdmissionGateOptions: Readonly<AdmissionGateOptions> = Object.freeze({
  threshold: 256,
  reopenRatio: 0.75,
  maxQueued: 1024,
  minRetryAfterS: 1,
  maxRetryAfterS: 30,
  rateBucketMs: 1000,
  sourceFairness: true,
});

function positiveInteger(name: string, value: number, min = 1): void {
  if (!Number.isInteger(value) || value < min) throw new RangeError(`${name}: integer of at least ${min}`);
}

function positive(name: string, value: number): void {
  if (!(Number.isFinite(value) && value > 0)) throw new RangeError(`${name}: positive number`);
}

function fraction(name: string, value: number, { open = false } = {}): void {
  const ok = open ? value > 0 && value < 1 : value >= 0 && value <= 1;
  if (!ok) throw new RangeError(`${name}: between 0 and 1${open ? ' (exclusive)' : ''}`);
}

export function verifyLimitControllerOptions(o: LimitControllerOptions): void {
  positiveInteger('minLimit', o.minLimit);
  positiveInteger('maxLimit', o.maxLimit, o.minLimit);
  for (const name of ['initialLimit', 'probeLimit'] as const) {
    if (!Number.isInteger(o[name]) || o[name] < o.minLimit || o[name] > o.maxLimit) {
      throw new RangeError(`${name}: integer within [minLimit, maxLimit]`);
    }
  }
  positive('windowMs', o.windowMs);
  positiveInteger('minSamples', o.minSamples);
  positiveInteger('maxWindowSamples', o.maxWindowSamples, o.minSamples);
  fraction('percentile', o.percentile);
  if (!(o.growthTolerance >= 1)) throw new RangeError('growthTolerance: at least 1');
  if (!(o.tolerance >= o.growthTolerance && Number.isFinite(o.tolerance))) throw new RangeError('tolerance: at least growthTolerance');
  fraction('decreaseFloor', o.decreaseFloor, { open: true });
  fraction('maxErrorRatio', o.maxErrorRatio);
  fraction('goodputGain', o.goodputGain);
  positiveInteger('holdWindows', o.holdWindows, 0);
  positiveInteger('probeSamples', o.probeSamples);
  positive('probeMaxMs', o.probeMaxMs);
  positive('probeIntervalMs', o.probeIntervalMs);
  fraction('probeJitter', o.probeJitter);
  positiveInteger('probeAfterMinWindows', o.probeAfterMinWindows);
  positiveInteger('probeMaxDeferMs', o.probeMaxDeferMs, 0);
}

export function verifySiteQueueOptions(o: SiteQueueOptions): void {
  positiveInteger('maxQueue', o.maxQueue, 0);
  positive('queueTimeoutMs', o.queueTimeoutMs);
}

export function verifyAdmissionGateOptions(o: AdmissionGateOptions): void {
  positiveInteger('threshold', o.threshold);
  fraction('reopenRatio', o.reopenRatio, { open: true });
  positiveInteger('maxQueued', o.maxQueued, o.threshold);
  positive('minRetryAfterS', o.minRetryAfterS);
  if (!(o.maxRetryAfterS >= o.minRetryAfterS && Number.isFinite(o.maxRetryAfterS))) {
    throw new RangeError('maxRetryAfterS: at least minRetryAfterS');
  }
  positive('rateBucketMs', o.rateBucketMs);
  if (typeof o.sourceFairness !== 'boolean') throw new RangeError('sourceFairness: boolean');
}
