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
  /** Fraction of packets lost or retransmitted, 0..1; undefined where the kernel does not tell. */
  lossRate?: number;
  /** Requests or streams this front-end has in flight on the route. */
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
 * Scores every route (docs/balancing.md has the formula):
 *   score = (max(rtt, rttFloor) + jitterWeight·jitter) × (1 + lossWeight·loss)
 *           × (1 + loadWeight·inFlight/highWater + peerLoadWeight·peerLoad)
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
    if (out) return { route, verdict: out, score: Infinity };
    const rtt = isKnown(route.rttMs) ? route.rttMs : fill.rttMs;
    const jitter = isKnown(route.jitterMs) ? route.jitterMs : fill.jitterMs;
    const loss = clampFraction(isKnown(route.lossRate) ? route.lossRate : fill.lossRate);
    const peerLoad = clampFraction(isKnown(route.peerLoad) ? route.peerLoad : fill.peerLoad);
    const occupancy = clampFraction(route.inFlight / route.highWater);
    const delay = Math.max(rtt, options.rttFloorMs) + options.jitterWeight * jitter;
    const score = delay * (1 + options.lossWeight * loss) * (1 + options.loadWeight * occupancy + options.peerLoadWeight * peerLoad);
    return { route, verdict: isDegraded(route, options) ? 'degraded' : 'acceptable', score };
  });
}
