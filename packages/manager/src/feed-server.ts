import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { formatPath, type Logger } from '@overlay/common';
import { WebSocket, WebSocketServer, type RawData } from 'ws';
import type { ManagerConfig } from './config.js';
import type { GatewayKind } from './durable.js';
import { ApiError } from './errors.js';
import { diffStates } from './feed-patch.js';
import { subscriberMessageSchema, type FeedMessage, type Hello, type ManagerState, type SubscriberRole } from './feed-schema.js';
import { mayActAs, type Access, type Authenticator } from './credentials.js';
import { bearerToken } from './http-io.js';
import type { ManagerCore } from './manager.js';
import type { ManagerMetrics } from './metrics.js';

export const STREAM_PATH = '/v1/stream';

export interface FeedServerOptions {
  core: ManagerCore;
  authenticate: Authenticator;
  settings: ManagerConfig['feed'];
  metrics: ManagerMetrics;
  log: Logger;
}

interface Subscriber {
  socket: WebSocket;
  access: Access;
  /** Latest version this subscriber has been sent (or resumed at). */
  sentVersion: number;
  /** Answered the latest ping. */
  alive: boolean;
  identity?: { role: SubscriberRole; id: string; kind?: GatewayKind };
  /** Messages are handled one at a time: a hello registers before the reports behind it. */
  inbox: Promise<void>;
}

/** States kept to patch from: subscribers are at most a push or two behind, or they get a snapshot. */
const FEED_HISTORY = 8;

/** Close codes (RFC 6455): policy violation, and "try again later" for a subscriber too slow to follow. */
const CLOSE_POLICY = 1008;
const CLOSE_TRY_AGAIN = 1013;

/**
 * `/v1/stream`: a snapshot on subscribe, then a patch with what changed on every change (API writes at
 * once, report-driven changes gathered for `reportPushDelayMs`). Subscribers say hello; gateways then
 * report. Dead subscribers are found by ping, slow ones dropped when their send buffer fills.
 */
export class FeedServer {
  private readonly wss: WebSocketServer;
  private readonly subscribers = new Set<Subscriber>();
  private readonly pingTimer: NodeJS.Timeout;
  private pushTimer: NodeJS.Timeout | undefined;
  private pushImmediate: NodeJS.Immediate | undefined;
  /** States recently sent, by version: a subscriber holding one of them gets a patch from it, others a snapshot. */
  private readonly recent = new Map<number, ManagerState>();
  private readonly unsubscribe: () => void;

  constructor(private readonly options: FeedServerOptions) {
    this.wss = new WebSocketServer({ noServer: true, maxPayload: options.settings.maxMessageBytes, perMessageDeflate: false });
    this.pingTimer = setInterval(() => this.pingAll(), options.settings.pingIntervalMs).unref();
    this.unsubscribe = options.core.onChange((immediate) => this.schedulePush(immediate));
  }

  get subscriberCount(): number {
    return this.subscribers.size;
  }

