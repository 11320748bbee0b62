import { GATEWAY_ID_PATTERN, SITE_NAME_PATTERN, formatHostPort, ownValue, parseHostPort } from '@overlay/common';
import type { BackEndStateInput } from '@overlay/backend';
import type { FrontEndStateInput } from '@overlay/frontend';

/** The front-end's own TLS settings for tunnels (`manager.tunnelTls`): never carried by the manager. */
type TunnelTls = NonNullable<NonNullable<FrontEndStateInput['backEnds']>[string]['tls']>;
import type { ManagerState } from '@overlay/manager';
import { redirectorStateSchema, type RedirectorStateInput } from '@overlay/redirector';

/** Ids this manager's state may carry from an older store: entries a gateway's schema would refuse are left out, so one never freezes the rest. */
const isGatewayId = (id: string) => GATEWAY_ID_PATTERN.test(id);
const sitesOf = <S>(state: { sites: Record<string, S> }) => Object.entries(state.sites).filter(([name]) => SITE_NAME_PATTERN.test(name));

/**
 * What a front-end takes from the managers' state: the sites assigned to it, the back-ends those sites
 * use (reached at their registered tunnel address, with this front-end's own key: tunnel keys never
 * travel through the manager), the priority rules, each HTTP site's own TLS certificate (served on the
 * HTTPS listener) and the ring weights. A TCP site's listener takes the port the manager names on this
 * front-end's own HTTP host, so every POP can serve it.
 */
export function frontEndStateFrom(state: ManagerState, self: { id: string; httpHost: string; key: string; tunnelTls?: TunnelTls }): FrontEndStateInput {
  const backEnds: NonNullable<FrontEndStateInput['backEnds']> = {};
  const sites: NonNullable<FrontEndStateInput['sites']> = {};
  const tunnelOf = (id: string) => (isGatewayId(id) ? ownValue(state.backEnds, id)?.addresses.tunnel : undefined);
  for (const [name, site] of sitesOf(state)) {
    if (!site.frontEnds.includes(self.id)) continue;
    const reachable = site.backEnds.filter((id) => tunnelOf(id));
    if (reachable.length === 0) continue;
    for (const id of reachable) {
      const backEnd = ownValue(state.backEnds, id);
      // A back-end that registered a TLS tunnel is dialled with TLS, checked with this front-end's CA and
      // certificate; without them the system CAs apply, and a failure names the certificate problem.
      backEnds[id] = { tunnel: tunnelOf(id) as string, key: self.key, ...(backEnd?.tunnelTls ? { tls: { ...self.tunnelTls } } : {}) };
    }
    sites[name] = {
      domains: site.domains,
      mode: site.mode,
      backEnds: reachable,
      priorities: site.priorities,
      ...(site.mode === 'http' && site.certificate ? { certificate: { cert: site.certificate.cert, key: site.certificate.key } } : {}),
      ...(site.mode === 'tcp' && site.listen ? { listen: formatHostPort(self.httpHost, parseHostPort(site.listen).port) } : {}),
    };
  }
  return { backEnds, sites, rings: structuredClone(state.rings) };
}

/** What a back-end takes: the sites assigned to it, with their origins and path routes, and the ring weights. */
export function backEndStateFrom(state: ManagerState, self: { id: string }): BackEndStateInput {
  const sites: NonNullable<BackEndStateInput['sites']> = {};
  for (const [name, site] of sitesOf(state)) {
    if (!site.backEnds.includes(self.id)) continue;
    sites[name] = {
      mode: site.mode, origins: site.origins, routes: site.routes,
      ...(site.proxyProtocol ? { proxyProtocol: site.proxyProtocol } : {}),
      ...(site.originHost === undefined ? {} : { originHost: site.originHost }),
      ...(site.healthCheck === undefined ? {} : { healthCheck: site.healthCheck }),
      ...(site.queueRelease ? { queueRelease: site.queueRelease } : {}),
    };
  }
  const originShares = state.backEnds[self.id]?.originShares;
  return { sites, rings: structuredClone(state.rings), ...(originShares ? { originShares } : {}) };
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
    if (!isGatewayId(id) || !frontEnd.addresses.http) continue;
    frontEnds[id] = {
      addresses: [parseHostPort(frontEnd.addresses.http).host],
      pop: frontEnd.pop ?? id,
      healthy: frontEnd.healthy,
      load: Math.min(1, frontEnd.load),
    };
  }
  const sites: NonNullable<RedirectorStateInput['sites']> = {};
  for (const [name, site] of sitesOf(state)) {
    const domains = site.domains.filter(isInZones);
    // The assigned back-ends too, so `_backend.<domain>` answers which one serves the site.
    const backEnds = site.backEnds.filter(isGatewayId).map((id) => ({ id, tunnel: ownValue(state.backEnds, id)?.addresses.tunnel }));
    if (domains.length) sites[name] = { domains, frontEnds: site.frontEnds.filter((id) => Object.hasOwn(frontEnds, id)), backEnds };
  }
  const withRecords = { ...base, zones: withManagerRecords(base.zones, state.zoneRecords), sites, frontEnds };
  // The manager checks each record; one that clashes with a site or the redirector's own records would
  // make the redirector refuse the whole feed, so then the feed goes without the manager's records.
  return state.zoneRecords && Object.keys(state.zoneRecords).length && !redirectorStateSchema.safeParse(withRecords).success
    ? { ...base, sites, frontEnds }
    : withRecords;
}

/** The redirector's zones with the static records the manager keeps for them after the file's own. */
function withManagerRecords(zones: RedirectorBase['zones'], managed: ManagerState['zoneRecords'] | undefined): RedirectorBase['zones'] {
  if (!managed || Object.keys(managed).length === 0) return zones;
  return Object.fromEntries(
    Object.entries(zones).map(([apex, zone]) => [apex, managed[apex] ? { ...zone, records: [...(zone.records ?? []), ...managed[apex]] } : zone]),
  );
}
