import type { DurableState } from './durable.js';
import type { GatewayRuntime } from './gateway-runtime.js';
import { effectiveGateways } from './views.js';

/** One back-end serving a budgeted origin, as its latest report shows it. */
export interface BudgetMember {
  id: string;
  /** Healthy and reporting: it gets a share. A silent or unhealthy back-end gets 0. */
  active: boolean;
  /** Requests in service plus waiting for the origin there (reported). */
  demand: number;
  /** The share it reported applying, if it reported one. */
  applied?: number;
  /** Requests it reported in service at the origin. */
  inFlight?: number;
}

/**
 * Shares of `budget` by demand, max-min fair: every active member at least 1 while the budget allows; then
 * one request at a time to each member still asking for more than it has (most demanding first, ties by
 * id), so nobody gets more than an equal part while another asks for it; what is left when every demand
 * is met is spread the same way. The sum is exactly `budget` (or less when there are more members than
 * requests: the most demanding get 1). Equal demand (or none) splits evenly; a swing in queue lengths
 * between busy back-ends moves nothing, so the split does not chase the front-ends' choice.
 */
export function targetShares(budget: number, members: readonly BudgetMember[]): Map<string, number> {
  const active = members.filter((member) => member.active).sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const shares = new Map<string, number>(members.map((member) => [member.id, 0]));
  if (active.length === 0 || budget <= 0) return shares;
  const byDemand = [...active].sort((a, b) => b.demand - a.demand);
  if (budget < active.length) {
    for (const member of byDemand.slice(0, budget)) shares.set(member.id, 1);
    return shares;
  }
  for (const member of active) shares.set(member.id, 1);
  let spare = budget - active.length;
  const share = (member: BudgetMember) => shares.get(member.id) ?? 0;
  const handOut = (takers: readonly BudgetMember[]) => {
    for (const member of takers) {
      if (spare === 0) return;
      shares.set(member.id, share(member) + 1);
      spare--;
    }
  };
  for (let hungry = byDemand; spare > 0; ) {
    hungry = hungry.filter((member) => share(member) < member.demand);
    if (hungry.length === 0) break;
    handOut(hungry);
  }
  while (spare > 0) handOut(byDemand);
  return shares;
}

/**
 * The next grant of each member, such that the back-ends can never have more than `budget` requests in
 * service at once, whatever order pushes and reports cross in:
 *
 * - a decrease is granted at once (a back-end only stops sending; lowering cancels nothing);
 * - an increase is granted only out of budget known to be free: each member is counted at the most it may
 *   still have in service, `max(previous grant, share it reported applying, in flight it reported)`, so
 *   a back-end told to shrink keeps its old share counted until it reports the new one and has drained.
 *
 * `slack` is hysteresis: when every active member's target is within `slack` of its grant, the grants stay.
 */
export function nextGrants(budget: number, members: readonly BudgetMember[], previous: ReadonlyMap<string, number>, slack: number): Map<string, number> {
  const target = targetShares(budget, members);
  const granted = (id: string) => previous.get(id) ?? 0;
  const steady = members.every((member) => !member.active || Math.abs((target.get(member.id) ?? 0) - granted(member.id)) <= slack)
    && members.reduce((sum, member) => sum + (member.active ? granted(member.id) : 0), 0) <= budget;
  if (steady) for (const member of members) if (member.active) target.set(member.id, granted(member.id));

  const next = new Map<string, number>();
  let used = 0;
  const exposure = new Map<string, number>();
  for (const member of members) {
    const most = Math.max(granted(member.id), member.applied ?? 0, member.inFlight ?? 0);
    // A back-end that went silent is presumed gone: its requests are not counted (see docs/admission.md).
    exposure.set(member.id, member.active ? most : 0);
    used += member.active ? most : 0;
    next.set(member.id, Math.min(granted(member.id), target.get(member.id) ?? 0));
  }
  let free = Math.max(0, budget - used);
  const growing = members
    .filter((member) => (target.get(member.id) ?? 0) > (next.get(member.id) ?? 0))
    .sort((a, b) => (target.get(b.id) ?? 0) - (next.get(b.id) ?? 0) - ((target.get(a.id) ?? 0) - (next.get(a.id) ?? 0)) || (a.id < b.id ? -1 : 1));
  for (const member of growing) {
    const already = exposure.get(member.id) ?? 0;
    const want = target.get(member.id) ?? 0;
    // Raising up to what is already counted for it costs nothing; beyond that it takes free budget.
    const reach = Math.min(want, already + free);
    const grant = Math.max(next.get(member.id) ?? 0, reach);
    free -= Math.max(0, grant - already);
    next.set(member.id, grant);
  }
  return next;
}

/** Hysteresis of a budget: a tenth of it, at least one request. */
export function budgetSlack(budget: number): number {
  return Math.max(1, Math.floor(budget / 10));
}

/** A budgeted origin as the configuration names it. */
interface BudgetedOrigin {
  budget: number;
  backEnds: Set<string>;
}

/** Per budgeted origin (by URL), the budget (the smallest any list names) and every back-end serving it. */
export function budgetedOrigins(durable: DurableState): Map<string, BudgetedOrigin> {
  const origins = new Map<string, BudgetedOrigin>();
  for (const record of durable.sites.values()) {
    const lists = [record.body.origins, ...record.body.routes.map((route) => route.origins)];
    const backEnds = effectiveGateways(record, 'backEnds');
    for (const origin of lists.flat()) {
      if (origin.maxConcurrency === undefined) continue;
      const entry = origins.get(origin.url) ?? { budget: origin.maxConcurrency, backEnds: new Set<string>() };
      entry.budget = Math.min(entry.budget, origin.maxConcurrency);
      for (const id of backEnds) if (durable.gateways.backEnds.has(id)) entry.backEnds.add(id);
      origins.set(origin.url, entry);
    }
  }
  return origins;
}

function reportedNumber(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 ? value : undefined;
}

/**
 * The back-end manager's split of every origin's concurrency budget among the back-ends serving it, by
 * reported demand, re-split as demand moves and back-ends come and go (docs/admission.md "Origin budget
 * across back-ends"). Holds the grants between calls: call `split` whenever reports or config changed.
 */
export class OriginBudgets {
  /** origin URL → back-end id → granted share. */
  private grants = new Map<string, Map<string, number>>();

  /** back-end id → origin URL → share, for every back-end serving a budgeted origin. */
  split(durable: DurableState, runtime: GatewayRuntime): Map<string, Record<string, number>> {
    const byBackEnd = new Map<string, Record<string, number>>();
    const grants = new Map<string, Map<string, number>>();
    for (const [url, origin] of budgetedOrigins(durable)) {
      const members = [...origin.backEnds].sort().map((id): BudgetMember => {
        const live = runtime.get('backEnds', id);
        const seen = live?.origins?.find((entry) => entry.url === url);
        const inFlight = reportedNumber(seen?.inFlight);
        return {
          id,
          active: runtime.isHealthy('backEnds', id),
          demand: (inFlight ?? 0) + (reportedNumber(seen?.waiting) ?? 0),
          applied: reportedNumber(seen?.share),
          inFlight,
        };
      });
      const next = nextGrants(origin.budget, members, this.grants.get(url) ?? new Map(), budgetSlack(origin.budget));
      grants.set(url, next);
      for (const [id, share] of next) {
        const shares = byBackEnd.get(id) ?? {};
        shares[url] = share;
        byBackEnd.set(id, shares);
      }
    }
    this.grants = grants;
    return byBackEnd;
  }
}
