import { EventEmitter } from 'node:events';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer, Server as TlsServer, type TlsOptions } from 'node:tls';
import { SourceSlots, ignoreError, monotonicNow, silentLogger, sourceKey, type Clock, type Logger } from '@overlay/common';
import { TunnelError } from './errors.js';
import { acceptorHandshake } from './handshake.js';
import { resolveSessionOptions, type RingSettings, type SessionOptions } from './options.js';
import { TunnelSession } from './session.js';
import type { TunnelStream } from './stream.js';
import { TunnelWriter } from './writer.js';

export interface TunnelServerOptions {
  /** This back-end's gateway id, told to front-ends in the handshake. */
  id: string;
  /** Pre-shared keys accepted (more than one during a rotation). */
  keys: Array<string | Buffer>;
  host?: string;
  port?: number;
  /** Serve the tunnel over TLS with these options (cert, key, ca, requestCert …). */
  tls?: TlsOptions;
  session?: Partial<SessionOptions>;
  /** A connection must finish the whole handshake within this many ms (bytes arriving do not extend it). */
  handshakeTimeoutMs?: number;
  /**
   * Connections in the handshake at once, all sources together (default 256). A newcomer is always let in:
   * when full, the oldest handshake of the source holding the most is dropped (SourceSlots).
   */
  maxPendingHandshakes?: number;
  /** Handshakes one source address (an IPv6 /64) may hold at once; its newcomer drops its oldest (default 16). */
  maxPendingHandshakesPerSource?: number;
  /** This back-end's load 0..1, sent to front-ends in every QOS report (origin queue pressure). */
  reportLoad?: () => number;
  log?: Logger;
  clock?: Clock;
}

export function keyBytes(key: string | Buffer): Buffer {
  const bytes = typeof key === 'string' ? Buffer.from(key, 'utf8') : key;
  if (bytes.length < 16) throw new RangeError('tunnel pre-shared key: at least 16 bytes');
  return bytes;
}

/**
 * Accepts tunnel connections from front-ends. Events: 'session' (TunnelSession) once a connection has
 * authenticated, 'stream' (TunnelStream, TunnelSession) for every stream a front-end opens.
 */
export class TunnelServer extends EventEmitter {
  readonly sessions = new Set<TunnelSession>();
  private readonly server: Server;
  private readonly options: TunnelServerOptions;
  private sessionOptions: SessionOptions;
  /** The manager's rings, for tunnels that connect later. */
  private rings: RingSettings | undefined;
  private keys: Buffer[];
  private readonly log: Logger;
  /** One writer per tunnel (front-end id and tunnel id), shared by its connections while any is up. */
  private readonly writers = new Map<string, { writer: TunnelWriter; sessions: number }>();
  /** Pre-authentication connections; authenticated sessions are not counted here and always have room. */
  private readonly pending: SourceSlots<Socket>;
  private readonly evicted = new WeakSet<Socket>();
  /** Failed handshakes, for metrics (an evicted one counts once, here, when its socket closes). */
  handshakeFailures = 0;
  /** Of those, the ones dropped to make room for another source. */
  private handshakeEvictions = 0;

  constructor(options: TunnelServerOptions) {
    super();
    this.options = options;
    this.sessionOptions = resolveSessionOptions(options.session);
    this.keys = options.keys.map(keyBytes);
    if (this.keys.length === 0) throw new RangeError('tunnel server: at least one pre-shared key');
    this.log = options.log ?? silentLogger;
    this.pending = new SourceSlots(
      { maxTotal: options.maxPendingHandshakes ?? 256, maxPerSource: options.maxPendingHandshakesPerSource ?? 16 },
      (socket) => {
        this.evicted.add(socket);
        socket.destroy();
      },
    );
    this.server = options.tls
      ? createTlsServer(options.tls, (socket) => this.accept(socket))
      : createServer({ noDelay: true }, (socket) => this.accept(socket));
  }

