import type { OverlayError } from '@overlay/common';
import type { RequestHead } from '@overlay/stream-heads';
import type { TunnelStream } from '@overlay/tunnel';
import { demandReader } from './demand-reader.js';
import { dispatchToOrigin } from './dispatch.js';
import { badRequestError, unknownSiteError } from './errors.js';
import { StreamExchange } from './exchange.js';
import type { Gateway } from './gateway.js';
import type { OriginLease } from './lease.js';
import { originRequestHeaders } from './origin-request.js';
import { OriginRelay } from './origin-relay.js';
import { forwardUpgrade } from './upgrade.js';

/** Serves one HTTP stream: its site's queue, an origin from the pool, the answer relayed back. */
export async function serveHttp(gateway: Gateway, stream: TunnelStream, head: RequestHead): Promise<void> {
  const exchange = new StreamExchange(gateway, stream, head.site, { path: head.target, method: head.method }, true);
  const site = gateway.site(head.site);
  if (!site || site.mode !== 'http') return exchange.answerError(unknownSiteError(head.site, 'http'));
  if (!head.target.startsWith('/')) return exchange.answerError(badRequestError('request target must be origin-form (start with "/")'));
  // No body: take the FIN now so the stream can finish; a body stays in the stream until the origin reads it.
  if (!head.hasBody && !head.upgrade) stream.resume();
  const host = site.originHost;
  await dispatchToOrigin(exchange, site, (lease) => (head.upgrade ? forwardUpgrade(exchange, lease, head, host) : forwardRequest(exchange, lease, head, host)));
}

/**
 * Sends the request on a pooled keep-alive connection (one request per connection at a time) with the body
 * pulled from the stream as the origin takes it, and relays the response (origin-relay.ts). Latency for
 * the limit control is the time to the response head.
 */
function forwardRequest(exchange: StreamExchange, lease: OriginLease, head: RequestHead, originHost: string | undefined): Promise<OverlayError | undefined> {
  let relay: OriginRelay | undefined;
  const reader = head.hasBody
    ? demandReader(exchange.stream, (chunk) => {
        exchange.countIn(chunk.length);
        relay?.uploadedBytes(chunk.length);
      })
    : undefined;
  return new Promise((settle) => {
    relay = new OriginRelay(exchange, lease, reader, settle);
    lease.origin.pool.dispatch({
      path: head.target,
      method: head.method,
      headers: originRequestHeaders(head, lease.origin, originHost),
      body: reader?.body ?? null,
    }, relay);
  });
}
