import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { AdmissionTicket } from '@overlay/admission';
import { sourceKey, type AccessEntry } from '@overlay/common';
import type { CacheRequest, LookupResult } from '@overlay/cache';
import type { TunnelStream } from '@overlay/tunnel';
import { requestTrace, withTrace, type RequestTrace } from './access-log.js';
import { IDEMPOTENT_METHODS, pathOf, type GatewayContext } from './context.js';
import { ExchangeError, FrontEndErrorCode } from './errors.js';
import { exchangeWith, type ExchangeDone, type Exchanged } from './exchange.js';
import { buildRequestHead, clientAddress, headLimitProblem, protoOf } from './request-head.js';
import {
  STORED_BACKEND_FIELD, headerMap, relayedFields, sendLocal, serveCached, type CacheStatus, type OverlayStamp,
} from './response.js';
import type { Site } from './sites.js';

const CACHE_DISABLED: LookupResult = Object.freeze({ status: 'bypass', reason: 'cache disabled' });
const RING_UNCACHED: LookupResult = Object.freeze({ status: 'bypass', reason: 'caching is off for this priority' });

/** Client connections that already had a response: admission serves them before newcomers (seed 000). */
const established = new WeakSet<Socket>();

/** One client request on its way through the front-end. */
interface Flow {
  context: GatewayContext;
  site: Site;
  req: IncomingMessage;
  res: ServerResponse;
  stamp: OverlayStamp & { priority: number };
  ticket: AdmissionTicket;
  /** The client sent `Expect: 100-continue`: answer 100 once the body has somewhere to go. */
  expectsContinue: boolean;
  startedAt: number;
  /** What `x-overlay-cache` said, for the request metric. */
  cacheStatus: CacheStatus | '';
  /** The back-end's stream being relayed, once there is one. */
  stream: TunnelStream | undefined;
  /** Told when the client's response closes while an exchange waits for its reply (the exchange's client watch). */
  clientGone: (() => void) | undefined;
  trace: RequestTrace;
  /** Body bytes from and to the client (counted in the metrics once, when the request finishes), and who served it, for the access log. */
  bytesIn: number;
  bytesOut: number;
  backEnd?: string;
  origin?: string;
}

export type RequestHandler = (req: IncomingMessage, res: ServerResponse, expectsContinue: boolean) => void;

/** The per-request path: site, priority, admission, cache, back-end exchange, relay. */
export function createRequestHandler(context: GatewayContext): RequestHandler {
  return (req, res, expectsContinue) => {
    try {
      handle(context, req, res, expectsContinue);
    } catch (err) {
      internalError(context, req, res, err);
    }
  };
}

/** A bug on the request path: logged, and the client gets a 500 (or its connection cut) instead of a crash. */
function internalError(context: GatewayContext, req: IncomingMessage, res: ServerResponse, err: unknown): void {
  context.log.error({ err, url: req.url }, 'request handling failed');
  sendLocal(res, 500, 'internal error', { frontEnd: context.id }, { close: true });
}

