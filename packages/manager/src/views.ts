import { DEFAULT_PRIORITY, type PriorityRules } from '@overlay/classifier';
import { GATEWAY_KINDS, type DurableState, type GatewayKind, type GatewayRecord, type SiteRecord } from './durable.js';
import type { GatewayState, ManagerRole, ManagerState, SiteState } from './feed-schema.js';
import type { GatewayRuntime } from './gateway-runtime.js';
import type { SiteBody } from './site-schema.js';

/** Front-end managers own front-ends, back-end managers back-ends; 'both' owns everything. */
export function ownsKind(role: ManagerRole, kind: GatewayKind): boolean {
  return role === 'both' || (kind === 'frontEnds' ? role === 'front-end' : role === 'back-end');
}

export function ownedKinds(role: ManagerRole): GatewayKind[] {
  return GATEWAY_KINDS.filter((kind) => ownsKind(role, kind));
}

/** The part of a site body this role keeps; the other role's fields become empty (docs/manager.md "Roles"). */
export function ownedSiteFields(role: ManagerRole, body: SiteBody): SiteBody {
  const kept = { ...body };
  if (!ownsKind(role, 'frontEnds')) {
    kept.frontEnds = [];
    delete kept.listen;
    delete kept.certificate;
  }
  if (!ownsKind(role, 'backEnds')) {
    kept.origins = [];
    kept.routes = [];
    kept.backEnds = [];
    delete kept.proxyProtocol;
    delete kept.originHost;
    delete kept.healthCheck;
  }
  return kept;
}

/** Rules in force: what was PUT, or none with the default priority. */
export function prioritiesInForce(record: SiteRecord): Required<PriorityRules> {
  return { default: record.priorities?.default ?? DEFAULT_PRIORITY, rules: record.priorities?.rules ?? [] };
}

/** What GET shows for a site certificate's private key. */
export const KEY_HIDDEN = '(hidden)';

/** Configured gateways first, then the ones the capacity reaction added. */
export function effectiveGateways(record: SiteRecord, kind: GatewayKind): string[] {
  const configured = record.body[kind];
  return [...configured, ...record.auto[kind].filter((id) => !configured.includes(id))];
}

function siteState(record: SiteRecord): SiteState {
  const { qosTarget, listen, ...body } = record.body;
  return {
    ...body,
    frontEnds: effectiveGateways(record, 'frontEnds'),
    backEnds: effectiveGateways(record, 'backEnds'),
    ...(listen === undefined ? {} : { listen }),
    ...(qosTarget === undefined ? {} : { qosTarget }),
    priorities: prioritiesInForce(record),
  };
}

/** `GET /v1/sites/{site}`: the body as PUT, the rules in force and what the capacity reaction added. */
export function siteView(record: SiteRecord) {
  const { certificate, ...body } = record.body;
  return {
    ...body,
    // The private key stays in the manager and its feed; the API says only that there is one.
    ...(certificate ? { certificate: { cert: certificate.cert, key: KEY_HIDDEN } } : {}),
    priorities: prioritiesInForce(record),
    autoAssigned: { frontEnds: record.auto.frontEnds, backEnds: record.auto.backEnds },
  };
}

function gatewayState(kind: GatewayKind, id: string, record: GatewayRecord, runtime: GatewayRuntime, shares?: Record<string, number>): GatewayState {
  const live = runtime.get(kind, id);
  return {
    ...(shares === undefined ? {} : { originShares: shares }),
    ...(record.pop === undefined ? {} : { pop: record.pop }),
    addresses: record.addresses,
    ...(record.tunnelTls ? { tunnelTls: true } : {}),
    healthy: runtime.isHealthy(kind, id),
    load: live?.load ?? 0,
    lastReport: live?.lastReport ?? null,
    tunnels: live?.tunnels ?? [],
    ringBytes: live?.ringBytes ?? [0, 0, 0, 0, 0],
  };
}

/** `GET /v1/front-ends` and `/v1/back-ends`: the pushed entry plus connection, origins and assigned sites. */
export function gatewaysView(kind: GatewayKind, durable: DurableState, runtime: GatewayRuntime) {
  const sitesOf = new Map<string, string[]>();
  for (const [name, record] of durable.sites) {
    for (const id of effectiveGateways(record, kind)) sitesOf.set(id, [...(sitesOf.get(id) ?? []), name]);
  }
  const view: Record<string, GatewayState & { connected: boolean; sites: string[]; origins?: unknown[]; unreachableFrom?: Unreachable[] }> = {};
  const unreachable = kind === 'backEnds' ? unreachableBackEnds(durable, runtime) : new Map<string, Unreachable[]>();
  for (const [id, record] of durable.gateways[kind]) {
    const live = runtime.get(kind, id);
    view[id] = {
      ...gatewayState(kind, id, record, runtime),
      connected: (live?.connections ?? 0) > 0,
      sites: sitesOf.get(id) ?? [],
      ...(live?.origins === undefined ? {} : { origins: live.origins }),
      ...(unreachable.has(id) ? { unreachableFrom: unreachable.get(id) } : {}),
    };
  }
  return view;
}

export interface Unreachable {
  frontEnd: string;
  error?: string;
}

/**
 * Back-ends that front-ends report they cannot reach (a tunnel reported down), with the reason they give:
 * a back-end may be registered and healthy while no front-end can open its tunnel (TLS, firewall, NAT).
 */
export function unreachableBackEnds(durable: DurableState, runtime: GatewayRuntime): Map<string, Unreachable[]> {
  const out = new Map<string, Unreachable[]>();
  for (const frontEnd of durable.gateways.frontEnds.keys()) {
    if (!runtime.isHeard('frontEnds', frontEnd)) continue;
    for (const tunnel of runtime.get('frontEnds', frontEnd)?.tunnels ?? []) {
      if (tunnel.connected) continue;
      out.set(tunnel.peer, [...(out.get(tunnel.peer) ?? []), { frontEnd, ...(tunnel.error === undefined ? {} : { error: tunnel.error }) }]);
    }
  }
  return out;
}

/** The state every subscriber gets (docs/manager.md "Feed protocol"). */
export function buildState(
  version: number, role: ManagerRole, durable: DurableState, runtime: GatewayRuntime,
  originShares: ReadonlyMap<string, Record<string, number>> = new Map(),
): ManagerState {
  const gateways = (kind: GatewayKind) =>
    Object.fromEntries([...durable.gateways[kind]].map(([id, record]) => [id, gatewayState(kind, id, record, runtime, kind === 'backEnds' ? originShares.get(id) : undefined)]));
  return {
    version,
    role,
    sites: Object.fromEntries([...durable.sites].map(([name, record]) => [name, siteState(record)])),
    rings: structuredClone(durable.rings),
    zoneRecords: Object.fromEntries(durable.zoneRecords),
    frontEnds: gateways('frontEnds'),
    backEnds: gateways('backEnds'),
  };
}
