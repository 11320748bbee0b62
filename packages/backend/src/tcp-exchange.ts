import { connect, type Socket } from 'node:net';
import { encodeProxyHeader, type OverlayError } from '@overlay/common';
import type { TcpHead } from '@overlay/stream-heads';
import type { TunnelStream } from '@overlay/tunnel';
import { BACKEND_HEADER } from './answers.js';
import { dispatchToOrigin } from './dispatch.js';
import { BackEndErrorCode, CONNECT_TIMEOUT_CODE, originError, unknownSiteError } from './errors.js';
import { StreamExchange } from './exchange.js';
import type { Gateway } from './gateway.js';
import type { OriginLease } from './lease.js';
import { splice } from './relay.js';

/**
 * Serves one TCP-mode stream (one client connection): an origin from the site's queue, a connection to it,
 * REPLY 200, then raw bytes both ways. The slot is held for the connection's life (seed 000's layer-4
 * variant limits connections, queueing new ones until one ends).
 */
export async function serveTcp(gateway: Gateway, stream: TunnelStream, head: TcpHead): Promise<void> {
  const exchange = new StreamExchange(gateway, stream, head.site, { path: '/', method: 'CONNECT' }, false);
  const site = gateway.site(head.site);
  if (!site || site.mode !== 'tcp') return exchange.answerError(unknownSiteError(head.site, 'tcp'));
  const preamble = site.proxyProtocol;
  await dispatchToOrigin(exchange, site, (lease) => connectOrigin(exchange, lease, preamble ? (socket) => proxyHeaderFor(preamble, head, socket) : undefined));
}

/** The PROXY header an origin connection starts with: the client as the front-end saw it, and the origin dialled. */
function proxyHeaderFor(version: 1 | 2, head: TcpHead, socket: Socket): Buffer {
  return encodeProxyHeader(version, { address: head.client.ip, port: head.client.port }, { address: socket.remoteAddress ?? '0.0.0.0', port: socket.remotePort ?? 0 });
}

function connectOrigin(exchange: StreamExchange, lease: OriginLease, preamble?: (socket: Socket) => Buffer): Promise<OverlayError | undefined> {
  const { gateway, gone } = exchange;
  const origin = lease.origin;
  const timeoutMs = gateway.state.pool.connectTimeoutMs;
  return new Promise((resolve) => {
    const socket = connect({ host: origin.host, port: origin.port, allowHalfOpen: true, noDelay: true });
    let connecting = true;
    const stopConnecting = () => {
      connecting = false;
      clearTimeout(timer);
      gone.removeEventListener('abort', onAbort);
    };
    const timer = setTimeout(() => socket.destroy(Object.assign(new Error(`no connection within ${timeoutMs} ms`), { code: CONNECT_TIMEOUT_CODE })), timeoutMs);
    const onAbort = () => {
      stopConnecting();
      socket.destroy();
      exchange.cancelled(origin.id);
      lease.end('cancelled');
      resolve(undefined);
    };
    gone.addEventListener('abort', onAbort);
    socket.once('error', (err) => {
      if (!connecting) return; // after connecting, splice reports it
      stopConnecting();
      const error = originError(err, origin.id);
      lease.end('error', error.message);
      if (error.code === BackEndErrorCode.originConnect) return resolve(error);
      exchange.answerError(error, origin.id);
      resolve(undefined);
    });
    socket.once('connect', () => {
      stopConnecting();
      if (preamble) socket.write(preamble(socket));
      lease.accepted();
      exchange.respond({ status: 200, headers: [[BACKEND_HEADER, gateway.id]], backEnd: gateway.id, origin: origin.id });
      splice(exchange, socket, origin.id, (error) => {
        lease.end(gone.aborted ? 'cancelled' : error ? 'error' : 'ok', error?.message);
        resolve(undefined);
      });
    });
  });
}
