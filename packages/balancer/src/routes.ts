import { siteLimits } from './options.js';

/** An origin as configured: `weight` defaults to 1, `primary` to false. */
export interface OriginSpec {
  id: string;
  weight?: number;
  primary?: boolean;
}

export interface Origin {
  readonly id: string;
  readonly weight: number;
  readonly primary: boolean;
}

/** Requests whose path starts with `pathPrefix` go to `origins` instead of the site's (seed 002). */
export interface RouteSpec {
  pathPrefix: string;
  origins: readonly OriginSpec[];
}

export interface SiteOrigins {
  origins: readonly OriginSpec[];
  routes?: readonly RouteSpec[];
}

interface Route {
  readonly pathPrefix: string;
  readonly origins: readonly Origin[];
}

function normalizeOrigins(specs: readonly OriginSpec[], where: string): Origin[] {
  if (specs.length > siteLimits.maxOrigins) throw new RangeError(`${where}: at most ${siteLimits.maxOrigins} origins`);
  const seen = new Set<string>();
  return specs.map((spec, index) => {
    const weight = spec.weight ?? 1;
    if (!spec.id) throw new RangeError(`${where}[${index}].id: must be a non-empty string`);
    if (seen.has(spec.id)) throw new RangeError(`${where}[${index}].id: "${spec.id}" appears twice`);
    if (!(weight > 0 && Number.isFinite(weight))) throw new RangeError(`${where}[${index}].weight: must be a positive number`);
    seen.add(spec.id);
    return Object.freeze({ id: spec.id, weight, primary: spec.primary ?? false });
  });
}

/** Drops the query string: routes match the path only. */
export function pathOf(target: string): string {
  const queryAt = target.indexOf('?');
  return queryAt < 0 ? target : target.slice(0, queryAt);
}

/**
 * A site's origin lists: the longest route prefix that matches a request's path picks its origins, else
 * the site's own list. Prefixes match as plain strings, as nginx and Envoy prefix routes do (`/api` also
 * matches `/apis`; write `/api/` to stop at the segment).
 */
export class RouteTable {
  readonly siteOrigins: readonly Origin[];
  private readonly routes: readonly Route[];

  constructor(site: SiteOrigins) {
    this.siteOrigins = normalizeOrigins(site.origins, 'origins');
    const specs = site.routes ?? [];
    if (specs.length > siteLimits.maxRoutes) throw new RangeError(`routes: at most ${siteLimits.maxRoutes}`);
    const prefixes = new Set<string>();
    const routes = specs.map((spec, index) => {
      if (!spec.pathPrefix.startsWith('/')) throw new RangeError(`routes[${index}].pathPrefix: must start with "/"`);
      if (prefixes.has(spec.pathPrefix)) throw new RangeError(`routes[${index}].pathPrefix: "${spec.pathPrefix}" appears twice`);
      prefixes.add(spec.pathPrefix);
      return { pathPrefix: spec.pathPrefix, origins: normalizeOrigins(spec.origins, `routes[${index}].origins`) };
    });
    // Longest first, so the first match is the longest match.
    this.routes = routes.sort((a, b) => b.pathPrefix.length - a.pathPrefix.length);
  }

  originsFor(target: string): readonly Origin[] {
    const path = pathOf(target);
    for (const route of this.routes) {
      if (path.startsWith(route.pathPrefix)) return route.origins;
    }
    return this.siteOrigins;
  }

  /** Every origin id the site can send to, through any list. */
  originIds(): Set<string> {
    const ids = new Set(this.siteOrigins.map((origin) => origin.id));
    for (const route of this.routes) for (const origin of route.origins) ids.add(origin.id);
    return ids;
  }
}
