import type { Duplex, Readable } from 'node:stream';
import type { RequestOutcome } from '@overlay/balancer';
import { errorCode } from '@overlay/common';
import { relayBytes } from '@overlay/stream-heads';
import type { StreamExchange } from './exchange.js';
import type { OriginLease } from './lease.js';

/**
 * Streams an origin's response body into the tunnel stream with backpressure (pipe: the origin read pauses
 * while the stream's window is full), then ends the stream. The lease ends when the origin's side is done:
 * `ok` on a clean end, `error` (and a RESET UPSTREAM_ERROR) when the origin fails mid-body, `cancelled`
 * when the front-end goes away (the origin request is abandoned and its connection closed).
 */
export function relayResponseBody(exchange: StreamExchange, body: Readable, lease: OriginLease): Promise<void> {
  const { stream, gone } = exchange;
  return new Promise((resolve) => {
    let settled = false;
    const settle = (result: RequestOutcome, detail?: string) => {
      if (settled) return;
      settled = true;
      gone.removeEventListener('abort', onAbort);
      lease.end(result, detail);
      resolve();
    };
    const onAbort = () => {
      exchange.cancelled(lease.origin.id);
      settle('cancelled');
      body.destroy();
    };
    body.on('data', (chunk: Buffer) => {
      lease.bytes += chunk.length;
      exchange.countOut(chunk.length);
    });
    body.once('end', () => settle('ok'));
    body.once('error', (err) => {
      if (gone.aborted) return settle('cancelled');
      const reason = `${errorCode(err)}: ${err.message}`;
      settle('error', reason);
      exchange.failUpstream(reason, lease.origin.id);
    });
    body.once('close', () => {
      if (!settled && !body.readableEnded) {
        settle('error', 'response body closed early');
        exchange.failUpstream('response body closed early', lease.origin.id);
      }
    });
    if (gone.aborted) return onAbort();
    gone.addEventListener('abort', onAbort);
    body.pipe(stream);
  });
}

/**
 * Raw bytes both ways between a tunnel stream and an origin socket (upgraded connections, TCP sites) until
 * both sides are closed. An end on either side half-closes the other; an origin failure resets the stream
 * with UPSTREAM_ERROR; a front-end reset destroys the socket. `done` hears the socket's error, if any,
 * once both are closed (a callback, not a promise: an upgrade's splice lives as long as its WebSocket).
 * Listeners that live as long as the connection are plain `on` ones (`once` adds two objects each).
 */
export function splice(exchange: StreamExchange, socket: Duplex, origin: string, done?: (socketError: Error | undefined) => void): void {
  const { stream } = exchange;
  let socketError: Error | undefined;
  let open = 2;
  const closed = () => {
    if (--open === 0) done?.(socketError);
  };
  socket.on('error', (err) => {
    socketError = err;
    if (!exchange.gone.aborted) exchange.failUpstream(`${errorCode(err)}: ${err.message}`, origin);
  });
  socket.on('close', () => {
    // Destroyed without an 'end' (nothing for the relay to pass on): the stream's sending side ends here.
    if (!stream.destroyed && !stream.writableEnded) stream.end();
    closed();
  });
  stream.on('close', () => {
    if (!socket.destroyed && (stream.errored || !stream.readableEnded)) socket.destroy();
    closed();
  });
  const counts = exchange.gateway.metrics.bytesOf(exchange.site);
  relayBytes(stream, socket, counts.in);
  relayBytes(socket, stream, counts.out);
}
