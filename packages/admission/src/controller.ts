import { monotonicNow, type Clock } from '@overlay/common';
import { LatencyWindow } from './latency-window.js';
import { defaultLimitControllerOptions, verifyLimitControllerOptions, type LimitControllerOptions } from './options.js';
import type { LimitControl, Sample, SampleContext } from './sample.js';

export type ControllerPhase = 'probing' | 'adapting';

export type AdjustReason =
  /** Baseline re-measurement starts: concurrency drops to probeLimit. */
  | 'probe-start'
  /** Baseline measured: the limit from before the probe (or initialLimit) returns. */
  | 'probe-end'
  /** Latency inside the band's lower part and work waiting: additive increase. */
  | 'grow'
  /** Latency past the band: multiplicative decrease by the gradient. */
  | 'congested'
  /** Too many failures in a window: multiplicative decrease by decreaseFloor. */
  | 'errors'
  /** Latency inside the band's upper part and nothing queued: one less. */
  | 'idle-latency'
  /** Latency inside the band's upper part with work queued: one more, kept only if goodput follows. */
  | 'band-trial'
  /** The last increase did not raise completed requests/s: undone, increases held. */
  | 'goodput-plateau'
  /**
   * The last latency decrease cost completed requests/s in proportion: the latency was not the origin's
   * congestion (a starved host, a slow network) but the limit was the bottleneck. Undone, latency
   * decreases held.
   */
  | 'goodput-loss'
  /** The ceiling (this gateway's share of an origin budget split across back-ends) fell below the limit. */
  | 'share';

export interface LimitAdjustment {
  from: number;
  to: number;
  reason: AdjustReason;
  /** When it happened, ms on the injected clock. */
  at: number;
}

export interface ControllerSnapshot {
  limit: number;
  phase: ControllerPhase;
  /** Latency of the unloaded origin as last measured, ms. */
  baselineMs: number | undefined;
  /** The last closed window's latency percentile, ms. */
  sampleMs: number | undefined;
  /** The last closed window's completed requests/s. */
  goodputPerSec: number;
  /** The last closed window's response bytes/s. */
  bytesPerSec: number;
}

export interface LimitControllerDeps {
  now?: Clock;
  /** Uniform in [0, 1), for probe jitter. */
  random?: () => number;
  /** Called on every limit change (logs, metrics, tests). */
  onAdjust?: (adjustment: LimitAdjustment) => void;
}

/** A change waiting for the next loaded window's goodput to judge it. */
interface PendingChange {
  from: number;
  goodputBefore: number;
}

/**
 * Adapts one origin's concurrency limit to what it serves well (seed 000's feedback loop, shaped after
 * Netflix's Gradient2/Vegas and Envoy's gradient controller). Per closed window of completions:
 * latency below baseline × growthTolerance with work queued → grow by ⌈√limit⌉; between that and
 * baseline × tolerance → one more on trial while work is queued, or one less if nothing is; past it →
 * multiply by the gradient;
 * an increase that did not raise goodput is undone, and so is a latency decrease that cost goodput in
 * proportion (the origin was not what was slow). The baseline is re-probed at low concurrency now
 * and then. docs/admission.md has the full law.
 */
export class LimitController implements LimitControl {
  readonly options: Readonly<LimitControllerOptions>;
  private readonly now: Clock;
  private readonly random: () => number;
  private readonly onAdjust: ((adjustment: LimitAdjustment) => void) | undefined;

  private current: number;
  private phase: ControllerPhase = 'probing';
  private resumeLimit: number;
  private probeStartedAt: number;
  private nextProbeAt = Infinity;
  private baselineMs: number | undefined;
  private windowsAtMin = 0;
  private windowIndex = 0;
  private holdUntilWindow = -1;
  private pendingIncrease: PendingChange | undefined;
  private pendingDecrease: PendingChange | undefined;
  /** Latency decreases wait until this window (after one was undone for its goodput loss). */
  private congestionHoldUntilWindow = -1;
  /** Highest limit allowed from outside (a share of a budget split across gateways); Infinity when none. */
  private ceiling = Infinity;
  /**
   * The law's own limit while the ceiling holds the applied one below it, else undefined: a share that
   * dips and comes back restores the limit the law had reached instead of leaving it to regrow.
   */
  private capped: number | undefined;

  /** The open window (or, while probing, the probe's samples). */
  private readonly latencies: LatencyWindow;
  private windowStartedAt: number;
  private succeeded = 0;
  private failed = 0;
  private bytes = 0;
  private queuedSeen = false;
  /** Most requests in flight at any completion of the open window. */
  private peakInFlight = 0;
  /** When the origin last had nothing left in flight or queued, ms; undefined while busy. */
  private idleSince: number | undefined;

  private last: Pick<ControllerSnapshot, 'sampleMs' | 'goodputPerSec' | 'bytesPerSec'> = {
    sampleMs: undefined,
    goodputPerSec: 0,
    bytesPerSec: 0,
  };

