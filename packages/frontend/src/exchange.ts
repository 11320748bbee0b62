import { validateHeaderName, validateHeaderValue } from 'node:http';
import type { BackendSelector } from '@overlay/balancer';
import { errorCode, ignoreError, type Logger } from '@overlay/common';
import { parseResponseHead, type ResponseHead } from '@overlay/stream-heads';
import type { TunnelStream } from '@overlay/tunnel';
import type { BackEndRoute } from './backends.js';
import type { GatewayContext } from './context.js';
import { ExchangeError, FrontEndErrorCode } from './errors.js';
import type { Site } from './sites.js';

export interface ExchangeRequest {
  selector: BackendSelector<BackEndRoute>;
  /** Opens the stream on a route (OPEN frame with the head); may throw when the tunnel cannot. */
  open: (route: BackEndRoute) => TunnelStream;
  /** Starts sending on a freshly opened stream: pipe the body, or end at once, or nothing (raw streams). */
  send: (stream: TunnelStream) => void;
  /** May the work be sent again after a back-end failed it? (idempotent, no body) */
  retryable: boolean;
  replyTimeoutMs: number;
  /** Calls back when the client went away (the exchange stops and the stream is reset); returns an unsubscribe. */
  watchClient: ClientWatch;
  log: Logger;
  /** Told about every retry, for metrics. */
  onRetry?: (from: BackEndRoute, code: string) => void;
}

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

type Waited = { reply: unknown } | { error: Error | undefined; timedOut?: boolean; aborted?: boolean };

/** Resolves with the stream's REPLY, or why none came (failure, timeout, client gone). */
function awaitReply(stream: TunnelStream, timeoutMs: number, watchClient: ClientWatch): Promise<Waited> {
  return new Promise((resolve) => {
    let unwatch: (() => void) | undefined;
    const settle = (result: Waited) => {
      clearTimeout(timer);
      stream.off('reply', onReply);
      stream.off('close', onClose);
      stream.off('end', onEnd);
      unwatch?.();
      resolve(result);
    };
    const onReply = (reply: unknown) => settle({ reply });
    const onClose = () => settle({ error: stream.errored ?? undefined });
    const onEnd = () => settle({ error: new Error('back-end ended the stream without a reply') });
    const onAbort = () => settle({ error: undefined, aborted: true });
    const timer = setTimeout(() => settle({ error: undefined, timedOut: true }), timeoutMs);
    if (stream.reply !== undefined) return settle({ reply: stream.reply });
    stream.on('reply', onReply);
    stream.once('close', onClose);
    stream.once('end', onEnd);
    unwatch = watchClient(onAbort);
  });
}

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
 * Carries one request to a back-end and waits for its response head. A route whose tunnel cannot open
 * a stream is skipped at once (nothing was sent). When the stream fails before a reply in a way that says
 * the work may be redone (connection lost, refused, GOAWAY), or the reply carries `error.retryable`, a
 * retryable request goes once more to another back-end. Everything else fails fast with an ExchangeError.
 * The caller owns the returned stream (reply body follows on it).
 */
async function exchange(request: ExchangeRequest): Promise<Exchanged> {
  const { selector, log } = request;
  const tried: string[] = [];
  let retriesLeft = request.retryable ? 1 : 0;
  let route = selector.pick();
  while (route) {
    tried.push(route.id);
    let stream: TunnelStream;
    try {
      stream = request.open(route);
    } catch (err) {
      log.warn({ backEnd: route.id, code: errorCode(err) }, 'back-end route could not open a stream; trying another');
      route = selector.alternate(tried);
      continue;
    }
    stream.on('error', ignoreError); // failures are read from `stream.errored`; an unheard error must not crash the process
    request.send(stream);
    const waited = await awaitReply(stream, request.replyTimeoutMs, request.watchClient);
    if ('reply' in waited) {
      let reply: ResponseHead;
      try {
        reply = readReply(waited.reply);
      } catch (err) {
        stream.destroy();
        throw new ExchangeError(FrontEndErrorCode.badReply, `back-end ${route.id} sent an invalid response head`, 502, { cause: err, backEnd: route.id });
      }
      const next = reply.error?.retryable && retriesLeft > 0 ? selector.alternate(tried) : undefined;
      if (!next) return { route, stream, reply };
      log.info({ backEnd: route.id, code: reply.error?.code, next: next.id }, 'back-end could not serve; retrying on another');
      request.onRetry?.(route, reply.error?.code ?? 'unknown');
      stream.destroy();
      retriesLeft--;
      route = next;
      continue;
    }
    stream.destroy();
    if (waited.aborted) throw new ExchangeError(FrontEndErrorCode.backEndFailed, 'client went away', 499);
    if (waited.timedOut) throw new ExchangeError(FrontEndErrorCode.replyTimeout, `no response head from back-end ${route.id} within ${request.replyTimeoutMs} ms`, 504, { backEnd: route.id });
    const code = errorCode(waited.error);
    const mayRetry = retriesLeft > 0 && (waited.error as { retryable?: boolean } | undefined)?.retryable === true;
    log.warn({ backEnd: route.id, code, reason: waited.error?.message, retry: mayRetry }, 'stream failed before the response head');
    const next = mayRetry ? selector.alternate(tried) : undefined;
    if (!next) {
      const why = mayRetry ? ' and no other route is usable' : '';
      throw new ExchangeError(FrontEndErrorCode.backEndFailed, `back-end ${route.id} failed (${code})${why}`, 502, { cause: waited.error, backEnd: route.id });
    }
    request.onRetry?.(route, code);
    retriesLeft--;
    route = next;
  }
  throw noRouteError(selector, tried);
}

/** What a front-end exchange needs beyond what its gateway and site supply. */
export interface SiteExchange extends Pick<ExchangeRequest, 'send' | 'retryable' | 'watchClient'> {
  priority: number;
  /** The stream head (request or TCP) for the OPEN frame. */
  meta: unknown;
}

/** `exchange` for a request to `site`: its back-end selector, the gateway's reply timeout, log and retry metric. */
export function exchangeFor(context: GatewayContext, site: Site, request: SiteExchange): Promise<Exchanged> {
  // Spelled out, not spread: one object shape on the per-request path.
  return exchange({
    selector: site.selector,
    open: (route) => route.open({ priority: request.priority, meta: request.meta }),
    send: request.send,
    retryable: request.retryable,
    replyTimeoutMs: context.replyTimeoutMs,
    watchClient: request.watchClient,
    log: context.log,
    onRetry: (route, code) => context.metrics.retries.inc({ backend: route.id, code }),
  });
}