function handle(context: GatewayContext, req: IncomingMessage, res: ServerResponse, expectsContinue: boolean): void {
  const startedAt = performance.now();
  const { metrics } = context;
  const trace = requestTrace(req.headers);
  const site = context.sites().forHost(req.headers.host);
  if (!site) {
    metrics.countRequest('', '404', '', '');
    const bytesOut = sendLocal(res, 404, 'unknown site', { frontEnd: context.id, requestId: trace.requestId }, { code: FrontEndErrorCode.unknownSite, close: expectsContinue });
    logAnswer(context, req, trace, startedAt, { status: 404, bytesIn: 0, bytesOut });
    return;
  }
  const url = req.url ?? '/';
  const clientIp = clientAddress(req.socket.remoteAddress);
  const { priority } = site.classify({ clientIp, path: pathOf(url), method: req.method ?? 'GET', headers: req.headers });
  const stamp = { frontEnd: context.id, priority, requestId: trace.requestId };
  const isEstablished = established.has(req.socket);
  const admission = context.gate.admit({ established: isEstablished, source: sourceKey(req.socket.remoteAddress) });
  if (!admission.admitted) {
    metrics.admissionRefusals.inc({ reason: admission.reason });
    metrics.countRequest(site.name, '503', String(priority), '');
    const bytesOut = sendLocal(res, 503, 'front-end overloaded, retry later', stamp, {
      code: FrontEndErrorCode.overloaded,
      retryAfterSeconds: admission.retryAfterSeconds,
      close: !isEstablished || expectsContinue,
    });
    logAnswer(context, req, trace, startedAt, { status: 503, bytesIn: 0, bytesOut, priority });
    return;
  }
  const flow: Flow = {
    context, site, req, res, stamp, ticket: admission.ticket, expectsContinue, startedAt, cacheStatus: '', stream: undefined, clientGone: undefined, trace, bytesIn: 0, bytesOut: 0,
  };
  // 'close' comes once: `on` spares once()'s wrapper.
  res.on('close', () => finish(flow));
  serve(flow);
}

/** The client's response closed (sent, or the client left): the relay stops and the request is counted. */
function finish(flow: Flow): void {
  const { res, req, ticket, context, site, stamp, stream } = flow;
  if (stream && !stream.destroyed) stream.destroy();
  // Answered before the upload ended (an early 413, say): drop the rest so the connection can be reused.
  if (stream && !req.complete) {
    req.unpipe();
    req.resume();
  }
  ticket.finish();
  if (res.writableFinished) established.add(req.socket);
  const status = res.headersSent ? String(res.statusCode) : '499';
  const { metrics } = context;
  metrics.countRequest(site.name, status, String(stamp.priority), flow.cacheStatus);
  if (flow.bytesIn > 0) metrics.bytesOf(site.name).in(flow.bytesIn);
  if (flow.bytesOut > 0) metrics.bytesOf(site.name).out(flow.bytesOut);
  logAnswer(context, req, flow.trace, flow.startedAt, {
    status: Number(status), bytesIn: flow.bytesIn, bytesOut: flow.bytesOut, priority: stamp.priority, cache: flow.cacheStatus || undefined, backEnd: flow.backEnd, origin: flow.origin,
  });
  flow.clientGone?.();
}

/** The request's access line: relayed, served from cache, or answered by the front-end itself (404, 503). */
function logAnswer(
  context: GatewayContext, req: IncomingMessage, trace: RequestTrace, startedAt: number,
  answer: Pick<AccessEntry, 'status' | 'bytesIn' | 'bytesOut' | 'priority' | 'cache' | 'backEnd' | 'origin'>,
): void {
  // Field by field, not spread: one object shape, built without copying.
  context.accessLog({
    client: clientAddress(req.socket.remoteAddress), method: req.method ?? 'GET', host: req.headers.host, path: req.url ?? '/',
    status: answer.status, bytesIn: answer.bytesIn, bytesOut: answer.bytesOut, priority: answer.priority, cache: answer.cache, backEnd: answer.backEnd, origin: answer.origin,
    durationMs: Math.round((performance.now() - startedAt) * 1000) / 1000, requestId: trace.requestId, traceparent: trace.traceparent,
  });
}

/** The response head is on its way: the request leaves the admission queue. */
function headSent(flow: Flow, cacheStatus: CacheStatus): void {
  flow.cacheStatus = cacheStatus;
  flow.ticket.start();
  flow.context.metrics.responseHeadSeconds.observe(String(flow.stamp.priority), (performance.now() - flow.startedAt) / 1000);
}

