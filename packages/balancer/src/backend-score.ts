import type { BackendSelectorOptions } from './options.js';

/** What the front-end knows about one route (tunnel) to a back-end gateway. */
export interface BackendRoute {
  id: string;
  /** The tunnel is up. */
  connected: boolean;
  /** The back-end says it can serve (not draining, not failing its own checks). */
  healthy: boolean;
  /** Smoothed round-trip time, ms; undefined while unmeasured. */
  rttMs?: number;
  /** RTT mean deviation, ms. */
  jitterMs?: number;
  /**
   * The latest RTT sample, ms. When it is below the smoothed `rttMs` the route has recovered from a
   * congestion the smoothed value (and its jitter) still remembers: the score trusts the sample.
   */
  rttRecentMs?: number;
  /** Fraction of packets lost or retransmitted, 0..1; undefined where the kernel does not tell. */
  lossRate?: number;
  /** Requests or streams this front-end has in flight on the route: assigned, not yet answered. */
  inFlight: number;
  /** High-water mark of in-flight work: at or above it the route takes nothing new (seed 001 Fig. 6). */
  highWater: number;
  /** Load the back-end reports for itself across all its front-ends, 0..1. */
  peerLoad?: number;
}

/**
 * `acceptable` and `degraded` routes may be chosen (degraded only when no acceptable one is left); the
 * other verdicts say why a route is out.
 */
export type RouteVerdict = 'acceptable' | 'degraded' | 'excluded' | 'disconnected' | 'unhealthy' | 'full';

export interface RouteEvaluation<R extends BackendRoute = BackendRoute> {
  route: R;
  verdict: RouteVerdict;
  /** Estimated cost of sending the next request here (ms-like, lower is better); Infinity when out. */
  score: number;
  /** The route's link quality alone: `score` without the requests in flight (Infinity when out). */
  quality: number;
}

const isKnown = (value: number | undefined): value is number => value !== undefined && Number.isFinite(value) && value >= 0;
const clampFraction = (value: number): number => Math.min(1, Math.max(0, value));

/** Mean of the measured values; a route missing a measurement is neither rewarded nor punished for it. */
function meanOfKnown(values: Array<number | undefined>): number {
  const known = values.filter(isKnown);
  return known.length === 0 ? 0 : known.reduce((sum, value) => sum + value, 0) / known.length;
}

/** Why a route cannot take new work, or undefined when it can. */
export function exclusion(route: BackendRoute, excluding: ReadonlySet<string>): RouteVerdict | undefined {
  if (excluding.has(route.id)) return 'excluded';
  if (!route.connected) return 'disconnected';
  if (!route.healthy) return 'unhealthy';
  if (!(route.inFlight < route.highWater)) return 'full';
  return undefined;
}

function isDegraded(route: BackendRoute, options: BackendSelectorOptions): boolean {
  return (isKnown(route.lossRate) && route.lossRate > options.acceptableLossRate)
    || (isKnown(route.rttMs) && route.rttMs > options.acceptableRttMs);
}

/**
 * The delay a route's next request should expect, ms: RTT plus weighted jitter, where a latest sample below
 * the smoothed RTT (a route out of congestion) replaces the RTT and scales the jitter down by as much, so
 * old congestion is forgotten at the first sample that shows it is over.
 */
function expectedDelay(rtt: number, jitter: number, recent: number | undefined, options: BackendSelectorOptions): number {
  const recovered = recent !== undefined && isKnown(recent) && recent < rtt;
  const ratio = recovered && rtt > 0 ? recent / rtt : 1;
  return Math.max(recovered ? recent : rtt, options.rttFloorMs) + options.jitterWeight * jitter * ratio;
}

/**
 * Scores every route (docs/balancing.md has the formula):
 *   score = delay × (1 + lossWeight·loss) × (1 + peerLoadWeight·peerLoad) × (1 + loadWeight·inFlight)
 * i.e. the cost of one more request behind the ones already assigned to the route and not yet answered.
 * Unmeasured rtt, jitter, loss and peer load take the mean of the usable routes that measured them.
 */
export function evaluateRoutes<R extends BackendRoute>(
  routes: Iterable<R>,
  options: BackendSelectorOptions,
  excluding: ReadonlySet<string> = new Set(),
): Array<RouteEvaluation<R>> {
  const all = [...routes];
  const usable = all.filter((route) => exclusion(route, excluding) === undefined);
  const fill = {
    rttMs: meanOfKnown(usable.map((route) => route.rttMs)),
    jitterMs: meanOfKnown(usable.map((route) => route.jitterMs)),
    lossRate: meanOfKnown(usable.map((route) => route.lossRate)),
    peerLoad: meanOfKnown(usable.map((route) => route.peerLoad)),
  };
  return all.map((route) => {
    const out = exclusion(route, excluding);
    if (out) return { route, verdict: out, score: Infinity, quality: Infinity };
    const rtt = isKnown(route.rttMs) ? route.rttMs : fill.rttMs;
    const jitter = isKnown(route.jitterMs) ? route.jitterMs : fill.jitterMs;
    const loss = clampFraction(isKnown(route.lossRate) ? route.lossRate : fill.lossRate);
    const peerLoad = clampFraction(isKnown(route.peerLoad) ? route.peerLoad : fill.peerLoad);
    const delay = expectedDelay(rtt, jitter, route.rttRecentMs, options);
    const quality = delay * (1 + options.lossWeight * loss) * (1 + options.peerLoadWeight * peerLoad);
    const score = quality * (1 + options.loadWeight * Math.max(0, route.inFlight));
    return { route, verdict: isDegraded(route, options) ? 'degraded' : 'acceptable', score, quality };
  });
}
