import { BackendSelector } from '@overlay/balancer';
import { compileRules, type Classifier } from '@overlay/classifier';
import type { BackEndRoute } from './backends.js';
import type { FrontEndState } from './config.js';
import { defaultTcpSiteOptions, type TcpSiteOptions } from './options.js';

/** One site as the request path uses it: rules compiled, domains indexed. */
export interface Site {
  name: string;
  mode: 'http' | 'tcp';
  backEnds: readonly string[];
  classify: Classifier;
  listen: string | undefined;
  /** TCP sites: the idle deadline of carried connections (defaults filled in). */
  tcp: TcpSiteOptions;
  /** Chooses among the site's back-end routes by their current QoS and load. */
  selector: BackendSelector<BackEndRoute>;
}

/** The Host header's name part, lower-case, without port or trailing dot; undefined when absent. */
export function hostName(host: string | undefined): string | undefined {
  if (!host) return undefined;
  let name = host.trim().toLowerCase();
  if (name.startsWith('[')) {
    const end = name.indexOf(']');
    return end > 0 ? name.slice(0, end + 1) : undefined;
  }
  const colon = name.indexOf(':');
  if (colon >= 0) name = name.slice(0, colon);
  if (name.endsWith('.')) name = name.slice(0, -1);
  return name || undefined;
}

/** The routes a site's back-ends have now (read per request: a plain loop). */
function routesOf(backEnds: readonly string[], routeOf: (id: string) => BackEndRoute | undefined): BackEndRoute[] {
  const routes: BackEndRoute[] = [];
  for (const id of backEnds) {
    const route = routeOf(id);
    if (route) routes.push(route);
  }
  return routes;
}

/** Sites by name and by domain; rebuilt whole on every state update (requests in flight keep their Site). */
export class SiteTable {
  readonly byName = new Map<string, Site>();
  private readonly byDomain = new Map<string, Site>();
  /** Priority rings whose responses are neither served from nor stored in the cache (`rings.features`). */
  private readonly uncachedRings: ReadonlySet<number>;

  /** `routeOf` is read on every choice, so a re-addressed back-end is picked up without rebuilding. */
  constructor(state: Pick<FrontEndState, 'sites' | 'rings'>, routeOf: (id: string) => BackEndRoute | undefined) {
    this.uncachedRings = new Set(state.rings?.features?.flatMap((features, ring) => (features.cache ? [] : [ring])) ?? []);
    for (const [name, spec] of Object.entries(state.sites)) {
      const backEnds = [...spec.backEnds];
      const site: Site = {
        name,
        mode: spec.mode,
        backEnds,
        classify: compileRules(spec.priorities ?? { rules: [] }),
        listen: spec.listen,
        tcp: {
          idleTimeoutMs: spec.idleTimeoutMs ?? defaultTcpSiteOptions.idleTimeoutMs,
          minBytesPerS: spec.minBytesPerS ?? defaultTcpSiteOptions.minBytesPerS,
        },
        selector: new BackendSelector(() => routesOf(backEnds, routeOf)),
      };
      this.byName.set(name, site);
      for (const domain of spec.domains) this.byDomain.set(domain, site);
    }
  }

  /** False when the manager turned caching off for this priority's ring (seed 001: caching chosen per priority). */
  cachesPriority(priority: number): boolean {
    return !this.uncachedRings.has(priority);
  }

  /** The HTTP site a Host header names, or undefined (the client gets 404). */
  forHost(host: string | undefined): Site | undefined {
    const name = hostName(host);
    if (name === undefined) return undefined;
    const site = this.byDomain.get(name);
    return site?.mode === 'http' ? site : undefined;
  }

  tcpSites(): Site[] {
    return [...this.byName.values()].filter((site) => site.mode === 'tcp');
  }
}
