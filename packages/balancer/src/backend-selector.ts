import { evaluateRoutes, exclusion, type BackendRoute, type RouteEvaluation } from './backend-score.js';
import { defaultBackendSelectorOptions, verifyBackendSelectorOptions, type BackendSelectorOptions } from './options.js';

export interface BackendSelectorInit {
  options?: Partial<BackendSelectorOptions>;
}

const NOTHING_EXCLUDED: ReadonlySet<string> = new Set();

/**
 * The front-end's choice of back-end route per request (seed 001): routes that are down, unhealthy or at
 * their high-water mark are out; acceptable routes are preferred over degraded ones; among the routes
 * whose score, or whose link quality alone, is within `tolerance` of the best, the one with the fewest
 * requests in flight wins (ties in turn). The score grows with every request assigned and not yet answered, so the choice needs no
 * randomness: equal routes under concurrent load stay within one request of each other, whatever the
 * timing, and a worse route joins in as soon as the better one's queue makes them near.
 *
 * `routes` is read on every choice, so the selector always sees the tunnels' latest QoS and load.
 */
export class BackendSelector<R extends BackendRoute = BackendRoute> {
  readonly options: Readonly<BackendSelectorOptions>;
  /** The route picked last, so ties go round in listing order. */
  private lastId: string | undefined;

  constructor(
    private readonly routes: () => Iterable<R>,
    init: BackendSelectorInit = {},
  ) {
    this.options = Object.freeze({ ...defaultBackendSelectorOptions, ...init.options });
    verifyBackendSelectorOptions(this.options);
  }

  /** The route for a new request, or undefined when every route is out. */
  pick(): R | undefined {
    return this.choose(NOTHING_EXCLUDED);
  }

  /** A route for retrying work that failed on (or was refused by) the `excluding` routes. */
  alternate(excluding: Iterable<string>): R | undefined {
    return this.choose(new Set(excluding));
  }

  /** Every route with its verdict and score, for the admin API and metrics. */
  evaluate(excluding: Iterable<string> = []): Array<RouteEvaluation<R>> {
    return evaluateRoutes(this.routes(), this.options, new Set(excluding));
  }

  private choose(excluding: ReadonlySet<string>): R | undefined {
    const listed = this.routes();
    const routes = Array.isArray(listed) ? (listed as readonly R[]) : [...listed];
    // A lone route (a site with one back-end) is the choice whenever it can take work: no scoring per request.
    if (routes.length === 1) return exclusion(routes[0], excluding) === undefined ? routes[0] : undefined;
    const evaluations = evaluateRoutes(routes, this.options, excluding);
    const acceptable = evaluations.filter((evaluation) => evaluation.verdict === 'acceptable');
    const tier = acceptable.length > 0 ? acceptable : evaluations.filter((evaluation) => evaluation.verdict === 'degraded');
    if (tier.length === 0) return undefined;
    // Near the best: by cost with the queues counted, or by link quality alone, so routes whose measured
    // RTTs differ only by noise (within `tolerance`) share the load evenly rather than by that noise.
    const best = Math.min(...tier.map((evaluation) => evaluation.score));
    const bestQuality = Math.min(...tier.map((evaluation) => evaluation.quality));
    const nearness = 1 + this.options.tolerance;
    const near = tier
      .filter((evaluation) => evaluation.score <= best * nearness || evaluation.quality <= bestQuality * nearness)
      .map((evaluation) => evaluation.route);
    const fewest = Math.min(...near.map((route) => route.inFlight));
    const least = near.filter((route) => route.inFlight === fewest).sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    // Round-robin in id order: the first tied route after the one picked last.
    const last = this.lastId;
    const chosen = (last === undefined ? undefined : least.find((route) => route.id > last)) ?? least[0];
    this.lastId = chosen.id;
    return chosen;
  }
}