function serve(flow: Flow): void {
  const { context, req, res } = flow;
  const cacheRequest: CacheRequest = { method: req.method ?? 'GET', url: req.url ?? '/', headers: req.headers };
  const lookup: LookupResult = !context.cache ? CACHE_DISABLED
    : !context.sites().cachesPriority(flow.stamp.priority) ? RING_UNCACHED
      : context.cache.lookup(cacheRequest);
  if (lookup.status === 'hit') {
    const stored = lookup.response.headers[STORED_BACKEND_FIELD];
    if (typeof stored === 'string') flow.backEnd = stored;
    headSent(flow, 'HIT');
    countOut(flow, lookup.response.body.length);
    serveCached(res, lookup.response, { ...flow.stamp, cache: 'HIT' });
    return;
  }
  const cacheStatus: CacheStatus = lookup.status === 'bypass' ? 'BYPASS' : 'MISS';
  const requestTime = Date.now();
  forwardOrAnswer(flow, lookup.status === 'stale' ? lookup.conditionalHeaders : undefined, cacheStatus, (exchanged) => {
    if (lookup.status === 'stale' && exchanged.reply.status === 304 && context.cache) {
      exchanged.stream.resume();
      const refreshed = context.cache.refresh(lookup.entry, { status: 304, headers: headerMap(exchanged.reply.headers) }, { requestTime });
      if (refreshed) {
        headSent(flow, 'HIT');
        countOut(flow, refreshed.body.length);
        serveCached(res, refreshed, { ...flow.stamp, cache: 'HIT', backEnd: exchanged.reply.backEnd });
        return;
      }
      // The 304 speaks of another representation: fetch it whole.
      forwardOrAnswer(flow, undefined, 'MISS', (whole) => answer(flow, whole, 'MISS', { request: cacheRequest, requestTime }));
      return;
    }
    answer(flow, exchanged, cacheStatus, { request: cacheRequest, requestTime });
  });
}

/** The back-end's reply, relayed (and stored when the cache may) unless it cannot be a final answer. */
function answer(flow: Flow, exchanged: Exchanged, cacheStatus: CacheStatus, store: StoreIntent): void {
  const { context, req, res } = flow;
  if (exchanged.reply.status < 200) {
    // A REPLY is the final head; an informational status belongs to upgrades only.
    exchanged.stream.destroy();
    context.metrics.backEndFailures.inc({ backend: exchanged.route.id, code: FrontEndErrorCode.badReply });
    flow.cacheStatus = cacheStatus;
    sendLocal(res, 502, `back-end ${exchanged.route.id} answered ${exchanged.reply.status} as a final status`, { ...flow.stamp, cache: cacheStatus }, { code: FrontEndErrorCode.badReply, close: !req.complete });
    return;
  }
  const { method } = store.request;
  if (context.cache && method !== 'GET' && method !== 'HEAD') context.cache.invalidate(store.request, exchanged.reply.status);
  relay(flow, exchanged, cacheStatus, cacheStatus === 'MISS' ? store : undefined);
}

/**
 * Forwards the request and hands `then` the exchange; when there is none, the client gets the front-end's
 * own error answer instead (nothing, when it already left). A bug in `then` is a 500, not a crash in the
 * tunnel's event that delivered the reply.
 */
function forwardOrAnswer(flow: Flow, conditional: Record<string, string> | undefined, cacheStatus: CacheStatus, then: (exchanged: Exchanged) => void): void {
  forward(flow, conditional, (err, exchanged) => {
    const { res, req, context } = flow;
    try {
      if (exchanged) return then(exchanged);
      if (!(err instanceof ExchangeError)) throw err;
      if (res.destroyed || err.status === 499) return;
      context.metrics.backEndFailures.inc({ backend: err.backEnd ?? '', code: err.code });
      flow.cacheStatus = cacheStatus;
      flow.backEnd = err.backEnd;
      sendLocal(res, err.status, err.message, { ...flow.stamp, cache: cacheStatus }, {
        code: err.code,
        retryAfterSeconds: err.retryAfterSeconds,
        // The body may be half-read (or never asked for after Expect): do not reuse the connection.
        close: !req.complete,
      });
    } catch (failure) {
      internalError(context, req, res, failure);
    }
  });
}