  constructor(options: Partial<LimitControllerOptions> = {}, deps: LimitControllerDeps = {}) {
    this.options = Object.freeze({ ...defaultLimitControllerOptions, ...options });
    verifyLimitControllerOptions(this.options);
    this.now = deps.now ?? monotonicNow;
    this.random = deps.random ?? Math.random;
    this.onAdjust = deps.onAdjust;
    this.latencies = new LatencyWindow(Math.max(this.options.maxWindowSamples, this.options.probeSamples));
    // The first baseline is measured before anything else, so start as a probe (when probing at all).
    this.current = this.options.probing ? this.options.probeLimit : this.options.initialLimit;
    this.resumeLimit = this.options.initialLimit;
    this.probeStartedAt = this.windowStartedAt = this.now();
    if (!this.options.probing) this.phase = 'adapting';
  }

  get limit(): number {
    return this.current;
  }

  /**
   * Keeps the law inside `ceiling` (this gateway's share of an origin's budget): the limit never rises
   * above it and drops to it at once when it falls; when it rises again the limit returns to what the law
   * had before the cut (never above the new ceiling). The result may go below minLimit (a share of 0 or 1).
   */
  setCeiling(ceiling: number): void {
    if (!(ceiling >= 0)) throw new RangeError('ceiling: a number of at least 0');
    this.ceiling = ceiling;
    this.set(this.capped ?? this.current, 'share', this.now());
  }

  get snapshot(): ControllerSnapshot {
    return { limit: this.current, phase: this.phase, baselineMs: this.baselineMs, ...this.last };
  }

  onSample(sample: Sample, context: SampleContext): void {
    const now = this.now();
    if (this.phase === 'probing') {
      this.probeSample(sample, context, now);
      return;
    }
    // Goodput is only meaningful while work flowed: a window that spans a pause (nothing in flight for
    // longer than a window) starts over, so an increase is judged on busy time only.
    if (this.idleSince !== undefined && now - sample.latencyMs - this.idleSince > this.options.windowMs) this.resetWindow(now);
    this.idleSince = context.inFlight <= 1 && context.queued === 0 ? now : undefined;
    if (sample.ok) {
      this.succeeded++;
      this.latencies.add(sample.latencyMs);
    } else {
      this.failed++;
    }
    this.bytes += sample.bytes;
    if (context.queued > 0) this.queuedSeen = true;
    this.peakInFlight = Math.max(this.peakInFlight, context.inFlight);
    if (now - this.windowStartedAt < this.options.windowMs || this.succeeded + this.failed < this.options.minSamples) return;
    if (this.options.probing && (this.windowsAtMin >= this.options.probeAfterMinWindows || this.probeDue(now))) this.startProbe(now);
    else this.closeWindow(now);
  }

  /**
   * A periodic probe waits while work is queued (probing a loaded origin at probeLimit would starve it),
   * but not past probeMaxDeferMs; meanwhile any faster window still lowers the baseline.
   */
  private probeDue(now: number): boolean {
    if (now < this.nextProbeAt) return false;
    return !this.queuedSeen || now >= this.nextProbeAt + this.options.probeMaxDeferMs;
  }

  private probeSample(sample: Sample, context: SampleContext, now: number): void {
    // Requests sent before the probe finish at the old concurrency; their latency is not the baseline.
    if (sample.ok && context.inFlight <= this.options.probeLimit) this.latencies.add(sample.latencyMs);
    if (this.latencies.count >= this.options.probeSamples || now - this.probeStartedAt >= this.options.probeMaxMs) {
      this.endProbe(now);
    }
  }

  private startProbe(now: number): void {
    this.phase = 'probing';
    // An increase not yet judged by its goodput is not carried over the probe.
    this.resumeLimit = this.pendingIncrease?.from ?? this.capped ?? this.current;
    this.pendingIncrease = this.pendingDecrease = undefined;
    this.probeStartedAt = now;
    this.latencies.clear();
    this.set(this.options.probeLimit, 'probe-start', now);
  }

  private endProbe(now: number): void {
    const { percentile, probeIntervalMs, probeJitter } = this.options;
    this.baselineMs = this.latencies.percentile(percentile) ?? this.baselineMs;
    this.phase = 'adapting';
    this.nextProbeAt = now + probeIntervalMs * (1 + probeJitter * (2 * this.random() - 1));
    this.windowsAtMin = 0;
    // The first window after a probe includes the ramp back up: too low a goodput to judge an increase by.
    this.holdUntilWindow = Math.max(this.holdUntilWindow, this.windowIndex + 1);
    this.resetWindow(now);
    this.set(this.resumeLimit, 'probe-end', now);
  }

