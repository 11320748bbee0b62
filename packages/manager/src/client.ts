import { Backoff, defaultBackoff, silentLogger, type BackoffOptions, type Logger } from '@overlay/common';
import WebSocket from 'ws';
import { applyStatePatch, type StatePatch } from './feed-patch.js';
import { feedMessageSchema, managerStateSchema, type HelloInput, type ManagerState, type ReportInput } from './feed-schema.js';

export interface SubscriptionStatus {
  connected: boolean;
  /** Version of the state held (kept while the manager is away). */
  version?: number;
  /** Why the last connection ended or failed. */
  error?: string;
}

export interface SubscribeOptions {
  /**
   * The manager's base URL (`http://host:port`, as `startManager` returns) or the ws:// URL of its feed;
   * or several replicas' URLs: a lost or refused connection moves on to the next one at once.
   */
  url: string | readonly string[];
  token: string;
  /** PEM of the CA that signed an https manager's certificate (default: the system's CAs). */
  ca?: string | Buffer;
  /** Who this subscriber is; sent first on every connection. */
  hello: Omit<HelloInput, 'type'>;
  /** Every new state, whole. Not called again when a reconnect finds nothing missed. */
  onState: (state: ManagerState, version: number) => void;
  onStatus?: (status: SubscriptionStatus) => void;
  log?: Logger;
  backoff?: BackoffOptions;
  /** No message or ping from the manager for this long counts as a dead connection, ms (the manager pings every 10 s). */
  deadAfterMs?: number;
  /** Largest feed message accepted, bytes. */
  maxMessageBytes?: number;
}

export interface Subscription {
  /** Sends a report now; false when not connected (reports are periodic, a missed one is not resent). */
  report(report: ReportInput): boolean;
  /** The latest state received, kept across disconnections. */
  readonly state: ManagerState | undefined;
  readonly connected: boolean;
  close(): Promise<void>;
}

export const subscribeDefaults = Object.freeze({
  deadAfterMs: 30_000,
  maxMessageBytes: 64 * 1024 * 1024,
});

/** `http://h:p` → `ws://h:p/v1/stream?since=V`. */
export function feedUrl(base: string, since: number | undefined): string {
  const url = new URL(base);
  if (url.protocol === 'http:') url.protocol = 'ws:';
  if (url.protocol === 'https:') url.protocol = 'wss:';
  if (!url.pathname.endsWith('/v1/stream')) url.pathname = `${url.pathname.replace(/\/$/, '')}/v1/stream`;
  if (since !== undefined) url.searchParams.set('since', String(since));
  return url.toString();
}

/**
 * Follows a manager's feed: says hello, hands every state to `onState`, reconnects with backoff and
 * resumes with `?since=` so an unchanged state is not sent again. The last state stays available while
 * the manager is away, so a gateway keeps serving with it.
 */
