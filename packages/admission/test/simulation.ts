import {
  LimitController, OriginLimit, StaticLimit, modelServiceTimeMs,
  type LimitAdjustment, type LimitControllerOptions, type OriginModel,
} from '@overlay/admission';
import { seededRandom } from './fake-timers.js';

export interface SimulationOptions {
  /** The origin, possibly changing over time (ms since start). */
  model: OriginModel | ((atMs: number) => OriginModel);
  /** Adaptive limit with these options, or a fixed limit. */
  limit: Partial<LimitControllerOptions> | { fixed: number };
  durationMs: number;
  /** Closed-loop clients, each sending its next request as soon as the last ends; Infinity = endless backlog. */
  clients?: number;
  /** Share of requests that fail, 0..1. */
  failureRatio?: number;
  /** Service times vary by ±jitter (fraction) so requests do not finish in lockstep. */
  jitter?: number;
  seed?: number;
  /** Stop early after this many completions (keeps property runs fast). */
  maxCompletions?: number;
  /**
   * Delay the gateway's host adds to every request started at a time (ms since start): a starved event
   * loop. The slot is held and the latency measured that much longer; the origin itself is unchanged.
   */
  hostDelayMs?: (atMs: number) => number;
}

export interface SimulationResult {
  /** Limit changes as the controller made them. */
  adjustments: LimitAdjustment[];
  /** [time ms, limit, inFlight] after every completion. */
  trace: Array<[number, number, number]>;
  /** Completion times, ms. */
  completions: number[];
  /** Largest inFlight seen right after a request was sent, and the limit at that moment. */
  worstGrant: { inFlight: number; limit: number };
  endMs: number;
}

interface Running {
  at: number;
  latencyMs: number;
  ok: boolean;
}

/**
 * Discrete-event run of one origin behind an OriginLimit: whenever a slot is free and a client is
 * waiting, a request starts with the model's service time at the concurrency it starts into.
 */
export function simulate(options: SimulationOptions): SimulationResult {
  const random = seededRandom(options.seed ?? 1);
  const clients = options.clients ?? Infinity;
  const jitter = options.jitter ?? 0.1;
  const modelAt = typeof options.model === 'function' ? options.model : () => options.model as OriginModel;
  let now = 0;
  const adjustments: LimitAdjustment[] = [];
  const control =
    'fixed' in options.limit
      ? new StaticLimit(options.limit.fixed)
      : new LimitController(options.limit, { now: () => now, random, onAdjust: (a) => adjustments.push(a) });
  const origin = new OriginLimit('sim', control);
  const running: Running[] = [];
  const result: SimulationResult = { adjustments, trace: [], completions: [], worstGrant: { inFlight: 0, limit: Infinity }, endMs: 0 };

  const fill = (): void => {
    while (origin.inFlight < clients && origin.acquire()) {
      if (origin.inFlight - origin.limit > result.worstGrant.inFlight - result.worstGrant.limit) {
        result.worstGrant = { inFlight: origin.inFlight, limit: origin.limit };
      }
      const base = modelServiceTimeMs(modelAt(now), origin.inFlight);
      const latencyMs = base * (1 + jitter * (2 * random() - 1)) + (options.hostDelayMs?.(now) ?? 0);
      const ok = random() >= (options.failureRatio ?? 0);
      insertSorted(running, { at: now + latencyMs, latencyMs, ok });
    }
  };

  fill();
  const maxCompletions = options.maxCompletions ?? Infinity;
  while (running.length > 0 && result.completions.length < maxCompletions) {
    const next = running.shift() as Running;
    if (next.at > options.durationMs) break;
    now = next.at;
    // Clients not in flight are waiting for a slot (the backlog is capped to keep the number finite).
    const waiting = Math.min(clients, 1e6) - origin.inFlight;
    origin.release({ latencyMs: next.latencyMs, ok: next.ok, bytes: 1000 }, waiting);
    result.completions.push(now);
    result.trace.push([now, origin.limit, origin.inFlight]);
    fill();
  }
  result.endMs = now;
  return result;
}

/** Completed requests/s between two instants. */
export function throughputBetween(result: SimulationResult, fromMs: number, toMs: number): number {
  const count = result.completions.filter((t) => t >= fromMs && t < toMs).length;
  return (count * 1000) / (toMs - fromMs);
}

/** Time-weighted mean of the limit between two instants. */
export function meanLimitBetween(result: SimulationResult, fromMs: number, toMs: number): number {
  let weighted = 0;
  let lastT = fromMs;
  let lastLimit = result.trace.find(([t]) => t >= fromMs)?.[1] ?? 0;
  for (const [t, limit] of result.trace) {
    if (t < fromMs) {
      lastLimit = limit;
      continue;
    }
    if (t >= toMs) break;
    weighted += lastLimit * (t - lastT);
    lastT = t;
    lastLimit = limit;
  }
  weighted += lastLimit * (toMs - lastT);
  return weighted / (toMs - fromMs);
}

/** Keeps the pending completions ordered by time; binary search, as thousands may be pending. */
function insertSorted(list: Running[], item: Running): void {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((list[mid] as Running).at <= item.at) lo = mid + 1;
    else hi = mid;
  }
  list.splice(lo, 0, item);
}
