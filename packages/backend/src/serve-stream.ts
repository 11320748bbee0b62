import { ignoreError } from '@overlay/common';
import { parseStreamHead, type StreamHead } from '@overlay/stream-heads';
import { TunnelError, TunnelErrorCode, WireError, type TunnelSession, type TunnelStream } from '@overlay/tunnel';
import type { Gateway } from './gateway.js';
import { serveHttp } from './http-exchange.js';
import { serveTcp } from './tcp-exchange.js';

/**
 * Entry point for every stream a front-end opens. A malformed head resets that stream with PROTOCOL_ERROR
 * (logged, counted); the session and every other stream carry on.
 */
export function serveStream(gateway: Gateway, stream: TunnelStream, session: TunnelSession): void {
  // Handlers read failures from the stream's state; an error nobody listens to must not end the process.
  stream.on('error', ignoreError);
  let head: StreamHead;
  try {
    head = parseStreamHead(stream.meta);
  } catch (err) {
    const reason = (err as Error).message;
    gateway.log.warn({ frontEnd: session.peer.id, stream: stream.id, reason }, 'malformed stream head; stream reset');
    gateway.metrics.streamFailures.inc({ reason: 'bad-head' });
    stream.destroy(new TunnelError(TunnelErrorCode.PROTOCOL, `malformed stream head: ${reason}`, { wire: WireError.PROTOCOL_ERROR }));
    return;
  }
  const served = head.kind === 'tcp' ? serveTcp(gateway, stream, head) : serveHttp(gateway, stream, head);
  served.catch((err: unknown) => {
    gateway.log.error({ err, site: head.site, frontEnd: session.peer.id }, 'stream handler failed');
    stream.destroy(new TunnelError(TunnelErrorCode.STREAM_RESET, 'back-end internal error', { wire: WireError.INTERNAL_ERROR }));
  });
}
