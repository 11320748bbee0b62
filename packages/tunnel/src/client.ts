import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { connect, type Socket } from 'node:net';
import { connect as connectTls, type ConnectionOptions } from 'node:tls';
import { Backoff, defaultBackoff, monotonicNow, silentLogger, type BackoffOptions, type Clock, type Logger } from '@overlay/common';
import { TunnelError, TunnelErrorCode } from './errors.js';
import { initiatorHandshake } from './handshake.js';
import { resolveSessionOptions, type RingSettings, type SessionOptions } from './options.js';
import type { QosReport } from './qos.js';
import { describeConnectFailure } from './tls-failure.js';
import { keyBytes } from './server.js';
import { TunnelSession, type OpenOptions } from './session.js';
import type { TunnelStream } from './stream.js';
import { TunnelWriter, type DeliveryStats } from './writer.js';

export interface StripingOptions {
  /** Most TCP connections one tunnel uses. */
  maxConnections: number;
  /** Hosted streams per connection before another connection is opened. */
  streamsPerConnection: number;
  /** An extra connection idle (no streams) this long is retired, ms. */
  idleMs: number;
}

export const defaultStriping: Readonly<StripingOptions> = Object.freeze({ maxConnections: 4, streamsPerConnection: 64, idleMs: 30_000 });

export interface TunnelClientOptions {
  /** This front-end's gateway id. */
  id: string;
  host: string;
  port: number;
  key: string | Buffer;
  /** Connect over TLS with these options (ca, servername, cert/key for mutual TLS …). */
  tls?: ConnectionOptions;
  session?: Partial<SessionOptions>;
  striping?: Partial<StripingOptions>;
  backoff?: BackoffOptions;
  connectTimeoutMs?: number;
  handshakeTimeoutMs?: number;
  log?: Logger;
  clock?: Clock;
}

interface Slot {
  index: number;
  session: TunnelSession | null;
  connecting: boolean;
  backoff: Backoff;
  retry: NodeJS.Timeout | null;
  idleSince: number;
}

/** Aggregate view of a tunnel for back-end selection and metrics. */
export interface TunnelQos {
  connected: boolean;
  connections: number;
  streams: number;
  /** Smoothed RTT over the tunnel's connections, ms; -1 before any sample. */
  rttMs: number;
  jitterMs: number;
  /** Estimated loss on the path, 0..1; -1 when unknown (see TunnelClient.lossRate). */
  lossRate: number;
  /** The back-end's latest report over any connection (its view of load and of our traffic). */
  peer: QosReport | undefined;
  reconnects: number;
  /** What this end sent on the tunnel and the back-end acknowledged, and the congestion control's view. */
  delivery: DeliveryStats;
}

/**
 * The front-end's end of one tunnel to one back-end: keeps at least one authenticated connection up,
 * reconnecting with backoff, and stripes streams over more connections as they grow (seed 001: a tunnel
 * hosting many streams must be as aggressive as many TCP connections; a stream stays on one connection).
 * Events: 'up' (session), 'down' (error), 'qos' (report), 'stream' (a stream the back-end opened).
 */
export class TunnelClient extends EventEmitter {
  readonly tunnelId = randomUUID();
  private readonly options: TunnelClientOptions;
  private readonly sessionOptions: SessionOptions;
  private readonly striping: StripingOptions;
  private readonly key: Buffer;
  private readonly log: Logger;
  private readonly clock: Clock;
  private readonly slots: Slot[] = [];
  /** One scheduler for what the tunnel sends, across all of its connections. */
  private readonly writer: TunnelWriter;
  private stopped = false;
  private started = false;
  private reaper: NodeJS.Timeout | null = null;
  private lastPeerQos: QosReport | undefined;
  reconnects = 0;
  /** Why the latest connection attempt failed or the latest connection ended; cleared when one comes up. */
  lastError: string | undefined;

  constructor(options: TunnelClientOptions) {
    super();
    this.options = options;
    this.sessionOptions = resolveSessionOptions(options.session);
    this.striping = { ...defaultStriping, ...options.striping };
    this.key = keyBytes(options.key);
    this.log = options.log ?? silentLogger;
    this.clock = options.clock ?? monotonicNow;
    this.writer = new TunnelWriter(this.sessionOptions, this.clock);
  }

  /** Starts connecting; keeps the tunnel up until close(). */
  start(): this {
    if (this.started) return this;
    this.started = true;
    this.addSlot();
    this.reaper = setInterval(() => this.retireIdle(), Math.max(250, this.striping.idleMs / 2));
    this.reaper.unref();
    return this;
  }

  get connected(): boolean {
    return this.slots.some((slot) => slot.session && !slot.session.closed && !slot.session.goneAway);
  }