function forward(flow: Flow, conditional: Record<string, string> | undefined, done: ExchangeDone): void {
  const { context, site, req, res, stamp } = flow;
  const head = buildRequestHead(
    { method: req.method ?? 'GET', url: req.url ?? '/', rawHeaders: req.rawHeaders, headers: req.headers },
    { site: site.name, frontEnd: context.id, clientIp: clientAddress(req.socket.remoteAddress), clientPort: req.socket.remotePort ?? 0, priority: stamp.priority, conditional, proto: protoOf(req.socket) },
  );
  head.headers = withTrace(head.headers, flow.trace);
  const problem = headLimitProblem(head);
  if (problem) return done(new ExchangeError(FrontEndErrorCode.headTooLarge, `request head too large: ${problem}`, 431), undefined);
  exchangeWith(context, site, {
    priority: stamp.priority,
    meta: head,
    send: (stream) => {
      if (!head.hasBody) {
        stream.end();
        return;
      }
      if (flow.expectsContinue) res.writeContinue();
      req.on('data', (chunk: Buffer) => (flow.bytesIn += chunk.length));
      req.pipe(stream);
    },
    retryable: IDEMPOTENT_METHODS.has(head.method) && !head.hasBody,
    // The response's 'close' is heard once, by finish(), which tells the waiting exchange.
    watchClient: (gone) => {
      flow.clientGone = gone;
      return () => (flow.clientGone = undefined);
    },
  }, done);
}

interface StoreIntent {
  request: CacheRequest;
  requestTime: number;
}

/** Writes the back-end's answer and streams its body with backpressure; stores it when the cache may. */
function relay(flow: Flow, { route, stream, reply }: Exchanged, cacheStatus: CacheStatus, store: StoreIntent | undefined): void {
  const { res, context } = flow;
  if (res.destroyed) {
    stream.destroy(); // the client left while the reply was on its way
    return;
  }
  const cache = context.cache;
  const mayStore = cache !== undefined && store !== undefined && reply.error === undefined;
  const storedHeaders = mayStore ? headerMap([...reply.headers, [STORED_BACKEND_FIELD, reply.backEnd]]) : {};
  const storable = mayStore && cache.unstorableReason(store.request, { status: reply.status, headers: storedHeaders }) === undefined;
  let collector = storable ? cache.collector() : undefined;

  flow.stream = stream;
  flow.backEnd = route.id;
  flow.origin = reply.origin;
  // 'close' and 'end' come once each: `on` spares once()'s wrapper.
  stream.on('close', () => {
    // The back-end failed mid-body: cut the client's connection so it sees a truncated response.
    if (!stream.readableEnded && !res.writableEnded) res.destroy();
  });
  // By hand rather than pipe(): one listener per event instead of pipe's seven, on every request.
  const resumeStream = () => stream.resume();
  stream.on('data', (chunk: Buffer) => {
    countOut(flow, chunk.length);
    if (collector && !collector.push(chunk)) collector = undefined;
    if (!res.write(chunk)) {
      stream.pause();
      res.once('drain', resumeStream);
    }
  });
  stream.on('end', () => {
    res.end();
    const body = collector?.body();
    if (cache && store && body) cache.store(store.request, { status: reply.status, headers: storedHeaders }, body, { requestTime: store.requestTime });
  });
  if (reply.error) context.log.info({ backEnd: route.id, code: reply.error.code, status: reply.status }, 'back-end answered with an error');
  headSent(flow, cacheStatus);
  const { frontEnd, priority, requestId } = flow.stamp;
  res.writeHead(reply.status, relayedFields(reply, { frontEnd, priority, requestId, cache: cacheStatus }));
}

function countOut(flow: Flow, bytes: number): void {
  flow.bytesOut += bytes;
}
