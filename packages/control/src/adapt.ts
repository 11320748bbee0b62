import { parseHostPort, formatHostPort } from '@overlay/common';
import type { BackEndStateInput } from '@overlay/backend';
import type { FrontEndStateInput } from '@overlay/frontend';
import type { ManagerState } from '@overlay/manager';
import type { RedirectorStateInput } from '@overlay/redirector';

/**
 * What a front-end takes from the managers' state: the sites assigned to it, the back-ends those sites
 * use (reached at their registered tunnel address, with this front-end's own key: secrets never travel
 * through the manager), the priority rules and the ring weights. A TCP site's listener takes the port
 * the manager names on this front-end's own HTTP host, so every POP can serve it.
 */
export function frontEndStateFrom(state: ManagerState, self: { id: string; httpHost: string; key: string }): FrontEndStateInput {
  const backEnds: NonNullable<FrontEndStateInput['backEnds']> = {};
  const sites: NonNullable<FrontEndStateInput['sites']> = {};
  for (const [name, site] of Object.entries(state.sites)) {
    if (!site.frontEnds.includes(self.id)) continue;
    const reachable = site.backEnds.filter((id) => state.backEnds[id]?.addresses.tunnel);
    if (reachable.length === 0) continue;
    for (const id of reachable) backEnds[id] = { tunnel: state.backEnds[id].addresses.tunnel as string, key: self.key };
    sites[name] = {
      domains: site.domains,
      mode: site.mode,
      backEnds: reachable,
      priorities: site.priorities,
      ...(site.mode === 'tcp' && site.listen ? { listen: formatHostPort(self.httpHost, parseHostPort(site.listen).port) } : {}),
    };
  }
  return { backEnds, sites, rings: { weights: [...state.rings.weights] } };
}

/** What a back-end takes: the sites assigned to it, with their origins and path routes, and the ring weights. */
export function backEndStateFrom(state: ManagerState, self: { id: string }): BackEndStateInput {
  const sites: NonNullable<BackEndStateInput['sites']> = {};
  for (const [name, site] of Object.entries(state.sites)) {
    if (!site.backEnds.includes(self.id)) continue;
    sites[name] = { mode: site.mode, origins: site.origins, routes: site.routes, ...(site.queueRelease ? { queueRelease: site.queueRelease } : {}) };
  }
  const originShares = state.backEnds[self.id]?.originShares;
  return { sites, rings: { weights: [...state.rings.weights] }, ...(originShares ? { originShares } : {}) };
}

/** The redirector's own part: zones it serves and where clients are (from its config), and answer tuning. */
export type RedirectorBase = Pick<RedirectorStateInput, 'zones' | 'popPreferences' | 'answerTtl' | 'answerCount' | 'overloadThreshold'>;

/**
 * What the redirector takes: every site's names and assigned front-ends, and every front-end's address
 * (the host of its HTTP listener), POP, health and load. Sites whose names fall outside the redirector's
 * zones are left out: it is not authoritative for them.
 */
export function redirectorStateFrom(state: ManagerState, base: RedirectorBase, isInZones: (name: string) => boolean): RedirectorStateInput {
  const frontEnds: NonNullable<RedirectorStateInput['frontEnds']> = {};
  for (const [id, frontEnd] of Object.entries(state.frontEnds)) {
    if (!frontEnd.addresses.http) continue;
    frontEnds[id] = {
      addresses: [parseHostPort(frontEnd.addresses.http).host],
      pop: frontEnd.pop ?? id,
      healthy: frontEnd.healthy,
      load: Math.min(1, frontEnd.load),
    };
  }
  const sites: NonNullable<RedirectorStateInput['sites']> = {};
  for (const [name, site] of Object.entries(state.sites)) {
    const domains = site.domains.filter(isInZones);
    if (domains.length) sites[name] = { domains, frontEnds: site.frontEnds.filter((id) => id in frontEnds) };
  }
  return { ...base, sites, frontEnds };
}
