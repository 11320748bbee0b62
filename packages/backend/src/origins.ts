import type { LimitAdjustment, OriginLimit } from '@overlay/admission';
import type { BackEndState, OriginConfig } from './config.js';
import { OriginRuntime } from './origin.js';

/** Every origin id the state names, with its URL (the schema guarantees one URL per id). */
export function originsOf(state: BackEndState): Map<string, string> {
  const urls = new Map<string, string>();
  for (const origin of originSpecs(state)) urls.set(origin.id, origin.url);
  return urls;
}

function* originSpecs(state: BackEndState): Iterable<OriginConfig> {
  for (const site of Object.values(state.sites)) {
    yield* site.origins;
    for (const route of site.routes) yield* route.origins;
  }
}

/**
 * The most requests this back-end may have in service at each origin, by URL: its share of the origin's
 * budget when the manager split one, else the whole budget (the smallest a list names); Infinity when
 * the origin has none.
 */
export function ceilingsOf(state: BackEndState): Map<string, number> {
  const ceilings = new Map<string, number>();
  for (const origin of originSpecs(state)) {
    if (origin.maxConcurrency === undefined) continue;
    ceilings.set(origin.url, Math.min(ceilings.get(origin.url) ?? Infinity, origin.maxConcurrency));
  }
  for (const [url, budget] of ceilings) {
    const share = state.originShares?.[url];
    if (share !== undefined) ceilings.set(url, Math.min(share, budget));
  }
  return ceilings;
}

export interface OriginRegistryContext {
  onAdjust: (id: string, adjustment: LimitAdjustment) => void;
  /** An origin's new share of its budget holds (no more in service than it). */
  onShareHeld: () => void;
  /** How long a retired origin's pool may finish its requests before they are cut, ms. */
  retireGraceMs: number;
}

/**
 * The gateway's origins by id. A config push keeps an origin whose URL is unchanged (its limit, in-flight
 * count and pool carry on), replaces one whose URL changed and retires removed ones: their pools close
 * once the requests already sent to them finish.
 */
export class OriginRegistry {
  private readonly byId = new Map<string, OriginRuntime>();
  private readonly byLimit = new WeakMap<OriginLimit, OriginRuntime>();
  private readonly retiring = new Set<Promise<void>>();

  constructor(private readonly context: OriginRegistryContext) {}

  /** Brings the set in line with `state`; returns the ids that are new (or have a new URL). */
  apply(state: BackEndState): string[] {
    const wanted = originsOf(state);
    const ceilings = ceilingsOf(state);
    const added: string[] = [];
    for (const [id, runtime] of this.byId) {
      if (wanted.get(id) !== runtime.source) this.retire(id, runtime);
    }
    for (const [id, url] of wanted) {
      const existing = this.byId.get(id);
      if (existing) {
        existing.apply(state.limits, state.pool);
        existing.limit.setCeiling(ceilings.get(url) ?? Infinity);
        continue;
      }
      const runtime = new OriginRuntime(id, url, state.limits, state.pool, this.context);
      runtime.limit.setCeiling(ceilings.get(url) ?? Infinity);
      this.byId.set(id, runtime);
      this.byLimit.set(runtime.limit, runtime);
      added.push(id);
    }
    return added;
  }

  get(id: string): OriginRuntime | undefined {
    return this.byId.get(id);
  }

  /** The runtime a queue grant's OriginLimit belongs to (also for origins retired since). */
  of(limit: OriginLimit): OriginRuntime | undefined {
    return this.byLimit.get(limit);
  }

  all(): IterableIterator<OriginRuntime> {
    return this.byId.values();
  }

  /** Closes every pool, letting requests finish for up to the retire grace. */
  async close(): Promise<void> {
    for (const [id, runtime] of this.byId) this.retire(id, runtime);
    await Promise.all(this.retiring);
  }

  private retire(id: string, runtime: OriginRuntime): void {
    this.byId.delete(id);
    const closed = runtime.close().finally(() => this.retiring.delete(closed));
    this.retiring.add(closed);
  }
}
