import { validateHeaderName, validateHeaderValue } from 'node:http';
import type { BackendSelector } from '@overlay/balancer';
import { errorCode, ignoreError } from '@overlay/common';
import { parseResponseHead, type ResponseHead } from '@overlay/stream-heads';
import type { TunnelStream } from '@overlay/tunnel';
import type { BackEndRoute } from './backends.js';
import type { GatewayContext } from './context.js';
import { ExchangeError, FrontEndErrorCode } from './errors.js';
import type { Site } from './sites.js';

export interface Exchanged {
  route: BackEndRoute;
  stream: TunnelStream;
  reply: ResponseHead;
}

/** Subscribes to "the client went away"; returns the unsubscribe. */
export type ClientWatch = (gone: () => void) => () => void;

/** A client watch on an emitter's 'close' (a ServerResponse or a socket). Cheaper than an AbortController per request. */
export function closeOf(emitter: NodeJS.EventEmitter): ClientWatch {
  return (gone) => {
    emitter.once('close', gone);
    return () => emitter.off('close', gone);
  };
}

/** A reply deadline of one exchange in flight. */
interface Deadline {
  at: number;
  fire: () => void;
}

/**
 * The reply deadlines of every exchange in flight, on one timer armed for the earliest: a timer set and
 * cleared per request cost more than the whole wait's bookkeeping otherwise. Nothing is armed while no
 * exchange waits.
 */
class Deadlines {
  private readonly waiting = new Set<Deadline>();
  private timer: NodeJS.Timeout | undefined;
  private armedFor = Number.POSITIVE_INFINITY;

  add(ms: number, fire: () => void): Deadline {
    const deadline = { at: performance.now() + ms, fire };
    this.waiting.add(deadline);
    if (deadline.at < this.armedFor) this.arm(deadline.at);
    return deadline;
  }

  cancel(deadline: Deadline): void {
    this.waiting.delete(deadline);
    if (this.waiting.size === 0) this.arm(Number.POSITIVE_INFINITY);
  }

  private arm(at: number): void {
    clearTimeout(this.timer);
    this.armedFor = at;
    this.timer = Number.isFinite(at) ? setTimeout(this.sweep, Math.max(1, at - performance.now())) : undefined;
  }

  private readonly sweep = () => {
    this.timer = undefined;
    this.armedFor = Number.POSITIVE_INFINITY;
    const now = performance.now();
    let next = Number.POSITIVE_INFINITY;
    for (const deadline of this.waiting) {
      if (deadline.at <= now) {
        this.waiting.delete(deadline);
        deadline.fire();
      } else next = Math.min(next, deadline.at);
    }
    if (next < this.armedFor) this.arm(next);
  };
}

const deadlines = new Deadlines();

/** A REPLY head that is well-formed and whose fields can be written to a client without injection. */
function readReply(meta: unknown): ResponseHead {
  const reply = parseResponseHead(meta);
  for (const [name, value] of reply.headers) {
    validateHeaderName(name);
    validateHeaderValue(name, value);
  }
  return reply;
}

/** Why no route could take the request: none connected (502), or all full (503). */
function noRouteError(selector: BackendSelector<BackEndRoute>, tried: readonly string[]): ExchangeError {
  const routes = selector.evaluate(tried);
  const full = routes.some((evaluation) => evaluation.verdict === 'full');
  if (full) return new ExchangeError(FrontEndErrorCode.backEndsFull, 'every back-end route is at its high-water mark', 503, { retryAfterSeconds: 1 });
  return new ExchangeError(FrontEndErrorCode.noBackEnd, 'no back-end route is connected', 502);
}

/**
 * Told once how an exchange ended: the reply (the caller owns the stream; the body follows on it), or an
 * ExchangeError, or another error when the request's own `send` threw.
 */
export type ExchangeDone = (error: Error | undefined, exchanged: Exchanged | undefined) => void;

/**
 * Carries one request to a back-end and waits for its response head. A route whose tunnel cannot open
 * a stream is skipped at once (nothing was sent). When the stream fails before a reply in a way that says
 * the work may be redone (connection lost, refused, GOAWAY), or the reply carries `error.retryable`, a
 * retryable request goes once more to another back-end. Everything else fails fast with an ExchangeError.
 * Callbacks rather than promises: this is the per-request path, and a wait costs one set of listeners.
 */
class Exchange {
  private readonly tried: string[] = [];
  private retriesLeft: number;
  private route: BackEndRoute | undefined;
  private stream: TunnelStream | undefined;
  private deadline: Deadline | undefined;
  private unwatch: (() => void) | undefined;

  constructor(private readonly context: GatewayContext, private readonly site: Site, private readonly request: SiteExchange, private readonly done: ExchangeDone) {
    this.retriesLeft = request.retryable ? 1 : 0;
  }