export function subscribe(options: SubscribeOptions): Subscription {
  const log = options.log ?? silentLogger;
  const backoff = new Backoff(options.backoff ?? defaultBackoff);
  const deadAfterMs = options.deadAfterMs ?? subscribeDefaults.deadAfterMs;
  const urls = typeof options.url === 'string' ? [options.url] : [...options.url];
  if (urls.length === 0) throw new RangeError('subscribe: at least one manager URL');
  let current = 0;
  /** Replicas tried since the last connection that delivered something; backoff once all were tried. */
  let failedInARow = 0;
  /** The replica the held state came from: `since` means something only to it. */
  let stateFrom: number | undefined;
  let state: ManagerState | undefined;
  let socket: WebSocket | undefined;
  let open = false;
  let closed = false;
  let retryTimer: NodeJS.Timeout | undefined;
  let deadTimer: NodeJS.Timeout | undefined;
  /** This connection sent a patch that did not fit: what else it says is ignored until the reconnect. */
  let resyncing = false;

  const status = (connected: boolean, error?: string) => options.onStatus?.({ connected, version: state?.version, ...(error === undefined ? {} : { error }) });

  function stillAlive(): void {
    clearTimeout(deadTimer);
    deadTimer = setTimeout(() => {
      log.warn({ deadAfterMs }, 'manager feed silent; reconnecting');
      socket?.terminate();
    }, deadAfterMs);
    deadTimer.unref();
  }

  function connect(): void {
    retryTimer = undefined;
    resyncing = false;
    let lastError: string | undefined;
    const target = current;
    const ws = new WebSocket(feedUrl(urls[target] as string, stateFrom === target ? state?.version : undefined), {
      headers: { authorization: `Bearer ${options.token}` },
      ...(options.ca === undefined ? {} : { ca: options.ca }),
      maxPayload: options.maxMessageBytes ?? subscribeDefaults.maxMessageBytes,
      perMessageDeflate: false,
    });
    socket = ws;
    ws.on('open', () => {
      open = true;
      stillAlive();
      ws.send(JSON.stringify({ type: 'hello', ...options.hello }));
      status(true);
    });
    ws.on('ping', stillAlive);
    ws.on('message', (data) => {
      stillAlive();
      backoff.reset();
      failedInARow = 0;
      stateFrom = target;
      receive(data.toString());
    });
    ws.on('unexpected-response', (_req, res) => {
      lastError = `manager answered ${res.statusCode} to the feed upgrade`;
      res.resume();
      ws.terminate();
    });
    ws.on('error', (err) => {
      lastError ??= err.message;
    });
    ws.on('close', (code, reason) => {
      clearTimeout(deadTimer);
      const wasOpen = open;
      open = false;
      socket = undefined;
      if (closed) return;
      const error = lastError ?? `closed (${code}${reason.length > 0 ? ` ${reason.toString()}` : ''})`;
      // With replicas, the next one is tried at once; only a full round of failures waits.
      failedInARow++;
      current = (current + 1) % urls.length;
      const delay = urls.length > 1 && failedInARow < urls.length ? 0 : backoff.next();
      if (failedInARow >= urls.length) failedInARow = 0;
      log[wasOpen ? 'warn' : 'debug']({ error, manager: urls[target], next: urls[current], retryInMs: delay }, 'manager feed lost');
      status(false, error);
      retryTimer = setTimeout(connect, delay);
    });
  }

  function receive(text: string): void {
    if (resyncing) return;
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      log.warn('manager feed sent a message that is not JSON');
      return;
    }
    const parsed = feedMessageSchema.safeParse(value);
    if (!parsed.success) {
      log.warn({ issue: parsed.error.issues[0]?.message, path: parsed.error.issues[0]?.path }, 'manager feed sent a message this client does not understand');
      return;
    }
    const message = parsed.data;
    if (message.type === 'error') log.warn({ code: message.code, message: message.message }, 'manager refused a message');
    if (message.type === 'snapshot') {
      state = message.state;
      options.onState(message.state, message.version);
    }
    if (message.type === 'patch') applyPatch(message);
  }

  /** A patch applies only to the version it was made from; anything else (or a result that does not validate) resyncs. */
  function applyPatch(patch: StatePatch & { version: number; from: number }): void {
    const next = state?.version === patch.from ? managerStateSchema.safeParse(applyStatePatch(state, patch)) : undefined;
    if (!next?.success) {
      log.warn({ held: state?.version, from: patch.from }, 'manager feed patch does not fit the state held; resyncing');
      resyncing = true;
      socket?.terminate();
      return;
    }
    state = next.data;
    options.onState(next.data, patch.version);
  }

  connect();

  return {
    report(report) {
      if (!open || !socket) return false;
      socket.send(JSON.stringify({ type: 'report', ...report }));
      return true;
    },
    get state() {
      return state;
    },
    get connected() {
      return open;
    },
    close() {
      closed = true;
      clearTimeout(retryTimer);
      clearTimeout(deadTimer);
      const ws = socket;
      if (!ws || ws.readyState === WebSocket.CLOSED) return Promise.resolve();
      return new Promise<void>((resolve) => {
        const force = setTimeout(() => ws.terminate(), 1000);
        ws.once('close', () => {
          clearTimeout(force);
          resolve();
        });
        ws.close(1000, 'closing');
      });
    },
  };
}
