import { defaultOriginBalancerOptions, verifyOriginBalancerOptions, type OriginBalancerOptions } from './options.js';
import { requestTypeOf, requestTypes, type RequestInfo, type RequestType } from './request-type.js';
import { RouteTable, type Origin, type SiteOrigins } from './routes.js';

/** An origin's live load, as the admission layer sees it: requests in flight and the current limit. */
export interface OriginLoad {
  inFlight: number;
  limit: number;
}

/** What the balancer needs from health tracking (HealthTracker implements it). */
export interface OriginHealthView {
  /** False while the origin is down: it gets no new work. */
  isAvailable(id: string): boolean;
  /** Multiplier on the configured weight, 0..1 (below 1 during slow start). */
  weightFactor(id: string): number;
  /**
   * How fresh the origin's content is, in seconds on one scale for the whole list (a Last-Modified time, a
   * content version): larger is fresher. Undefined when unknown: such an origin is never counted stale.
   */
  freshness?(id: string): number | undefined;
}

export interface OriginBalancerInit {
  site: SiteOrigins;
  /**
   * Live load per origin (for example from the admission limiter). Without it, or for an origin it does not
   * know, the load is the requests registered here through `track`, with no limit.
   */
  load?: (id: string) => OriginLoad | undefined;
  health?: OriginHealthView;
  options?: Partial<OriginBalancerOptions>;
}

type TypeCounts = Record<RequestType, number>;

interface Scored {
  origin: Origin;
  /** Position in its list, for round-robin among ties. */
  index: number;
  /** In-flight requests per unit of effective weight, counting the one being placed. */
  load: number;
  /** Same, counting only requests of the type being placed. */
  typeLoad: number;
  effectiveWeight: number;
}

const EPSILON = 1e-9;
const same = (a: number, b: number): boolean => Math.abs(a - b) <= EPSILON * Math.max(1, Math.abs(a), Math.abs(b));

function zeroCounts(): TypeCounts {
  return Object.fromEntries(requestTypes.map((type) => [type, 0])) as TypeCounts;
}

/**
 * Chooses among a site's redundant origins for one request (seed 001 Fig. 7, seed 002 path routes):
 * path route → available origins with a free slot → fresh ones while any is open → primaries while any has one → least outstanding per
 * unit of effective weight, preferring fewer pending of the request's type when loads are close, ties
 * round-robin. Choosing does not count the request: call `track` once it is sent.
 */
export class OriginBalancer {
  private currentOptions: Readonly<OriginBalancerOptions>;
  private table: RouteTable;
  private readonly pending = new Map<string, TypeCounts>();
  private readonly loadView: OriginBalancerInit['load'];
  private readonly health: OriginHealthView | undefined;
  private lastPicked: string | undefined;

  constructor(init: OriginBalancerInit) {
    this.currentOptions = OriginBalancer.verified(init.options);
    this.loadView = init.load;
    this.health = init.health;
    this.table = new RouteTable(init.site);
    this.syncPending();
  }

  get options(): Readonly<OriginBalancerOptions> {
    return this.currentOptions;
  }

  /** New options over the defaults (a config push); throws a RangeError naming a bad field, keeping the old ones. */
  setOptions(options: Partial<OriginBalancerOptions> = {}): void {
    this.currentOptions = OriginBalancer.verified(options);
  }

  private static verified(options: Partial<OriginBalancerOptions> = {}): Readonly<OriginBalancerOptions> {
    const merged = Object.freeze({ ...defaultOriginBalancerOptions, ...options });
    verifyOriginBalancerOptions(merged);
    return merged;
  }

  /** Replaces the site's origins and routes (a config push); counts of origins that remain are kept. */
  setSite(site: SiteOrigins): void {
    this.table = new RouteTable(site);
    this.syncPending();
  }

  /** The origin list a request's path selects: the longest matching route's, else the site's. */
  originsFor(target: string): readonly Origin[] {
    return this.table.originsFor(target);
  }

  /**
   * The origin for `request`, or undefined when none is available with a free slot (the caller queues or
   * refuses). `candidates`, when given, further restricts the choice to those ids, for a queue that already
   * knows which origins have a free slot.
   */
  pick(request: RequestInfo, candidates?: Iterable<string>): Origin | undefined {
    const allowed = candidates === undefined ? undefined : new Set(candidates);
    const type = requestTypeOf(request);
    const list = this.table.originsFor(request.path);
    const open = this.preferFresh(this.openOrigins(list, allowed, type), list);
    const pool = open.some((entry) => entry.origin.primary) ? open.filter((entry) => entry.origin.primary) : open;
    if (pool.length === 0) return undefined;

    const bestLoad = Math.min(...pool.map((entry) => entry.load));
    const slack = this.currentOptions.typeSlackRequests;
    // Close enough: would need at most `slack` fewer requests to match the best ratio.
    const close = pool.filter((entry) => entry.load <= bestLoad + slack / entry.effectiveWeight || same(entry.load, bestLoad));
    const bestTypeLoad = Math.min(...close.map((entry) => entry.typeLoad));
    const byType = close.filter((entry) => same(entry.typeLoad, bestTypeLoad));
    const leastLoad = Math.min(...byType.map((entry) => entry.load));
    const tied = byType.filter((entry) => same(entry.load, leastLoad));
    const chosen = this.nextInTurn(tied, list);
    this.lastPicked = chosen.origin.id;
    return chosen.origin;
  }