  /** Opens a stream on `route` (or the next usable one) and waits for its reply. */
  attempt(route: BackEndRoute | undefined): void {
    const { context, site, request, tried } = this;
    while (route) {
      tried.push(route.id);
      let stream: TunnelStream;
      try {
        stream = route.open({ priority: request.priority, meta: request.meta });
      } catch (err) {
        context.log.warn({ backEnd: route.id, code: errorCode(err) }, 'back-end route could not open a stream; trying another');
        route = site.selector.alternate(tried);
        continue;
      }
      stream.on('error', ignoreError); // failures are read from `stream.errored`; an unheard error must not crash the process
      this.route = route;
      this.stream = stream;
      try {
        request.send(stream);
      } catch (err) {
        stream.destroy();
        this.done(err as Error, undefined);
        return;
      }
      if (stream.reply !== undefined) return this.replied(stream.reply);
      stream.on('reply', this.onReply);
      stream.on('close', this.onClose);
      stream.on('end', this.onEnd);
      this.unwatch = request.watchClient(this.onAbort);
      this.deadline = deadlines.add(context.replyTimeoutMs, this.onTimeout);
      return;
    }
    this.done(noRouteError(site.selector, tried), undefined);
  }

  /** The wait is over (whichever way): its listeners and deadline go. */
  private settle(): TunnelStream {
    const stream = this.stream as TunnelStream;
    stream.off('reply', this.onReply);
    stream.off('close', this.onClose);
    stream.off('end', this.onEnd);
    this.unwatch?.();
    if (this.deadline) deadlines.cancel(this.deadline);
    return stream;
  }

  private readonly onReply = (meta: unknown) => {
    this.settle();
    this.replied(meta);
  };

  private readonly onClose = () => this.failed(this.settle().errored ?? undefined);
  private readonly onEnd = () => this.failed(new Error('back-end ended the stream without a reply'), this.settle());

  private readonly onAbort = () => {
    this.settle().destroy();
    this.done(new ExchangeError(FrontEndErrorCode.backEndFailed, 'client went away', 499), undefined);
  };

  private readonly onTimeout = () => {
    this.deadline = undefined;
    this.settle().destroy();
    const route = this.route as BackEndRoute;
    this.done(new ExchangeError(FrontEndErrorCode.replyTimeout, `no response head from back-end ${route.id} within ${this.context.replyTimeoutMs} ms`, 504, { backEnd: route.id }), undefined);
  };

  private replied(meta: unknown): void {
    const route = this.route as BackEndRoute;
    const stream = this.stream as TunnelStream;
    let reply: ResponseHead;
    try {
      reply = readReply(meta);
    } catch (err) {
      stream.destroy();
      this.done(new ExchangeError(FrontEndErrorCode.badReply, `back-end ${route.id} sent an invalid response head`, 502, { cause: err, backEnd: route.id }), undefined);
      return;
    }
    const next = reply.error?.retryable && this.retriesLeft > 0 ? this.site.selector.alternate(this.tried) : undefined;
    if (!next) return this.done(undefined, { route, stream, reply });
    this.context.log.info({ backEnd: route.id, code: reply.error?.code, next: next.id }, 'back-end could not serve; retrying on another');
    this.retried(route, reply.error?.code ?? 'unknown');
    stream.destroy();
    this.attempt(next);
  }

  /** The stream closed or ended before a reply. */
  private failed(error: Error | undefined, stream = this.stream as TunnelStream): void {
    const route = this.route as BackEndRoute;
    stream.destroy();
    const code = errorCode(error);
    const mayRetry = this.retriesLeft > 0 && (error as { retryable?: boolean } | undefined)?.retryable === true;
    this.context.log.warn({ backEnd: route.id, code, reason: error?.message, retry: mayRetry }, 'stream failed before the response head');
    const next = mayRetry ? this.site.selector.alternate(this.tried) : undefined;
    if (!next) {
      const why = mayRetry ? ' and no other route is usable' : '';
      this.done(new ExchangeError(FrontEndErrorCode.backEndFailed, `back-end ${route.id} failed (${code})${why}`, 502, { cause: error, backEnd: route.id }), undefined);
      return;
    }
    this.retried(route, code);
    this.attempt(next);
  }

  /** Counted in the retry metric; the one retry is used. */
  private retried(from: BackEndRoute, code: string): void {
    this.context.metrics.retries.inc({ backend: from.id, code });
    this.retriesLeft--;
  }
}

/** A request for the exchange: the stream head and how to send on a stream. */
export interface SiteExchange {
  priority: number;
  /** The stream head (request or TCP) for the OPEN frame. */
  meta: unknown;
  /** Starts sending on a freshly opened stream: pipe the body, or end at once, or nothing (raw streams). */
  send: (stream: TunnelStream) => void;
  /** May the work be sent again after a back-end failed it? (idempotent, no body) */
  retryable: boolean;
  /** Calls back when the client went away (the exchange stops and the stream is reset); returns an unsubscribe. */
  watchClient: ClientWatch;
}

/** An exchange for a request to `site`: its back-end selector, the gateway's reply timeout, log and retry metric. */
export function exchangeWith(context: GatewayContext, site: Site, request: SiteExchange, done: ExchangeDone): void {
  new Exchange(context, site, request, done).attempt(site.selector.pick());
}

/** `exchangeWith` as a promise, for the paths that run once per connection (upgrades, TCP sites). */
export function exchangeFor(context: GatewayContext, site: Site, request: SiteExchange): Promise<Exchanged> {
  return new Promise((resolve, reject) => exchangeWith(context, site, request, (error, exchanged) => (error ? reject(error) : resolve(exchanged as Exchanged))));
}
