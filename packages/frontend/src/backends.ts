import type { ConnectionOptions } from 'node:tls';
import type { BackendRoute } from '@overlay/balancer';
import { parseHostPort, readPem, type Logger } from '@overlay/common';
import { TunnelClient, type OpenOptions, type RingSettings, type TunnelSession, type TunnelStream } from '@overlay/tunnel';
import type { BackEndState } from './config.js';

/**
 * One route to one back-end: its tunnel, the work this front-end has in flight on it, and the QoS the
 * BackendSelector reads on every choice. A route whose back-end was removed or re-addressed drains:
 * it takes nothing new and closes once its streams are done.
 */
export class BackEndRoute implements BackendRoute {
  /** Work on the route: streams waiting for or carrying a response. This is what `highWater` bounds. */
  inFlight = 0;
  draining = false;
  /** Streams turned raw (upgraded WebSockets, TCP-mode connections): open, but not work in flight. */
  private readonly heldStreams = new Set<TunnelStream>();
  /** Bytes sent per priority ring by connections already closed (live ones report their own). */
  private readonly retiredRingBytes: number[] = [];

  constructor(
    readonly id: string,
    readonly client: TunnelClient,
    public highWater: number,
    /** What the route was built from, to tell a re-addressed back-end from a re-sent one. */
    readonly identity: string,
  ) {
    client.on('up', (session: TunnelSession) => {
      session.once('close', () => addInto(this.retiredRingBytes, session.getStats().ringBytes));
    });
  }

  get connected(): boolean {
    return this.client.connected;
  }

  get healthy(): boolean {
    return !this.draining;
  }

  get rttMs(): number | undefined {
    return known(this.client.rttMs);
  }

  get jitterMs(): number | undefined {
    return known(this.client.jitterMs);
  }

  get lossRate(): number | undefined {
    return known(this.client.lossRate);
  }

  get rttRecentMs(): number | undefined {
    return known(this.client.rttRecentMs);
  }

  get peerLoad(): number | undefined {
    return known(this.client.peerQos?.load);
  }

  /** Opens a stream and counts it in flight until it closes or is held. Throws a TunnelError when the tunnel cannot. */
  open(options: OpenOptions): TunnelStream {
    const stream = this.client.openStream(options);
    this.inFlight++;
    stream.on('close', this.streamClosed);
    return stream;
  }

  /**
   * One listener for every stream of the route (`this` is the stream), not a closure per stream: a held
   * stream lives as long as its WebSocket. (And `on`, as once() would add two objects to each.)
   */
  private readonly streamClosed = ((route: BackEndRoute) => function (this: TunnelStream) {
    if (!route.heldStreams.delete(this)) route.inFlight--;
  })(this);

  /**
   * A stream of this route that turned raw (a WebSocket after its 101, a TCP-mode connection once carried)
   * stops counting as work in flight: thousands of idle WebSockets must not fill the route for requests.
   */
  hold(stream: TunnelStream): void {
    if (stream.destroyed || this.heldStreams.has(stream)) return;
    this.heldStreams.add(stream);
    this.inFlight--;
  }

  /** Raw streams open on the route now. */
  get held(): number {
    return this.heldStreams.size;
  }

  /** Bytes sent per priority ring over the tunnel's life (live connections plus closed ones). */
  ringBytes(): number[] {
    const total = [...this.retiredRingBytes];
    for (const session of this.client.sessions) addInto(total, session.getStats().ringBytes);
    return total;
  }
}

function known(value: number | undefined): number | undefined {
  return value === undefined || value < 0 ? undefined : value;
}

function addInto(total: number[], more: readonly number[]): void {
  more.forEach((bytes, ring) => (total[ring] = (total[ring] ?? 0) + bytes));
}

function tlsOptions(id: string, spec: BackEndState): ConnectionOptions | undefined {
  if (!spec.tls) return undefined;
  const options: ConnectionOptions = {};
  if (spec.tls.ca !== undefined) options.ca = readPem(spec.tls.ca, `state.backEnds.${id}.tls.ca`);
  if (spec.tls.servername !== undefined) options.servername = spec.tls.servername;
  if (spec.tls.cert !== undefined) options.cert = readPem(spec.tls.cert, `state.backEnds.${id}.tls.cert`);
  if (spec.tls.key !== undefined) options.key = readPem(spec.tls.key, `state.backEnds.${id}.tls.key`);
  return options;
}

export interface BackEndPoolOptions {
  frontEndId: string;
  log: Logger;
}

/** The front-end's tunnels, one per configured back-end, replaced live as the state changes. */
export class BackEndPool {
  private readonly routes = new Map<string, BackEndRoute>();
  private readonly drainingRoutes = new Set<BackEndRoute>();
  private rings: RingSettings | undefined;

  constructor(private readonly options: BackEndPoolOptions) {}

  get(id: string): BackEndRoute | undefined {
    return this.routes.get(id);
  }

  /** Current routes and those still draining, for metrics. */
  all(): BackEndRoute[] {
    return [...this.routes.values(), ...this.drainingRoutes];
  }

  /**
   * Makes the tunnels match `backEnds`: new ids get a tunnel, removed or re-addressed ones drain (their
   * in-flight streams finish), a changed high-water mark and the rings apply at once. Reads TLS files before changing
   * anything, so a bad path leaves the pool as it was.
   */
  apply(backEnds: Record<string, BackEndState>, rings?: RingSettings): void {
    const planned = Object.entries(backEnds).map(([id, spec]) => {
      const identity = JSON.stringify([spec.tunnel, spec.key, spec.tls ?? null]);
      const current = this.routes.get(id);
      const reuse = current?.identity === identity ? current : undefined;
      return { id, spec, identity, reuse, tls: reuse ? undefined : tlsOptions(id, spec) };
    });
    if (rings) this.rings = structuredClone(rings);
    const plans = new Map(planned.map((plan) => [plan.id, plan]));
    for (const route of [...this.routes.values()]) {
      if (plans.get(route.id)?.reuse !== route) this.drain(route);
    }
    for (const plan of planned) {
      if (plan.reuse) {
        plan.reuse.highWater = plan.spec.highWater;
        if (rings) plan.reuse.client.setRings(rings);
        continue;
      }
      this.routes.set(plan.id, this.connect(plan.id, plan.spec, plan.identity, plan.tls));
    }
  }

  async close(): Promise<void> {
    const all = this.all();
    this.routes.clear();
    this.drainingRoutes.clear();
    await Promise.all(all.map((route) => route.client.close()));
  }

  private connect(id: string, spec: BackEndState, identity: string, tls: ConnectionOptions | undefined): BackEndRoute {
    const { host, port } = parseHostPort(spec.tunnel);
    const client = new TunnelClient({
      id: this.options.frontEndId,
      host,
      port,
      key: spec.key,
      tls,
      log: this.options.log.child({ route: id }),
    });
    if (this.rings) client.setRings(this.rings);
    const route = new BackEndRoute(id, client, spec.highWater, identity);
    client.start();
    return route;
  }

  private drain(route: BackEndRoute): void {
    if (this.routes.get(route.id) === route) this.routes.delete(route.id);
    route.draining = true;
    this.drainingRoutes.add(route);
    this.options.log.info({ backEnd: route.id, inFlight: route.inFlight }, 'back-end route draining');
    void route.client.close().finally(() => this.drainingRoutes.delete(route));
  }
}
