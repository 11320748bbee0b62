import type { OverlayError } from '@overlay/common';
import { flatPairs, type RequestHead } from '@overlay/stream-heads';
import type { TunnelStream } from '@overlay/tunnel';
import type { Dispatcher } from 'undici';
import { originResponseHead, responsePairs } from './answers.js';
import { demandReader } from './demand-reader.js';
import { dispatchToOrigin } from './dispatch.js';
import { BackEndErrorCode, badRequestError, originError, unknownSiteError } from './errors.js';
import { StreamExchange } from './exchange.js';
import type { Gateway } from './gateway.js';
import type { OriginLease } from './lease.js';
import { originRequestHeaders } from './origin-request.js';
import { relayResponseBody } from './relay.js';
import { forwardUpgrade } from './upgrade.js';

/** Serves one HTTP stream: its site's queue, an origin from the pool, the answer relayed back. */
export async function serveHttp(gateway: Gateway, stream: TunnelStream, head: RequestHead): Promise<void> {
  const exchange = new StreamExchange(gateway, stream, head.site, { path: head.target, method: head.method }, true);
  const site = gateway.site(head.site);
  if (!site || site.mode !== 'http') return exchange.answerError(unknownSiteError(head.site, 'http'));
  if (!head.target.startsWith('/')) return exchange.answerError(badRequestError('request target must be origin-form (start with "/")'));
  // No body: take the FIN now so the stream can finish; a body stays in the stream until the origin reads it.
  if (!head.hasBody && !head.upgrade) stream.resume();
  await dispatchToOrigin(exchange, site, (lease) => (head.upgrade ? forwardUpgrade(exchange, lease, head) : forwardRequest(exchange, lease, head)));
}

/**
 * Sends the request on a pooled keep-alive connection (one request per connection at a time) with the body
 * pulled from the stream as the origin takes it, then relays the response. Latency for the limit control
 * is the time to the response head.
 */
async function forwardRequest(exchange: StreamExchange, lease: OriginLease, head: RequestHead): Promise<OverlayError | undefined> {
  const { gateway, stream, signal } = exchange;
  const { pool } = gateway.state;
  const reader = head.hasBody ? demandReader(stream, (chunk) => exchange.countIn(chunk.length)) : undefined;
  let response: Dispatcher.ResponseData;
  try {
    response = await lease.origin.pool.request({
      path: head.target,
      method: head.method as Dispatcher.HttpMethod,
      headers: flatPairs(originRequestHeaders(head, lease.origin)),
      body: reader?.body ?? null,
      signal,
      headersTimeout: pool.responseTimeoutMs,
      bodyTimeout: pool.bodyTimeoutMs,
    });
  } catch (err) {
    reader?.detach();
    if (signal.aborted) {
      exchange.cancelled(lease.origin.id);
      lease.end('cancelled');
      return undefined;
    }
    const error = originError(err, lease.origin.id);
    if (error.code === BackEndErrorCode.originConnect) {
      lease.end('error', error.message);
      return error;
    }
    lease.end(error.code === BackEndErrorCode.originTimeout ? 'timeout' : error.code === BackEndErrorCode.badRequest ? 'cancelled' : 'error', error.message);
    exchange.answerError(error, lease.origin.id);
    return undefined;
  }
  lease.responded(response.statusCode);
  exchange.respond(originResponseHead(response.statusCode, responsePairs(response.headers), gateway.id, lease.origin.id));
  await relayResponseBody(exchange, response.body, lease);
  return undefined;
}
