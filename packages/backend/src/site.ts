import type { OriginLimit, PickOrigin } from '@overlay/admission';
import { OriginBalancer, RouteTable, requestTypeOf, type Origin, type OriginBalancerOptions, type OriginHealthView, type RequestInfo } from '@overlay/balancer';
import type { QueueConfig, SiteConfig, SiteMode } from './config.js';
import type { OriginRegistry } from './origins.js';
import { ReleaseRanker } from './release-order.js';
import { RouteQueue } from './route-queue.js';

/** Metric label and log name of a site's own origin list (routes are named by their prefix). */
export const SITE_LIST = '*';

export interface SiteDeps {
  origins: OriginRegistry;
  health: OriginHealthView;
}

/** Where a request waits and which origins may serve it. */
export interface RouteChoice {
  /** `*` for the site's own list, else the route's path prefix. */
  key: string;
  queue: RouteQueue;
  origins: readonly Origin[];
}

/**
 * One site: its origin lists (the site's and one per path route, seed 002), a FIFO queue in front of each
 * (seed 000) and the balancer that picks an origin with a free slot (fresh-first, primary-first, least outstanding per
 * weight, seed 001). Requests of different routes wait in different queues, so a saturated route never
 * holds up another.
 */
export class SiteRuntime {
  readonly name: string;
  mode: SiteMode;
  /** TCP sites: the PROXY protocol version each origin connection starts with (the client's address), if any. */
  proxyProtocol: 1 | 2 | undefined;
  /** `Host` for the origins instead of the client's (config `originHost`). */
  originHost: string | undefined;
  private table: RouteTable;
  private readonly balancer: OriginBalancer;
  private readonly queues = new Map<string, RouteQueue>();
  private listKeys = new Map<readonly Origin[], string>();
  /** The queue rank of each request (FIFO unless the site asks for release by type or size). */
  ranker: ReleaseRanker;
  private releaseOrder: SiteConfig['queueRelease'];

  constructor(name: string, config: SiteConfig, queue: QueueConfig, private readonly deps: SiteDeps) {
    this.name = name;
    this.mode = config.mode;
    this.proxyProtocol = config.proxyProtocol;
    this.originHost = config.originHost;
    this.table = new RouteTable(config);
    this.balancer = new OriginBalancer({ site: config, health: deps.health, load: (id) => deps.origins.get(id)?.limit, options: balancerOptions(config) });
    this.ranker = new ReleaseRanker(config.queueRelease);
    this.apply(config, queue);
  }

  /** A config push: new lists and routes; queues of lists that remain keep their waiters. */
  apply(config: SiteConfig, queue: QueueConfig): void {
    this.mode = config.mode;
    this.proxyProtocol = config.proxyProtocol;
    this.originHost = config.originHost;
    this.table = new RouteTable(config);
    this.balancer.setSite(config);
    this.balancer.setOptions(balancerOptions(config));
    if (JSON.stringify(config.queueRelease) !== JSON.stringify(this.releaseOrder)) this.ranker = new ReleaseRanker(config.queueRelease);
    this.releaseOrder = config.queueRelease;
    const lists = new Map<string, readonly Origin[]>([[SITE_LIST, this.table.siteOrigins]]);
    for (const route of config.routes) lists.set(route.pathPrefix, this.table.originsFor(route.pathPrefix));
    this.listKeys = new Map([...lists].map(([key, list]) => [list, key]));
    for (const [key, list] of lists) {
      const limits = this.limitsOf(list);
      const existing = this.queues.get(key);
      if (existing) {
        existing.setOrigins(limits);
        existing.setOptions(queue);
      } else {
        this.queues.set(key, new RouteQueue(limits, queue, { healthy: (origin) => this.deps.health.isAvailable(origin.id) }));
      }
    }
    for (const [key, routeQueue] of this.queues) {
      if (lists.has(key)) continue;
      routeQueue.close();
      this.queues.delete(key);
    }
  }

  /** The list a request target selects: the longest matching route prefix, else the site's. */
  route(target: string): RouteChoice {
    const origins = this.table.originsFor(target);
    const key = this.listKeys.get(origins) ?? SITE_LIST;
    return { key, origins, queue: this.queues.get(key) as RouteQueue };
  }

  /** The queue's choice among origins with a free slot, leaving out `exclude` (origins that already failed to connect). */
  picker(request: RequestInfo, exclude: ReadonlySet<string>): PickOrigin {
    return (candidates) => {
      const allowed = candidates.filter((origin) => !exclude.has(origin.id)).map((origin) => origin.id);
      const chosen = this.balancer.pick(request, allowed);
      return chosen && candidates.find((origin) => origin.id === chosen.id);
    };
  }

  /** Counts a request sent to an origin by type (seed 001 Fig. 7); call the result when it ends. */
  track(originId: string, request: RequestInfo): () => void {
    return this.balancer.track(originId, requestTypeOf(request));
  }

  /** Waiting requests per list, for metrics. */
  queueLengths(): Array<{ route: string; length: number }> {
    return [...this.queues].map(([route, queue]) => ({ route, length: queue.length }));
  }

  /**
   * How hard the site's origins are pressed, 0..1, for the busiest list that has a healthy origin: up to 0.5
   * as their slots fill (in flight / limit), 0.5 to 1 as the queue fills (waiting / maxQueue).
   */
  pressure(): number {
    let highest = 0;
    for (const queue of this.queues.values()) {
      const healthy = queue.limits.filter((origin) => this.deps.health.isAvailable(origin.id));
      if (healthy.length === 0) continue;
      const waiting = queue.length;
      const pressure = waiting > 0
        ? 0.5 + 0.5 * Math.min(1, waiting / Math.max(1, queue.maxQueue))
        : 0.5 * Math.min(1, sum(healthy, (o) => o.inFlight) / Math.max(1, sum(healthy, (o) => o.limit)));
      highest = Math.max(highest, pressure);
    }
    return highest;
  }

  /** Serves waiters now (an origin came up, a limit rose). */
  dispatch(): void {
    for (const queue of this.queues.values()) queue.dispatch();
  }

  prune(): void {
    for (const queue of this.queues.values()) queue.prune();
  }

  /** The site is gone: its waiters fail ERR_NO_ORIGIN; requests in flight finish. */
  close(): void {
    for (const queue of this.queues.values()) queue.close();
    this.queues.clear();
  }

  private limitsOf(list: readonly Origin[]): OriginLimit[] {
    return list.flatMap((origin) => {
      const runtime = this.deps.origins.get(origin.id);
      return runtime ? [runtime.limit] : [];
    });
  }
}

/** The site's freshness lag, when its health check sets one (the balancer's default otherwise). */
function balancerOptions(config: SiteConfig): Partial<OriginBalancerOptions> {
  const maxLagS = config.healthCheck?.freshness?.maxLagS;
  return maxLagS === undefined ? {} : { maxLagS };
}

function sum<T>(items: readonly T[], value: (item: T) => number): number {
  return items.reduce((total, item) => total + value(item), 0);
}
