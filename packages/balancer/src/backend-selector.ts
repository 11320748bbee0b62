import { evaluateRoutes, exclusion, type BackendRoute, type RouteEvaluation } from './backend-score.js';
import { defaultBackendSelectorOptions, verifyBackendSelectorOptions, type BackendSelectorOptions } from './options.js';

export interface BackendSelectorInit {
  /** Uniform in [0, 1); injected so tests are deterministic. */
  random?: () => number;
  options?: Partial<BackendSelectorOptions>;
}

const NOTHING_EXCLUDED: ReadonlySet<string> = new Set();

/**
 * The front-end's choice of back-end route per request (seed 001): routes that are down, unhealthy or at
 * their high-water mark are out; acceptable routes are preferred over degraded ones; among the routes
 * whose score is within `tolerance` of the best, one is drawn at random with probability proportional to
 * 1/score, so several routes carry work at once and a worse one carries less.
 *
 * `routes` is read on every choice, so the selector always sees the tunnels' latest QoS and load.
 */
export class BackendSelector<R extends BackendRoute = BackendRoute> {
  readonly options: Readonly<BackendSelectorOptions>;
  private readonly random: () => number;

  constructor(
    private readonly routes: () => Iterable<R>,
    init: BackendSelectorInit = {},
  ) {
    this.options = Object.freeze({ ...defaultBackendSelectorOptions, ...init.options });
    verifyBackendSelectorOptions(this.options);
    this.random = init.random ?? Math.random;
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
    const best = Math.min(...tier.map((evaluation) => evaluation.score));
    const near = tier.filter((evaluation) => evaluation.score <= best * (1 + this.options.tolerance));
    return this.drawInverseToScore(near).route;
  }

  private drawInverseToScore(near: Array<RouteEvaluation<R>>): RouteEvaluation<R> {
    const total = near.reduce((sum, evaluation) => sum + 1 / evaluation.score, 0);
    let target = this.random() * total;
    for (const evaluation of near) {
      target -= 1 / evaluation.score;
      if (target < 0) return evaluation;
    }
    return near[near.length - 1];
  }
}
