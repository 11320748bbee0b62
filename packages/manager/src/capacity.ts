import type { Clock } from '@overlay/common';
import { KIND_LABEL, type GatewayKind } from './durable.js';
import type { QosTarget } from './site-schema.js';

/** Seed 001 claim 10: while a site's QoS is below its target, assign another gateway; release it when load subsides. */
export interface CapacityRules {
  /** Over target this long before a gateway is added, ms. */
  raiseAfterMs: number;
  /** Projected load below `releaseBelow × maxLoad` (and RTT within target) this long before an added gateway goes, ms. */
  releaseAfterMs: number;
  /** The lower threshold, a fraction of `maxLoad` (hysteresis). */
  releaseBelow: number;
  /** Gateways of one kind added to one site at most. */
  maxAutoPerSite: number;
}

export interface CapacityGateway {
  healthy: boolean;
  /** 0..1. */
  load: number;
  tunnels: ReadonlyArray<{ peer: string; rttMs: number; connected: boolean }>;
}

export interface CapacitySite {
  name: string;
  qosTarget?: QosTarget;
  /** Gateways assigned through the API. */
  configured: Readonly<Record<GatewayKind, readonly string[]>>;
  /** Gateways this reaction added earlier, oldest first. */
  auto: Readonly<Record<GatewayKind, readonly string[]>>;
}

export interface CapacityView {
  sites: readonly CapacitySite[];
  gateways: Readonly<Record<GatewayKind, ReadonlyMap<string, CapacityGateway>>>;
  /** The kinds this manager's role lets it assign. */
  kinds: readonly GatewayKind[];
}

export interface CapacityDecision {
  site: string;
  kind: GatewayKind;
  action: 'assign' | 'release';
  gateway: string;
  reason: string;
}

interface Timers {
  overSince?: number;
  underSince?: number;
}

const OTHER_KIND: Record<GatewayKind, GatewayKind> = { frontEnds: 'backEnds', backEnds: 'frontEnds' };

/** Pure decisions over reported load and RTT; the caller applies them. Time comes only from `clock`. */
export class CapacityReactor {
  private readonly timers = new Map<string, Timers>();

  constructor(
    private readonly rules: CapacityRules,
    private readonly clock: Clock,
  ) {}

  evaluate(view: CapacityView): CapacityDecision[] {
    const now = this.clock();
    const decisions: CapacityDecision[] = [];
    const seen = new Set<string>();
    for (const site of view.sites) {
      for (const kind of view.kinds) {
        const key = `${site.name}\u0000${kind}`;
        seen.add(key);
        const timers = this.timers.get(key) ?? {};
        this.timers.set(key, timers);
        decisions.push(...this.evaluateSite(site, kind, view, timers, now));
      }
    }
    // Forget sites that are gone, so the map stays as large as the configuration.
    for (const key of this.timers.keys()) if (!seen.has(key)) this.timers.delete(key);
    return decisions;
  }

  private evaluateSite(site: CapacitySite, kind: GatewayKind, view: CapacityView, timers: Timers, now: number): CapacityDecision[] {
    const gateways = view.gateways[kind];
    const auto = site.auto[kind].filter((id) => !site.configured[kind].includes(id));
    const release = (gateway: string, reason: string): CapacityDecision => ({ site: site.name, kind, action: 'release', gateway, reason });
    const target = site.qosTarget;
    if (!target) {
      timers.overSince = timers.underSince = undefined;
      return auto.map((id) => release(id, 'the site has no QoS target'));
    }
    const down = auto.filter((id) => !gateways.get(id)?.healthy);
    if (down.length > 0) return down.map((id) => release(id, `${KIND_LABEL[kind]} ${id} is down`));

    const members = [...site.configured[kind], ...auto];
    const healthy = members.filter((id) => gateways.get(id)?.healthy);
    const load = healthy.length > 0 ? mean(healthy.map((id) => gateways.get(id)?.load ?? 0)) : undefined;
    const peers = new Set([...site.configured[OTHER_KIND[kind]], ...site.auto[OTHER_KIND[kind]]]);
    const rtt = meanRtt(healthy.map((id) => gateways.get(id) as CapacityGateway), peers);

    const problem = overTarget(target, healthy.length, load, rtt, kind);
    if (problem !== undefined) {
      timers.underSince = undefined;
      timers.overSince ??= now;
      if (now - timers.overSince < this.rules.raiseAfterMs || auto.length >= this.rules.maxAutoPerSite) return [];
      const candidate = leastLoadedCandidate(gateways, new Set(members), target.maxLoad);
      if (candidate === undefined) return [];
      timers.overSince = now; // another one only after another sustained period
      return [{ site: site.name, kind, action: 'assign', gateway: candidate, reason: problem }];
    }
    timers.overSince = undefined;

    const relief = auto.length > 0 ? this.reliefAfterRelease(target, healthy.length, load, rtt) : undefined;
    if (relief === undefined) {
      timers.underSince = undefined;
      return [];
    }
    timers.underSince ??= now;
    if (now - timers.underSince < this.rules.releaseAfterMs) return [];
    timers.underSince = now;
    return [release(auto[auto.length - 1], relief)];
  }

