import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { AdmissionTicket } from '@overlay/admission';
import { ignoreError, sourceKey } from '@overlay/common';
import { requestTrace, withTrace } from './access-log.js';
import { IDEMPOTENT_METHODS, pathOf, type GatewayContext } from './context.js';
import { ExchangeError, FrontEndErrorCode } from './errors.js';
import { closeOf, exchangeFor } from './exchange.js';
import { buildRequestHead, clientAddress, headLimitProblem, protoOf } from './request-head.js';
import { relayedFields, stampPairs } from './response.js';
import { rawAnswer, rawHead, splice } from './splice.js';

export type UpgradeHandler = (req: IncomingMessage, socket: Duplex, head: Buffer) => void;

/**
 * Upgrade requests (WebSocket): the stream opens with `upgrade: true`; on a 101 REPLY the front-end writes
 * the 101 head to the client and the connection becomes a raw pipe both ways. Any other answer is relayed
 * and the connection closed. (The listener keeps these sockets, to cut them on close.)
 */
export function createUpgradeHandler(context: GatewayContext): UpgradeHandler {
  return (req, socket, head) => {
    socket.on('error', ignoreError);
    upgrade(context, req, socket, head).catch((err: unknown) => {
      context.log.error({ err, url: req.url }, 'upgrade handling failed');
      socket.destroy();
    });
  };
}

async function upgrade(context: GatewayContext, req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
  const { metrics } = context;
  const site = context.sites().forHost(req.headers.host);
  if (!site) {
    metrics.upgrades.inc({ site: '', status: '404' });
    rawAnswer(socket, 404, 'unknown site', [...stampPairs({ frontEnd: context.id }), ['x-overlay-error', FrontEndErrorCode.unknownSite]]);
    return;
  }
  const method = req.method ?? 'GET';
  const clientIp = clientAddress(req.socket.remoteAddress);
  const { priority } = site.classify({ clientIp, path: pathOf(req.url ?? '/'), method, headers: req.headers });
  const trace = requestTrace(req.headers);
  const stamp = { frontEnd: context.id, priority, cache: 'BYPASS' as const, requestId: trace.requestId };
  const record: UpgradeRecord = { status: 0 };
  const answer = (status: number, text: string, code: string, extra: Array<[string, string]> = []) => {
    record.status = status;
    metrics.upgrades.inc({ site: site.name, status: String(status) });
    rawAnswer(socket, status, text, [...stampPairs(stamp), ['x-overlay-error', code], ...extra]);
  };

  const admission = context.gate.admit({ established: false, source: sourceKey(req.socket.remoteAddress) });
  if (!admission.admitted) {
    metrics.admissionRefusals.inc({ reason: admission.reason });
    answer(503, 'front-end overloaded, retry later', FrontEndErrorCode.overloaded, [['retry-after', String(admission.retryAfterSeconds)]]);
    return;
  }
  const ticket = admission.ticket;
  socket.on('close', onClosed(context, req, ticket, record, { priority, requestId: trace.requestId, traceparent: trace.traceparent }));

  const requestHead = buildRequestHead(
    { method, url: req.url ?? '/', rawHeaders: req.rawHeaders, headers: req.headers },
    { site: site.name, frontEnd: context.id, clientIp, clientPort: req.socket.remotePort ?? 0, priority, upgrade: true, proto: protoOf(req.socket) },
  );
  requestHead.headers = withTrace(requestHead.headers, trace);
  const problem = headLimitProblem(requestHead);
  if (problem) return answer(431, `request head too large: ${problem}`, FrontEndErrorCode.headTooLarge);
  let exchanged;
  try {
    exchanged = await exchangeFor(context, site, {
      priority,
      meta: requestHead,
      // Bytes the client sent after its head (rare before a 101) go first on every attempt.
      send: (stream) => {
        if (head.length) stream.write(head);
      },
      retryable: IDEMPOTENT_METHODS.has(method),
      watchClient: closeOf(socket),
    });
  } catch (err) {
    if (!(err instanceof ExchangeError)) throw err;
    if (err.status === 499 || socket.destroyed) return;
    metrics.backEndFailures.inc({ backend: err.backEnd ?? '', code: err.code });
    record.backEnd = err.backEnd;
    const retry: Array<[string, string]> = err.retryAfterSeconds === undefined ? [] : [['retry-after', String(err.retryAfterSeconds)]];
    return answer(err.status, err.message, err.code, retry);
  }
  const { route, stream, reply } = exchanged;
  ticket.start();
  metrics.upgrades.inc({ site: site.name, status: String(reply.status) });
  Object.assign(record, { status: reply.status, backEnd: route.id, origin: reply.origin });
  const count = metrics.bytesOf(site.name);
  if (reply.status === 101) {
    // Read and relayed: the stream need not keep the head (its header pairs) for the WebSocket's life.
    stream.reply = undefined;
    route.hold(stream);
    socket.write(rawHead(101, ['connection', 'Upgrade', 'upgrade', req.headers.upgrade ?? 'websocket', ...relayedFields(reply, stamp)]));
    splice(socket, stream, count);
    return;
  }
  // Not switched: relay the answer, its end delimited by closing the connection.
  socket.write(rawHead(reply.status, [...relayedFields(reply, stamp, true), 'connection', 'close']));
  stream.on('data', (chunk: Buffer) => count.out(chunk.length));
  stream.pipe(socket);
  socket.once('close', () => stream.destroy());
}

/** What the access line of an upgraded connection says, filled in as it goes (status 0 until answered). */
interface UpgradeRecord {
  status: number;
  backEnd?: string;
  origin?: string;
}

/**
 * The one listener that outlives an upgrade (for the WebSocket's whole life), made out here so it holds
 * only what it uses and not the handler's scope with the request head: when the client connection closes
 * the admission ticket finishes and the access line is written. Its bytes are the client connection's own
 * counts, heads included: no counter per WebSocket.
 */
function onClosed(context: GatewayContext, req: IncomingMessage, ticket: AdmissionTicket, record: UpgradeRecord, fixed: { priority: number; requestId: string; traceparent: string }): () => void {
  const startedAt = performance.now();
  const socket = req.socket;
  const line = { client: clientAddress(socket.remoteAddress), method: req.method ?? 'GET', host: req.headers.host, path: req.url ?? '/', ...fixed };
  return () => {
    ticket.finish();
    context.accessLog({
      ...line, ...record, bytesIn: socket.bytesRead, bytesOut: socket.bytesWritten, status: record.status || 499, cache: 'BYPASS',
      durationMs: Math.round((performance.now() - startedAt) * 1000) / 1000,
    });
  };
}