  /**
   * Counts a request sent to `originId` until the returned release is called (idempotent). The counts feed
   * type awareness, and the load itself when no load view is given. Unknown origins are not counted.
   */
  track(originId: string, type: RequestType): () => void {
    const counts = this.pending.get(originId);
    if (!counts) return () => {};
    counts[type]++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      // The origin may have been removed and re-added by a config push meanwhile: never go negative.
      const current = this.pending.get(originId);
      if (current && current[type] > 0) current[type]--;
    };
  }

  /** Requests tracked as pending at an origin, per type (for metrics). */
  pendingOf(originId: string): Readonly<TypeCounts> {
    return this.pending.get(originId) ?? zeroCounts();
  }

  private openOrigins(list: readonly Origin[], allowed: Set<string> | undefined, type: RequestType): Scored[] {
    const open: Scored[] = [];
    list.forEach((origin, index) => {
      if (allowed && !allowed.has(origin.id)) return;
      if (this.health && !this.health.isAvailable(origin.id)) return;
      const { inFlight, limit } = this.loadOf(origin.id);
      if (inFlight >= limit) return;
      const effectiveWeight = origin.weight * (this.health?.weightFactor(origin.id) ?? 1);
      if (!(effectiveWeight > 0)) return;
      const typePending = this.pending.get(origin.id)?.[type] ?? 0;
      open.push({
        origin,
        index,
        load: (inFlight + 1) / effectiveWeight,
        typeLoad: (typePending + 1) / effectiveWeight,
        effectiveWeight,
      });
    });
    return open;
  }

  /**
   * Drops stale origins while a fresh one is open: stale is older than the freshest available origin of the
   * list by more than `maxLagS`, so a stale origin works like a secondary (seed 001: freshest mirror first).
   * The reference is taken over available origins, saturated ones included, so a busy fresh origin still
   * marks the others stale; a down origin's last answer is not a reference. When every fresh origin is
   * full, the stale ones are ranked the same way among themselves: the freshest open mirror goes first.
   */
  private preferFresh(open: Scored[], list: readonly Origin[]): Scored[] {
    const freshnessOf = (id: string) => this.health?.freshness?.(id);
    const available = list.filter((origin) => this.health?.isAvailable(origin.id) !== false).map((origin) => origin.id);
    const fresh = this.withinLag(open, available, freshnessOf);
    if (fresh.length > 0) return fresh;
    const among = this.withinLag(open, open.map((entry) => entry.origin.id), freshnessOf);
    return among.length > 0 ? among : open;
  }

  /** The entries of `open` no more than maxLagS older than the freshest of `reference` (unknown is never old). */
  private withinLag(open: Scored[], reference: readonly string[], freshnessOf: (id: string) => number | undefined): Scored[] {
    const known = reference.map(freshnessOf).filter((value) => value !== undefined);
    if (known.length === 0) return open;
    const cutoff = Math.max(...known) - this.currentOptions.maxLagS;
    return open.filter((entry) => !((freshnessOf(entry.origin.id) ?? Infinity) < cutoff));
  }

  private loadOf(id: string): OriginLoad {
    const viewed = this.loadView?.(id);
    if (viewed) return viewed;
    const counts = this.pending.get(id);
    const inFlight = counts ? requestTypes.reduce((sum, type) => sum + counts[type], 0) : 0;
    return { inFlight, limit: Infinity };
  }

  /** Round-robin among ties: the first tied origin listed after the last one picked, wrapping. */
  private nextInTurn(tied: Scored[], list: readonly Origin[]): Scored {
    const lastIndex = list.findIndex((origin) => origin.id === this.lastPicked);
    return tied.find((entry) => entry.index > lastIndex) ?? tied[0];
  }

  private syncPending(): void {
    const ids = this.table.originIds();
    for (const id of this.pending.keys()) if (!ids.has(id)) this.pending.delete(id);
    for (const id of ids) if (!this.pending.has(id)) this.pending.set(id, zeroCounts());
  }
}