  /** For the HTTP server's `upgrade` event; answers plain HTTP errors before the handshake. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const url = new URL(req.url ?? '/', 'http://manager');
    if (url.pathname !== STREAM_PATH) return refuse(socket, new ApiError(404, 'not_found', `no WebSocket at ${url.pathname}; use ${STREAM_PATH}`));
    const access = this.options.authenticate(bearerToken(req) ?? url.searchParams.get('token') ?? undefined);
    if (access === undefined) return refuse(socket, new ApiError(401, 'unauthorized', 'a valid bearer token or ?token= is required'));
    if (this.subscribers.size >= this.options.settings.maxSubscribers) {
      this.options.metrics.feedDropped.inc({ reason: 'full' });
      return refuse(socket, new ApiError(503, 'too_many_subscribers', `at most ${this.options.settings.maxSubscribers} subscribers`));
    }
    const since = url.searchParams.has('since') ? Number(url.searchParams.get('since')) : undefined;
    this.wss.handleUpgrade(req, socket, head, (ws) => this.attach(ws, access, since));
  }

  close(): void {
    clearInterval(this.pingTimer);
    clearTimeout(this.pushTimer);
    if (this.pushImmediate) clearImmediate(this.pushImmediate);
    this.unsubscribe();
    for (const subscriber of this.subscribers) subscriber.socket.terminate();
    this.wss.close();
  }

  private attach(socket: WebSocket, access: Access, since: number | undefined): void {
    const { core, metrics } = this.options;
    const subscriber: Subscriber = { socket, access, sentVersion: -1, alive: true, inbox: Promise.resolve() };
    this.subscribers.add(subscriber);
    metrics.subscribers.set(this.subscribers.size);
    socket.on('pong', () => (subscriber.alive = true));
    socket.on('message', (data, isBinary) => {
      subscriber.inbox = subscriber.inbox
        .then(() => this.receive(subscriber, data, isBinary))
        .catch((err: unknown) => this.options.log.error({ err }, 'feed message handling failed'));
    });
    socket.on('error', (err) => this.options.log.debug({ err }, 'feed subscriber error'));
    socket.on('close', () => {
      this.subscribers.delete(subscriber);
      metrics.subscribers.set(this.subscribers.size);
      const kind = subscriber.identity?.kind;
      // Wait for a hello still being registered, so the disconnect is counted after the connect.
      if (kind) void subscriber.inbox.then(() => core.gatewayDisconnected(kind, subscriber.identity?.id as string));
    });
    const version = core.currentVersion;
    const state = core.state();
    if (since === version) {
      subscriber.sentVersion = version;
      this.send(subscriber, JSON.stringify({ type: 'resumed', version } satisfies FeedMessage), 'resumed');
    } else {
      this.send(subscriber, JSON.stringify({ type: 'snapshot', version, state } satisfies FeedMessage), 'snapshot');
      subscriber.sentVersion = version;
    }
    this.remember(version, state);
  }

  private async receive(subscriber: Subscriber, data: RawData, isBinary: boolean): Promise<void> {
    if (subscriber.socket.readyState !== WebSocket.OPEN) return;
    let value: unknown;
    try {
      if (isBinary) throw new Error('binary messages are not used');
      value = JSON.parse(data.toString());
    } catch (err) {
      return this.reply(subscriber, 'invalid', `message is not JSON text: ${(err as Error).message}`);
    }
    const parsed = subscriberMessageSchema.safeParse(value);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      return this.reply(subscriber, 'invalid', `${formatPath(issue?.path ?? []) || 'message'}: ${issue?.message ?? 'invalid'}`);
    }
    const message = parsed.data;
    if (message.type === 'hello') return this.hello(subscriber, message);
    const identity = subscriber.identity;
    if (!identity) return this.reply(subscriber, 'hello_first', 'send a hello before reports');
    // Reports from subscribers this manager does not register (another role's gateways) are not its business.
    if (identity.kind) this.options.core.report(identity.kind, identity.id, message);
  }

  private async hello(subscriber: Subscriber, hello: Hello): Promise<void> {
    if (subscriber.identity) return this.reply(subscriber, 'invalid', 'hello was already sent on this connection');
    const kind = this.options.core.registers(hello.role);
    const { access } = subscriber;
    if (access.scope === 'gateway' && access.gateway !== hello.id) {
      // A gateway token speaks for one id only: saying another is refused, and the connection ends.
      this.options.log.warn({ role: hello.role, id: hello.id, tokenFor: access.gateway }, 'feed hello refused: the token belongs to another gateway');
      this.reply(subscriber, 'forbidden', `this token belongs to gateway "${access.gateway}", not "${hello.id}"`);
      subscriber.socket.close(CLOSE_POLICY, 'forbidden');
      return;
    }
    if (kind && !mayActAs(access, hello.id)) {
      subscriber.identity = { role: hello.role, id: hello.id };
      return this.reply(subscriber, 'forbidden', 'a read-only token cannot register a gateway; its reports are ignored');
    }
    if (kind) {
      try {
        await this.options.core.connectGateway(kind, hello);
      } catch (err) {
        const error = err instanceof ApiError ? err : new ApiError(500, 'internal', 'cannot register the gateway');
        this.reply(subscriber, error.code, error.message);
        subscriber.socket.close(CLOSE_POLICY, error.code);
        return;
      }
    }
    subscriber.identity = { role: hello.role, id: hello.id, kind };
    this.options.log.info({ role: hello.role, id: hello.id, registered: kind !== undefined }, 'subscriber said hello');
    // The socket may have closed while the registration was stored.
    if (kind && subscriber.socket.readyState !== WebSocket.OPEN) this.options.core.gatewayDisconnected(kind, hello.id);
  }

  private reply(subscriber: Subscriber, code: string, message: string): void {
    this.send(subscriber, JSON.stringify({ type: 'error', code, message } satisfies FeedMessage), 'error');
  }

  private schedulePush(immediate: boolean): void {
    if (immediate) {
      clearTimeout(this.pushTimer);
      this.pushTimer = undefined;
      // setImmediate gathers the writes of one event-loop turn into one push.
      this.pushImmediate ??= setImmediate(() => this.push());
      return;
    }
    if (this.pushImmediate || this.pushTimer) return;
    this.pushTimer = setTimeout(() => this.push(), this.options.settings.reportPushDelayMs);
  }

  private push(): void {
    this.pushImmediate = undefined;
    clearTimeout(this.pushTimer);
    this.pushTimer = undefined;
    const { core } = this.options;
    const version = core.currentVersion;
    const state = core.state();
    const patches = new Map<number, string>();
    let snapshot: string | undefined;
    for (const subscriber of this.subscribers) {
      if (subscriber.sentVersion >= version) continue;
      // A subscriber whose state is known gets only what changed (a report touches one gateway's entry).
      const from = subscriber.sentVersion;
      const base = this.recent.get(from);
      if (base) {
        let patch = patches.get(from);
        if (patch === undefined) {
          patch = JSON.stringify({ type: 'patch', version, from, ...diffStates(base, state) } satisfies FeedMessage);
          patches.set(from, patch);
        }
        if (this.send(subscriber, patch, 'patch')) subscriber.sentVersion = version;
      } else {
        snapshot ??= JSON.stringify({ type: 'snapshot', version, state } satisfies FeedMessage);
        if (this.send(subscriber, snapshot, 'snapshot')) subscriber.sentVersion = version;
      }
    }
    this.remember(version, state);
  }

  private remember(version: number, state: ManagerState): void {
    this.recent.set(version, state);
    for (const old of this.recent.keys()) {
      if (this.recent.size <= FEED_HISTORY) break;
      this.recent.delete(old);
    }
  }

  /** Sends unless the subscriber's unsent bytes already pass the bound; such a subscriber is dropped. */
  private send(subscriber: Subscriber, text: string, type: FeedMessage['type']): boolean {
    const { socket } = subscriber;
    if (socket.readyState !== WebSocket.OPEN) return false;
    if (socket.bufferedAmount > this.options.settings.maxBufferedBytes) {
      this.options.metrics.feedDropped.inc({ reason: 'slow' });
      this.options.log.warn({ id: subscriber.identity?.id, buffered: socket.bufferedAmount }, 'dropping a feed subscriber that cannot keep up');
      socket.close(CLOSE_TRY_AGAIN, 'cannot keep up');
      // A peer that does not read will not complete the closing handshake either.
      setTimeout(() => socket.terminate(), 1000).unref();
      return false;
    }
    socket.send(text);
    this.options.metrics.feedMessages.inc({ type });
    return true;
  }

  private pingAll(): void {
    for (const subscriber of this.subscribers) {
      if (!subscriber.alive) {
        this.options.metrics.feedDropped.inc({ reason: 'ping' });
        this.options.log.info({ id: subscriber.identity?.id }, 'dropping a feed subscriber that stopped answering pings');
        subscriber.socket.terminate();
        continue;
      }
      subscriber.alive = false;
      subscriber.socket.ping();
    }
  }
}

/** Answers a refused upgrade with a plain HTTP error and the API's JSON error body. */
function refuse(socket: Duplex, error: ApiError): void {
  const body = JSON.stringify({ error: { code: error.code, message: error.message } });
  const reason = { 401: 'Unauthorized', 404: 'Not Found', 503: 'Service Unavailable' }[error.status] ?? 'Error';
  socket.end(`HTTP/1.1 ${error.status} ${reason}\r\nconnection: close\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
}
