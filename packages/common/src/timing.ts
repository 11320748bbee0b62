/** Monotonic milliseconds; injectable wherever logic depends on time so it can be tested without a real clock. */
export type Clock = () => number;

export const monotonicNow: Clock = () => performance.now();

/**
 * Exponentially weighted moving average with a mean deviation, as TCP keeps SRTT and RTTVAR
 * (RFC 6298: alpha 1/8, beta 1/4).
 */
export class SmoothedValue {
  private smoothed: number | undefined;
  private deviation = 0;
  private latest: number | undefined;

  constructor(
    private readonly alpha = 1 / 8,
    private readonly beta = 1 / 4,
  ) {}

  add(sample: number): void {
    this.latest = sample;
    if (this.smoothed === undefined) {
      this.smoothed = sample;
      this.deviation = sample / 2;
      return;
    }
    this.deviation = (1 - this.beta) * this.deviation + this.beta * Math.abs(this.smoothed - sample);
    this.smoothed = (1 - this.alpha) * this.smoothed + this.alpha * sample;
  }

  get value(): number | undefined {
    return this.smoothed;
  }

  get jitter(): number {
    return this.deviation;
  }

  /** The last sample added, unsmoothed. */
  get last(): number | undefined {
    return this.latest;
  }
}

export interface BackoffOptions {
  /** First delay, ms. */
  initialMs: number;
  /** Ceiling, ms. */
  maxMs: number;
  /** Multiplier per failed attempt. */
  factor: number;
  /** Fraction of the delay randomized away (0..1), so many gateways do not retry in lockstep. */
  jitter: number;
}

export const defaultBackoff: BackoffOptions = { initialMs: 100, maxMs: 10_000, factor: 2, jitter: 0.2 };

/** Delays for reconnect attempts: grows geometrically to a ceiling, with jitter; reset on success. */
export class Backoff {
  private attempt = 0;

  constructor(
    private readonly options: BackoffOptions = defaultBackoff,
    private readonly random: () => number = Math.random,
  ) {}

  next(): number {
    const { initialMs, maxMs, factor, jitter } = this.options;
    const base = Math.min(maxMs, initialMs * factor ** this.attempt);
    this.attempt++;
    return Math.round(base * (1 - jitter * this.random()));
  }

  reset(): void {
    this.attempt = 0;
  }

  get attempts(): number {
    return this.attempt;
  }
}

export interface PollOptions {
  /** Give up after this long, ms. */
  timeoutMs: number;
  /** Pause between tries, ms. */
  intervalMs?: number;
}

/**
 * Tries `check` until it returns true (a throw counts as "not yet"), pausing `intervalMs` (default 100)
 * between tries. True when it passed, false when `timeoutMs` ran out: what failing means is the caller's.
 */
export async function pollUntil(check: () => boolean | Promise<boolean>, options: PollOptions): Promise<boolean> {
  const deadline = performance.now() + options.timeoutMs;
  for (;;) {
    if (await Promise.resolve().then(check).catch(() => false)) return true;
    if (performance.now() >= deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, options.intervalMs ?? 100));
  }
}