  async listen(): Promise<AddressInfo> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.options.port ?? 0, this.options.host ?? '127.0.0.1', () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    return this.address();
  }

  address(): AddressInfo {
    return this.server.address() as AddressInfo;
  }

  private accept(socket: Socket): void {
    const remote = `${socket.remoteAddress}:${socket.remotePort}`;
    this.pending.admit(sourceKey(socket.remoteAddress), socket);
    socket.on('error', ignoreError);
    acceptorHandshake(socket, {
      keys: this.keys,
      id: this.options.id,
      settings: this.sessionOptions.settings,
      timeoutMs: this.options.handshakeTimeoutMs ?? 5_000,
    }).then(
      ({ peer, rest }) => {
        this.pending.release(socket);
        if (socket.destroyed) return;
        const log = this.log.child({ peer: peer.id, remote });
        const writer = this.writerFor(`${peer.id}\n${peer.tunnel}`);
        const session = new TunnelSession(socket, 'acceptor', peer, this.sessionOptions, rest, { log, clock: this.options.clock ?? monotonicNow, writer: writer.writer });
        if (this.options.reportLoad) session.loadProbe = this.options.reportLoad;
        this.sessions.add(session);
        session.on('stream', (stream: TunnelStream) => this.emit('stream', stream, session));
        session.once('close', (error?: Error) => {
          this.sessions.delete(session);
          if (--writer.sessions === 0) this.writers.delete(`${peer.id}\n${peer.tunnel}`);
          log.info({ code: error instanceof TunnelError ? error.code : undefined, reason: error?.message }, 'tunnel session closed');
        });
        log.info({ tunnel: peer.tunnel }, 'tunnel session up');
        this.emit('session', session);
      },
      (error: Error) => {
        this.pending.release(socket);
        this.handshakeFailures++;
        // An eviction is this end's choice under pressure, not news of a broken peer: debug, not warn.
        if (this.evicted.has(socket)) {
          this.handshakeEvictions++;
          this.log.debug({ remote }, 'tunnel handshake dropped to make room for another source');
        } else this.log.warn({ remote, code: (error as TunnelError).code, reason: error.message }, 'tunnel handshake failed');
        socket.end();
        setTimeout(() => socket.destroy(), 1_000).unref();
      },
    );
  }

  /** The writer of a tunnel's connections, counted once more. */
  private writerFor(tunnel: string): { writer: TunnelWriter; sessions: number } {
    let entry = this.writers.get(tunnel);
    if (!entry) {
      entry = { writer: new TunnelWriter(this.sessionOptions, this.options.clock ?? monotonicNow), sessions: 0 };
      if (this.rings) entry.writer.setRings(this.rings);
      this.writers.set(tunnel, entry);
    }
    entry.sessions++;
    return entry;
  }

  /** Handshakes in progress now, and how many were dropped to make room since start (for metrics). */
  get handshakes(): { pending: number; evicted: number } {
    return { pending: this.pending.size, evicted: this.handshakeEvictions };
  }

  /** The manager's rings (PUT /v1/rings) for every tunnel, now and later. */
  setRings(rings: RingSettings): void {
    this.rings = rings;
    for (const { writer } of this.writers.values()) writer.setRings(rings);
  }

  /**
   * Keys (and, for a TLS listener, the certificate) for handshakes from now on: a reload's key rotation
   * or certificate swap. Sessions already up carry on with what they agreed.
   */
  rekey(keys: Array<string | Buffer>, tls?: TlsOptions): void {
    const next = keys.map(keyBytes);
    if (next.length === 0) throw new RangeError('tunnel server: at least one pre-shared key');
    this.keys = next;
    if (tls && this.server instanceof TlsServer) this.server.setSecureContext(tls);
  }

  /** Stops accepting; open sessions get GOAWAY and may finish their streams for up to `graceMs`. */
  async close(graceMs = 5_000): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const socket of this.pending) socket.destroy();
    const drains = [...this.sessions].map((session) => session.goAway('server shutting down'));
    const timer = setTimeout(() => {
      for (const session of this.sessions) session.destroy();
    }, graceMs);
    await Promise.all(drains);
    clearTimeout(timer);
    await closed;
  }
}
