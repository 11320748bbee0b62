import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { ignoreError, parseHostPort, sourceKey } from '@overlay/common';
import type { TcpHead } from '@overlay/stream-heads';
import type { GatewayContext } from './context.js';
import { ExchangeError } from './errors.js';
import { closeOf, exchangeFor } from './exchange.js';
import { watchIdle } from './idle-watch.js';
import { clientAddress } from './request-head.js';
import type { Site } from './sites.js';
import { splice } from './splice.js';

interface TcpListener {
  /** Replaced on every state update; connections read it when they arrive. */
  site: Site;
  server: Server;
  sockets: Set<Socket>;
  address: AddressInfo;
}

/**
 * One listener per TCP-mode site; each client connection becomes one tunnel stream (TcpHead) that turns
 * into a raw pipe after the back-end's 200 REPLY. Nothing is read from the client before that, so a failed
 * attempt can go to another back-end; when none works the connection is closed. A carried connection that
 * moves too little for the site's idle window is closed (idle-watch.ts).
 */
export class TcpSites {
  private readonly listeners = new Map<string, TcpListener>();

  /**
   * `maxConnections`: client connections each TCP site's listener holds at once; more are closed at accept.
   * `refusal`: how a connection the front-end cannot carry is turned away, FIN (`close`) or RST (`reset`).
   */
  constructor(
    private readonly context: GatewayContext,
    private readonly maxConnections: number,
    private readonly refusal: 'close' | 'reset' = 'close',
  ) {}

  /** Listener addresses by site name. */
  addresses(): Record<string, AddressInfo> {
    return Object.fromEntries([...this.listeners.values()].map((listener) => [listener.site.name, listener.address]));
  }

  /**
   * Makes the listeners match the TCP sites: new ones bind, removed or re-addressed ones stop accepting
   * (their connections carry on), unchanged ones pick up the new site settings.
   */
  async apply(sites: readonly Site[]): Promise<void> {
    const wanted = new Map(sites.map((site) => [`${site.name} ${site.listen}`, site]));
    for (const [key, listener] of this.listeners) {
      const site = wanted.get(key);
      if (site) listener.site = site;
      else {
        this.listeners.delete(key);
        listener.server.close();
      }
    }
    for (const [key, site] of wanted) {
      if (!this.listeners.has(key)) this.listeners.set(key, await this.open(site));
    }
  }

  /** Stops accepting; open connections are cut after `graceMs`. */
  async close(graceMs: number): Promise<void> {
    const all = [...this.listeners.values()];
    this.listeners.clear();
    await Promise.all(all.map((listener) => new Promise<void>((resolve) => {
      const cut = setTimeout(() => listener.sockets.forEach((socket) => socket.destroy()), graceMs);
      listener.server.close(() => {
        clearTimeout(cut);
        resolve();
      });
    })));
  }

  private async open(site: Site): Promise<TcpListener> {
    const { host, port } = parseHostPort(site.listen as string);
    const server = createServer({ allowHalfOpen: true, noDelay: true, pauseOnConnect: true });
    // Carried connections do not count against the route's highWater: this is what bounds them.
    server.maxConnections = this.maxConnections;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const listener: TcpListener = { site, server, sockets: new Set(), address: server.address() as AddressInfo };
    server.on('connection', (socket: Socket) => {
      listener.sockets.add(socket);
      socket.on('close', () => listener.sockets.delete(socket));
      socket.on('error', ignoreError);
      this.carry(listener.site, socket).catch((err: unknown) => {
        this.context.log.error({ err, site: listener.site.name }, 'tcp connection handling failed');
        socket.destroy();
      });
    });
    this.context.log.info({ site: site.name, address: listener.address }, 'tcp site listening');
    return listener;
  }

  private async carry(site: Site, socket: Socket): Promise<void> {
    const { context } = this;
    const { metrics } = context;
    const startedAt = performance.now();
    const clientIp = clientAddress(socket.remoteAddress);
    const { priority } = site.classify({ clientIp, path: '', method: '', headers: {} });
    // One access line per connection when it ends: 200 when carried, else the status of the refusal.
    const outcome: { status: number; backEnd?: string } = { status: 499 };
    socket.once('close', () => context.accessLog({
      client: clientIp, method: 'TCP', host: site.name, path: site.listen ?? '', status: outcome.status, bytesIn: socket.bytesRead,
      bytesOut: socket.bytesWritten, priority, backEnd: outcome.backEnd, durationMs: Math.round((performance.now() - startedAt) * 1000) / 1000,
    }));
    const refuse = (why: string, status: number) => {
      outcome.status = status;
      metrics.tcpConnections.inc({ site: site.name, outcome: 'refused' });
      context.log.info({ site: site.name, reason: why }, 'tcp connection refused');
      if (this.refusal === 'reset') socket.resetAndDestroy();
      else socket.destroy();
    };
    const admission = context.gate.admit({ established: false, source: sourceKey(socket.remoteAddress) });
    if (!admission.admitted) {
      metrics.admissionRefusals.inc({ reason: admission.reason });
      return refuse('front-end overloaded', 503);
    }
    const ticket = admission.ticket;
    socket.on('close', () => ticket.finish());
    const head: TcpHead = { kind: 'tcp', site: site.name, client: { ip: clientIp, port: socket.remotePort ?? 0 }, frontEnd: context.id, priority };
    let exchanged;
    try {
      exchanged = await exchangeFor(context, site, {
        priority,
        meta: head,
        send: () => {},
        retryable: true, // nothing of the client's has been sent before the REPLY
        watchClient: closeOf(socket),
      });
    } catch (err) {
      if (!(err instanceof ExchangeError)) throw err;
      if (err.status !== 499) metrics.backEndFailures.inc({ backend: err.backEnd ?? '', code: err.code });
      outcome.backEnd = err.backEnd;
      return refuse(err.message, err.status);
    }
    const { route, stream, reply } = exchanged;
    outcome.backEnd = route.id;
    if (reply.status !== 200) {
      stream.destroy();
      return refuse(`back-end answered ${reply.status}${reply.error ? ` (${reply.error.code})` : ''}`, reply.status);
    }
    outcome.status = 200;
    ticket.start();
    route.hold(stream);
    metrics.tcpConnections.inc({ site: site.name, outcome: 'carried' });
    // Closing the client resets the stream (splice), which closes the origin connection and frees its slot.
    const idle = watchIdle(site.tcp, () => {
      metrics.tcpConnections.inc({ site: site.name, outcome: 'idle' });
      context.log.info({ site: site.name, idleTimeoutMs: site.tcp.idleTimeoutMs, minBytesPerS: site.tcp.minBytesPerS }, 'tcp connection cut: too little traffic');
      socket.destroy();
    });
    socket.on('close', idle.stop);
    const counts = metrics.bytesOf(site.name);
    splice(socket, stream, {
      in: (bytes) => {
        idle.count(bytes);
        counts.in(bytes);
      },
      out: (bytes) => {
        idle.count(bytes);
        counts.out(bytes);
      },
    });
    socket.resume();
  }
}