  /** Why the site would still be comfortably within target with one gateway fewer, or undefined. */
  private reliefAfterRelease(target: QosTarget, healthyCount: number, load: number | undefined, rtt: number | undefined): string | undefined {
    if (healthyCount < 2 || load === undefined) return undefined;
    const projected = (load * healthyCount) / (healthyCount - 1);
    const parts: string[] = [];
    if (target.maxLoad !== undefined) {
      const floor = target.maxLoad * this.rules.releaseBelow;
      if (!(projected < floor)) return undefined;
      parts.push(`load would be ${round(projected)} with one fewer, below ${round(floor)}`);
    }
    if (target.maxRttMs !== undefined) {
      if (rtt !== undefined && rtt > target.maxRttMs) return undefined;
      parts.push(rtt === undefined ? 'no RTT measured' : `RTT ${round(rtt)} ms within ${target.maxRttMs} ms`);
    }
    return parts.join('; ');
  }
}

/** Why a site is below its QoS for gateways of `kind`, or undefined when it is within target. */
function overTarget(target: QosTarget, healthyCount: number, load: number | undefined, rtt: number | undefined, kind: GatewayKind): string | undefined {
  if (healthyCount === 0) return `no healthy ${KIND_LABEL[kind]} assigned`;
  if (target.maxLoad !== undefined && load !== undefined && load > target.maxLoad) return `mean load ${round(load)} above ${target.maxLoad}`;
  if (target.maxRttMs !== undefined && rtt !== undefined && rtt > target.maxRttMs) return `mean tunnel RTT ${round(rtt)} ms above ${target.maxRttMs} ms`;
  return undefined;
}

function leastLoadedCandidate(gateways: ReadonlyMap<string, CapacityGateway>, members: ReadonlySet<string>, maxLoad: number | undefined): string | undefined {
  let best: { id: string; load: number } | undefined;
  for (const [id, gateway] of gateways) {
    if (members.has(id) || !gateway.healthy) continue;
    // A gateway already over the target would not help.
    if (maxLoad !== undefined && gateway.load >= maxLoad) continue;
    if (!best || gateway.load < best.load || (gateway.load === best.load && id < best.id)) best = { id, load: gateway.load };
  }
  return best?.id;
}

/** Mean RTT of the connected tunnels towards the site's gateways of the other kind (all tunnels if it has none). */
function meanRtt(gateways: readonly CapacityGateway[], peers: ReadonlySet<string>): number | undefined {
  const samples = gateways.flatMap((gateway) => gateway.tunnels.filter((tunnel) => tunnel.connected && (peers.size === 0 || peers.has(tunnel.peer))).map((tunnel) => tunnel.rttMs));
  return samples.length > 0 ? mean(samples) : undefined;
}

function mean(values: readonly number[]): number {
  return values.reduce((sum, value) => sum + value, 0) / values.length;
}

function round(value: number): number {
  return Math.round(value * 100) / 100;
}
