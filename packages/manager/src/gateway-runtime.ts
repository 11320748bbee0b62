import type { Clock } from '@overlay/common';
import type { GatewayKind } from './durable.js';
import type { Report, TunnelReport } from './feed-schema.js';

/** What the latest report said, and when (wall clock for people, monotonic for timeouts). */
export interface LiveGateway {
  /** Open feed connections that said hello with this id (a reconnect may briefly overlap the old one). */
  connections: number;
  /** Monotonic time of the latest hello or report. */
  lastSeen: number;
  /** Wall-clock time of the latest report, ms since the epoch; null before the first. */
  lastReport: number | null;
  reportedHealthy: boolean;
  load: number;
  tunnels: TunnelReport[];
  ringBytes: number[];
  origins?: Report['origins'];
}

const NO_RING_BYTES = Object.freeze([0, 0, 0, 0, 0]);

/**
 * The volatile side of the gateway registry: liveness and the latest report per gateway. Not stored:
 * after a restart every gateway is down until it reports again. Only registered gateways have entries.
 */
export class GatewayRuntime {
  private readonly live: Record<GatewayKind, Map<string, LiveGateway>> = { frontEnds: new Map(), backEnds: new Map() };

  constructor(
    private readonly reportTimeoutMs: number,
    private readonly clock: Clock,
    private readonly wallClock: () => number = Date.now,
  ) {}

  /** A hello counts as a sign of life: the gateway is up until it has been silent for the timeout. */
  connected(kind: GatewayKind, id: string): void {
    const gateway = this.entry(kind, id);
    gateway.connections++;
    gateway.lastSeen = this.clock();
  }

  disconnected(kind: GatewayKind, id: string): void {
    const gateway = this.live[kind].get(id);
    if (gateway) gateway.connections = Math.max(0, gateway.connections - 1);
  }

  report(kind: GatewayKind, id: string, report: Report): void {
    const gateway = this.entry(kind, id);
    gateway.lastSeen = this.clock();
    gateway.lastReport = this.wallClock();
    gateway.reportedHealthy = report.healthy;
    gateway.load = Math.min(1, report.load);
    gateway.tunnels = report.tunnels;
    gateway.ringBytes = report.ringBytes;
    gateway.origins = report.origins;
  }

  forget(kind: GatewayKind, id: string): void {
    this.live[kind].delete(id);
  }

  get(kind: GatewayKind, id: string): LiveGateway | undefined {
    return this.live[kind].get(id);
  }

  /** Reported healthy and heard from within the report timeout. */
  isHealthy(kind: GatewayKind, id: string): boolean {
    return this.isHeard(kind, id) && (this.live[kind].get(id) as LiveGateway).reportedHealthy;
  }

  /** Heard from within the report timeout, healthy or not: its reports still describe the present. */
  isHeard(kind: GatewayKind, id: string): boolean {
    const gateway = this.live[kind].get(id);
    return gateway !== undefined && this.clock() - gateway.lastSeen <= this.reportTimeoutMs;
  }

  /** Ids of the healthy gateways, to notice when one crosses the timeout. */
  healthyIds(kind: GatewayKind): string[] {
    return [...this.live[kind].keys()].filter((id) => this.isHealthy(kind, id)).sort();
  }

  private entry(kind: GatewayKind, id: string): LiveGateway {
    let gateway = this.live[kind].get(id);
    if (!gateway) {
      gateway = { connections: 0, lastSeen: this.clock(), lastReport: null, reportedHealthy: true, load: 0, tunnels: [], ringBytes: [...NO_RING_BYTES] };
      this.live[kind].set(id, gateway);
    }
    return gateway;
  }
}