  private closeWindow(now: number): void {
    const seconds = (now - this.windowStartedAt) / 1000;
    const sampleMs = this.latencies.percentile(this.options.percentile);
    const goodputPerSec = this.succeeded / seconds;
    this.last = { sampleMs, goodputPerSec, bytesPerSec: this.bytes / seconds };
    const decision = this.decide(sampleMs, this.failed / (this.succeeded + this.failed), goodputPerSec, this.queuedSeen, this.peakInFlight);
    this.windowIndex++;
    this.resetWindow(now);
    if (decision) this.set(decision[0], decision[1], now);
    // Held at minLimit by a share is no sign of a stale baseline: only the law's own minimum counts.
    this.windowsAtMin = (this.capped ?? this.current) <= this.options.minLimit ? this.windowsAtMin + 1 : 0;
  }

  private decide(
    sampleMs: number | undefined,
    errorRatio: number,
    goodputPerSec: number,
    saturated: boolean,
    peakInFlight: number,
  ): [number, AdjustReason] | undefined {
    const { tolerance, growthTolerance, decreaseFloor, maxErrorRatio, goodputGain, holdWindows } = this.options;
    const limit = this.current;
    const pending = this.pendingIncrease;
    const decreased = this.pendingDecrease;
    this.pendingIncrease = this.pendingDecrease = undefined;
    if (sampleMs === undefined || errorRatio > maxErrorRatio) return [shrink(limit, decreaseFloor), 'errors'];

    // A window at higher concurrency that was faster than the baseline means the baseline was high.
    const baselineMs = Math.min(this.baselineMs ?? sampleMs, sampleMs);
    this.baselineMs = baselineMs;

    // Only a window that had work waiting shows what the origin can do at this limit.
    if (pending && saturated) {
      const wanted = pending.goodputBefore * (1 + (goodputGain * (limit - pending.from)) / pending.from);
      if (goodputPerSec < wanted) {
        this.holdUntilWindow = this.windowIndex + 1 + holdWindows;
        return [pending.from, 'goodput-plateau'];
      }
    }

    // A congested origin serves as much or more with fewer requests; losing throughput in proportion to
    // the cut means the limit, not the origin, was the bottleneck (half the proportional loss suffices).
    if (decreased && decreased.from > limit && saturated && goodputPerSec < decreased.goodputBefore * (1 - (decreased.from - limit) / decreased.from / 2)) {
      this.congestionHoldUntilWindow = this.windowIndex + 1 + holdWindows;
      return [decreased.from, 'goodput-loss'];
    }

    // Latency measured at a small fraction of the limit says nothing about the limit (slow requests on a
    // quiet origin): only a window that used at least half of it may lower it for latency.
    const limitTested = saturated || peakInFlight * 2 >= limit;
    const gradient = (baselineMs * tolerance) / sampleMs;
    if (gradient < 1) {
      if (!limitTested || this.windowIndex < this.congestionHoldUntilWindow) return undefined;
      if (saturated) this.pendingDecrease = { from: limit, goodputBefore: goodputPerSec };
      return [shrink(limit, Math.max(decreaseFloor, gradient)), 'congested'];
    }
    if (sampleMs <= baselineMs * growthTolerance) {
      if (!saturated || this.windowIndex < this.holdUntilWindow || limit >= this.top()) return undefined;
      this.pendingIncrease = { from: limit, goodputBefore: goodputPerSec };
      return [limit + Math.ceil(Math.sqrt(limit)), 'grow'];
    }
    if (!saturated) return limitTested ? [limit - 1, 'idle-latency'] : undefined;
    // Inside the band with work waiting, latency cannot tell a loaded origin from a loaded gateway host
    // (whose delay is in every sample until the next probe); goodput can: try one more, judged as any increase.
    // Not right after a latency cut that kept its goodput: that showed the origin congested.
    if (decreased || this.windowIndex < this.holdUntilWindow || limit >= this.top()) return undefined;
    this.pendingIncrease = { from: limit, goodputBefore: goodputPerSec };
    return [limit + 1, 'band-trial'];
  }

  /** The highest limit the law may set: maxLimit, or the ceiling when lower. */
  private top(): number {
    return Math.min(this.options.maxLimit, this.ceiling);
  }

  private set(limit: number, reason: AdjustReason, at: number): void {
    const wanted = Math.min(this.options.maxLimit, Math.max(this.options.minLimit, Math.round(limit)));
    const to = Math.min(this.top(), wanted);
    this.capped = wanted > to ? wanted : undefined;
    if (to === this.current) return;
    const from = this.current;
    this.current = to;
    this.onAdjust?.({ from, to, reason, at });
  }

  private resetWindow(now: number): void {
    this.windowStartedAt = now;
    this.latencies.clear();
    this.succeeded = 0;
    this.failed = 0;
    this.bytes = 0;
    this.queuedSeen = false;
    this.peakInFlight = 0;
  }
}

/** A multiplicative decrease that always takes at least one off. */
function shrink(limit: number, factor: number): number {
  return Math.min(limit - 1, Math.floor(limit * factor));
}