  /** Resolves once a connection is up; rejects after `timeoutMs`. */
  ready(timeoutMs = 10_000): Promise<void> {
    if (this.connected) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.off('up', onUp);
        reject(new TunnelError(TunnelErrorCode.UNAVAILABLE, `tunnel to ${this.options.host}:${this.options.port} not up within ${timeoutMs} ms`, { retryable: true }));
      }, timeoutMs);
      const onUp = () => {
        clearTimeout(timer);
        resolve();
      };
      this.once('up', onUp);
    });
  }

  /** Opens a stream on the least loaded connection; throws ERR_TUNNEL_UNAVAILABLE while none is up. */
  openStream(options: OpenOptions = {}): TunnelStream {
    const session = this.pickSession();
    if (!session) throw new TunnelError(TunnelErrorCode.UNAVAILABLE, `tunnel to ${this.options.host}:${this.options.port} is down`, { retryable: true, origin: 'upstream' });
    const stream = session.openStream(options);
    this.growIfCrowded();
    return stream;
  }

  get sessions(): TunnelSession[] {
    return this.slots.flatMap((slot) => (slot.session && !slot.session.closed ? [slot.session] : []));
  }

  /** Mean smoothed RTT over the measured connections, ms; -1 before any sample. Cheap: read on every request. */
  get rttMs(): number {
    return this.meanOverMeasured((session) => session.rtt.value as number);
  }

  /** Mean of the connections' latest RTT samples, ms; -1 before any (back-end selection forgets old congestion by it). */
  get rttRecentMs(): number {
    return this.meanOverMeasured((session) => session.rtt.last as number);
  }

  /** Mean RTT deviation over the measured connections, ms; -1 before any sample. */
  get jitterMs(): number {
    return this.meanOverMeasured((session) => session.rtt.jitter);
  }

  /**
   * Estimated loss on the tunnel's path, 0..1: the worst that either end measured over its last QoS
   * interval on any connection (the back-end's reports carry its direction); -1 when neither sent enough.
   */
  get lossRate(): number {
    let worst = -1;
    for (const session of this.sessions) worst = Math.max(worst, session.lossRate, session.peerQos?.lossRate ?? -1);
    return worst;
  }

  /** The back-end's latest report (its load, its view of our traffic), from any connection. */
  get peerQos(): QosReport | undefined {
    return this.lastPeerQos;
  }

  qos(): TunnelQos {
    const sessions = this.sessions;
    return {
      connected: this.connected,
      connections: sessions.length,
      streams: sessions.reduce((sum, session) => sum + session.streamCount, 0),
      rttMs: this.rttMs,
      jitterMs: this.jitterMs,
      lossRate: this.lossRate,
      peer: this.lastPeerQos,
      reconnects: this.reconnects,
      delivery: this.writer.delivery(),
    };
  }

  private meanOverMeasured(pick: (session: TunnelSession) => number): number {
    let sum = 0;
    let count = 0;
    for (const slot of this.slots) {
      const session = slot.session;
      if (!session || session.closed || session.rtt.value === undefined) continue;
      sum += pick(session);
      count++;
    }
    return count ? sum / count : -1;
  }

  /** The manager's rings (PUT /v1/rings) for the tunnel's one writer: every connection, now and later. */
  setRings(rings: RingSettings): void {
    this.writer.setRings(rings);
  }

  /** Stops reconnecting and drains every connection (GOAWAY, then close). */
  async close(): Promise<void> {
    this.stopped = true;
    if (this.reaper) clearInterval(this.reaper);
    const drains: Promise<void>[] = [];
    for (const slot of this.slots) {
      if (slot.retry) clearTimeout(slot.retry);
      if (slot.session) drains.push(slot.session.goAway('front-end closing'));
    }
    await Promise.all(drains);
  }

  private pickSession(): TunnelSession | undefined {
    let best: TunnelSession | undefined;
    for (const slot of this.slots) {
      const session = slot.session;
      if (!session || session.closed || session.goneAway || session.draining) continue;
      if (!best || session.streamCount < best.streamCount) best = session;
    }
    return best;
  }

  /** Runs on every stream opened: counts without building lists. */
  private growIfCrowded(): void {
    let streams = 0;
    let live = 0;
    for (const slot of this.slots) {
      if (slot.session && !slot.session.closed) streams += slot.session.streamCount;
      if (slot.session || slot.connecting || slot.retry) live++;
    }
    const wanted = Math.min(this.striping.maxConnections, Math.max(1, Math.ceil(streams / this.striping.streamsPerConnection)));
    for (let i = live; i < wanted; i++) this.addSlot();
  }

  private retireIdle(): void {
    const now = this.clock();
    for (const slot of [...this.slots]) {
      // A connection still coming up was asked for by the streams open now: a slow handshake is not idleness.
      if (slot.index === 0 || slot.connecting) continue;
      const session = slot.session;
      if (session && session.streamCount > 0) {
        slot.idleSince = now;
        continue;
      }
      if (now - slot.idleSince < this.striping.idleMs) continue;
      this.slots.splice(this.slots.indexOf(slot), 1);
      if (slot.retry) clearTimeout(slot.retry);
      if (session) void session.goAway('idle connection retired');
      this.log.debug({ slot: slot.index }, 'retired idle tunnel connection');
    }
  }

  private addSlot(): void {
    const index = this.slots.reduce((max, slot) => Math.max(max, slot.index + 1), 0);
    const slot: Slot = { index, session: null, connecting: false, backoff: new Backoff(this.options.backoff ?? defaultBackoff), retry: null, idleSince: this.clock() };
    this.slots.push(slot);
    void this.connectSlot(slot);
  }

  private async connectSlot(slot: Slot): Promise<void> {
    if (this.stopped || !this.slots.includes(slot)) return;
    slot.connecting = true;
    slot.retry = null;
    let socket: Socket | undefined;
    try {
      socket = await this.dial();
      const { peer, rest } = await initiatorHandshake(socket, {
        key: this.key,
        id: this.options.id,
        tunnel: this.tunnelId,
        settings: this.sessionOptions.settings,
        timeoutMs: this.options.handshakeTimeoutMs ?? 5_000,
      });
      if (this.stopped || !this.slots.includes(slot)) {
        socket.destroy();
        return;
      }
      const session = new TunnelSession(socket, 'initiator', peer, this.sessionOptions, rest, {
        log: this.log.child({ backEnd: peer.id, connection: slot.index }),
        clock: this.clock,
        writer: this.writer,
      });
      slot.session = session;
      slot.connecting = false;
      slot.backoff.reset();
      slot.idleSince = this.clock();
      session.on('qos', (report: QosReport) => {
        this.lastPeerQos = report;
        this.emit('qos', report);
      });
      session.on('stream', (stream: TunnelStream) => this.emit('stream', stream, session));
      session.once('close', (error?: Error) => this.onSessionClosed(slot, session, error));
      this.lastError = undefined;
      this.log.info({ backEnd: peer.id, connection: slot.index, tunnel: this.tunnelId }, 'tunnel connection up');
      this.emit('up', session);
    } catch (error) {
      socket?.destroy();
      slot.connecting = false;
      const err = error as Error;
      this.lastError = describeConnectFailure(err, this.options.tls !== undefined);
      const level = err instanceof TunnelError && err.code === TunnelErrorCode.AUTH_FAILED ? 'error' : 'warn';
      this.log[level]({ connection: slot.index, code: (err as TunnelError).code, reason: this.lastError }, 'tunnel connection failed');
      this.scheduleReconnect(slot);
    }
  }

  private onSessionClosed(slot: Slot, session: TunnelSession, error?: Error): void {
    if (slot.session !== session) return;
    slot.session = null;
    if (this.stopped) return;
    if (error) this.lastError = error.message;
    // A connection retired for idleness closing is the expected end of its GOAWAY, not a loss.
    if (slot.index !== 0 && !this.slots.includes(slot)) {
      this.log.debug({ connection: slot.index, code: (error as TunnelError | undefined)?.code }, 'retired tunnel connection closed');
      return;
    }
    this.log.warn({ connection: slot.index, code: (error as TunnelError | undefined)?.code, reason: error?.message }, 'tunnel connection lost');
    if (!this.connected) this.emit('down', error);
    if (slot.index === 0 || this.slots.includes(slot)) {
      this.reconnects++;
      this.scheduleReconnect(slot);
    }
  }

  private scheduleReconnect(slot: Slot): void {
    if (this.stopped || !this.slots.includes(slot)) return;
    const delay = slot.backoff.next();
    slot.retry = setTimeout(() => void this.connectSlot(slot), delay);
    slot.retry.unref();
  }

  private dial(): Promise<Socket> {
    const { host, port, tls } = this.options;
    const timeoutMs = this.options.connectTimeoutMs ?? 5_000;
    return new Promise<Socket>((resolve, reject) => {
      const socket: Socket = tls ? connectTls({ host, port, ...tls }) : connect({ host, port, noDelay: true });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new TunnelError(TunnelErrorCode.UNAVAILABLE, `connect to ${host}:${port} timed out after ${timeoutMs} ms`, { retryable: true }));
      }, timeoutMs);
      socket.once(tls ? 'secureConnect' : 'connect', () => {
        clearTimeout(timer);
        socket.removeListener('error', onError);
        resolve(socket);
      });
      const onError = (err: Error) => {
        clearTimeout(timer);
        reject(new TunnelError(TunnelErrorCode.UNAVAILABLE, `connect to ${host}:${port} failed: ${err.message}`, { retryable: true, cause: err }));
      };
      socket.once('error', onError);
    });
  }
}
