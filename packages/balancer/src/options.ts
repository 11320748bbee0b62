/**
 * Every tunable of the balancer package, with units and defaults in one place (docs/balancing.md explains
 * each one). `verify*Options` reject values that would make the logic meaningless.
 */

export interface OriginBalancerOptions {
  /**
   * How much more loaded, in requests at that origin, an origin may be than the least-loaded one and still
   * win because it has fewer pending requests of the same type (seed 001 Fig. 7: a server with no pending
   * media requests is favoured over one with one or two). 0 uses the type only to break exact ties.
   */
  typeSlackRequests: number;
  /**
   * An origin whose content is older than the freshest available origin of its list by more than this is
   * stale and gets work only when no fresh origin is open (seed 001: prefer the freshest mirror), s.
   */
  maxLagS: number;
}

export const defaultOriginBalancerOptions: Readonly<OriginBalancerOptions> = Object.freeze({
  typeSlackRequests: 1,
  maxLagS: 60,
});

export interface HealthOptions {
  /** Consecutive successful probes that bring a down origin back, count (HAProxy default). */
  rise: number;
  /** Consecutive failed probes that take an up origin down, count (HAProxy default). */
  fall: number;
  /** Consecutive failed requests (errors or origin timeouts) that take an up origin down, count. */
  passiveFailures: number;
  /**
   * An origin with requests outstanding that has answered nothing for this long is down (seed 003: no
   * acknowledgement for several seconds), ms. `Infinity` disables the check.
   */
  silenceMs: number;
  /** Least time an origin taken down by failed requests stays down, ms; doubles per repeat ejection. */
  passiveHoldMs: number;
  /** Ceiling of that doubling hold, ms; an origin that stays up this long starts again from `passiveHoldMs`. */
  passiveHoldMaxMs: number;
  /** Time over which a recovered origin's weight ramps linearly to full, ms. 0 disables slow start. */
  slowStartMs: number;
  /** Fraction of its weight a recovered origin starts with, 0..1. */
  slowStartFraction: number;
}

export const defaultHealthOptions: Readonly<HealthOptions> = Object.freeze({
  rise: 2,
  fall: 3,
  passiveFailures: 5,
  silenceMs: 10_000,
  passiveHoldMs: 5_000,
  passiveHoldMaxMs: 60_000,
  slowStartMs: 10_000,
  slowStartFraction: 0.1,
});

export interface BackendSelectorOptions {
  /** RTTs below this count as this, ms: differences under a millisecond are noise, not route quality. */
  rttFloorMs: number;
  /** Multiplier on jitter added to RTT (a route that varies is worse than its mean says), dimensionless. */
  jitterWeight: number;
  /** Score multiplier per unit of loss rate: score × (1 + lossWeight × loss); 20 doubles it at 5 % loss. */
  lossWeight: number;
  /** Score multiplier per request in flight on the route: score × (1 + loadWeight × inFlight). */
  loadWeight: number;
  /** Score multiplier per unit of the load the back-end reports for itself (0..1). */
  peerLoadWeight: number;
  /** Routes whose score is within this fraction of the best share the work (least in flight first), dimensionless (0.25 = 25 %). */
  tolerance: number;
  /** A route losing more than this fraction of packets is degraded: used only when no route is acceptable. */
  acceptableLossRate: number;
  /** A route with a longer RTT than this is degraded, ms. */
  acceptableRttMs: number;
}

export const defaultBackendSelectorOptions: Readonly<BackendSelectorOptions> = Object.freeze({
  rttFloorMs: 1,
  jitterWeight: 2,
  lossWeight: 20,
  loadWeight: 1,
  peerLoadWeight: 1,
  tolerance: 0.25,
  acceptableLossRate: 0.05,
  acceptableRttMs: 1_000,
});

/** Bounds on a site's configuration, so lookups stay cheap and maps stay bounded whatever the manager sends. */
export const siteLimits = Object.freeze({
  /** Origins in one list (the site's, or one route's), count. */
  maxOrigins: 256,
  /** Path routes per site, count. */
  maxRoutes: 1024,
});

function check(condition: boolean, field: string, expected: string): void {
  if (!condition) throw new RangeError(`${field}: ${expected}`);
}

const isCount = (value: number): boolean => Number.isInteger(value) && value >= 1;
const isNonNegative = (value: number): boolean => value >= 0 && !Number.isNaN(value);
const isFraction = (value: number): boolean => value >= 0 && value <= 1;

export function verifyOriginBalancerOptions(options: OriginBalancerOptions): void {
  check(isNonNegative(options.typeSlackRequests) && Number.isFinite(options.typeSlackRequests), 'typeSlackRequests', 'a finite number ≥ 0');
  check(isNonNegative(options.maxLagS) && Number.isFinite(options.maxLagS), 'maxLagS', 'a finite number of s ≥ 0');
}

export function verifyHealthOptions(options: HealthOptions): void {
  check(isCount(options.rise), 'health rise', 'an integer ≥ 1');
  check(isCount(options.fall), 'health fall', 'an integer ≥ 1');
  check(isCount(options.passiveFailures), 'health passiveFailures', 'an integer ≥ 1');
  check(options.silenceMs > 0, 'health silenceMs', 'a positive number of ms (Infinity disables)');
  check(isNonNegative(options.passiveHoldMs) && Number.isFinite(options.passiveHoldMs), 'health passiveHoldMs', 'a finite number of ms ≥ 0');
  check(options.passiveHoldMaxMs >= options.passiveHoldMs && Number.isFinite(options.passiveHoldMaxMs), 'health passiveHoldMaxMs', 'finite, at least passiveHoldMs');
  check(isNonNegative(options.slowStartMs) && Number.isFinite(options.slowStartMs), 'health slowStartMs', 'a finite number of ms ≥ 0');
  check(options.slowStartFraction > 0 && options.slowStartFraction <= 1, 'health slowStartFraction', 'in (0, 1]');
}

export function verifyBackendSelectorOptions(options: BackendSelectorOptions): void {
  check(options.rttFloorMs > 0 && Number.isFinite(options.rttFloorMs), 'selector rttFloorMs', 'a positive finite number of ms');
  for (const field of ['jitterWeight', 'lossWeight', 'loadWeight', 'peerLoadWeight', 'tolerance'] as const) {
    check(isNonNegative(options[field]) && Number.isFinite(options[field]), `selector ${field}`, 'a finite number ≥ 0');
  }
  check(isFraction(options.acceptableLossRate), 'selector acceptableLossRate', 'in [0, 1]');
  check(options.acceptableRttMs > 0, 'selector acceptableRttMs', 'a positive number of ms (Infinity disables)');
}
