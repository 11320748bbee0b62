import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { SourceSlots, sourceKey, type SourceSlotOptions } from '@overlay/common';

/** Why the guard refused or cut a client, for `overlay_frontend_client_refusals_total{reason}`. */
export type GuardReason = 'head-slot-evicted' | 'duplicate-host' | 'malformed';

const DUPLICATE_HOST = 'more than one Host header field';
const BAD_REQUEST = (reason: string) =>
  `HTTP/1.1 400 Bad Request\r\ncontent-type: text/plain\r\ncontent-length: ${Buffer.byteLength(reason) + 1}\r\nconnection: close\r\n\r\n${reason}\n`;

/**
 * What the client listener adds to node:http for peers that are broken or hostile:
 * - per-source slots for connections still in their first head: node:http's `headersTimeout` bounds the
 *   whole head (bytes do not extend it), these bound how many such connections one address holds, so a
 *   slow-head flood from one address pushes out only its own oldest;
 * - a malformed request after pipelined good ones: the good ones are answered first, in order, then the
 *   400 and the close (node:http's default drops their answers);
 * - two Host fields: 400 and close (RFC 9112 §3.2);
 * - an absolute-form target (RFC 9112 §3.2.2) is taken: its authority becomes the Host (the received Host
 *   is ignored, §3.2.2) and the target its origin-form path.
 * A connection holds its slot from accept (through a PROXY header and a TLS handshake) until its first
 * request or upgrade, its hand-over to HTTP/2 (`settled`) or its close: a WebSocket that kept it would be
 * evicted by the next new connection from its address once 256 were open.
 * Returns the request filter (false when the guard already answered the request) and `settled`.
 */
export function guardClientServer(server: Server, slots: SourceSlotOptions, onRefuse: (reason: GuardReason) => void) {
  const waiting = new SourceSlots<Socket>(slots, (socket) => {
    onRefuse('head-slot-evicted');
    socket.destroy();
  });
  /** Responses not yet finished, per connection (pipelined requests queue theirs in order). */
  const open = new WeakMap<Socket, number>();
  const idle = new WeakMap<Socket, () => void>();

  server.on('connection', (socket: Socket) => {
    waiting.admit(sourceKey(socket.remoteAddress), socket);
    socket.once('close', () => waiting.release(socket));
  });

  /** The connection is past its first head: its slot is free. Over TLS the slot is the raw socket's. */
  const settled = (socket: Socket) => {
    waiting.release(socket);
    const raw = (socket as { _parent?: Socket })._parent;
    if (raw) waiting.release(raw);
  };

  server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
    settled(socket);
    const answer = () => {
      if (!socket.writable || err.code === 'ECONNRESET') return socket.destroy();
      // A head that never finished (408) or was too large (431) keeps node:http's own status.
      const status = err.code === 'HPE_HEADER_OVERFLOW' ? '431 Request Header Fields Too Large' : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? '408 Request Timeout' : undefined;
      socket.end(status ? `HTTP/1.1 ${status}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n` : BAD_REQUEST('malformed request'));
      setTimeout(() => socket.destroy(), 1_000).unref();
    };
    onRefuse('malformed');
    if ((open.get(socket) ?? 0) > 0) idle.set(socket, answer);
    else answer();
  });

  /** False for two Host fields (RFC 9112 §3.2: the caller answers 400 and closes); else an absolute-form target is taken. */
  const takeTarget = (req: IncomingMessage): boolean => {
    const hosts = hostIndexes(req.rawHeaders);
    if (hosts.length > 1) {
      onRefuse('duplicate-host');
      return false;
    }
    absoluteToOrigin(req, hosts);
    return true;
  };

  const admit = (req: IncomingMessage, res: ServerResponse): boolean => {
    const socket = req.socket;
    settled(socket);
    open.set(socket, (open.get(socket) ?? 0) + 1);
    // A response closes once: `on` spares once()'s wrapper.
    res.on('close', () => {
      const left = (open.get(socket) ?? 1) - 1;
      open.set(socket, left);
      if (left === 0) idle.get(socket)?.();
    });
    if (takeTarget(req)) return true;
    res.shouldKeepAlive = false;
    res.writeHead(400, { 'content-type': 'text/plain', connection: 'close' }).end(`${DUPLICATE_HOST}\n`);
    return false;
  };

  /** `admit` for an upgrade request: the same checks, answered on the raw socket; an upgraded connection holds no head slot. */
  const admitUpgrade = (req: IncomingMessage, socket: Duplex): boolean => {
    settled(req.socket);
    if (takeTarget(req)) return true;
    socket.end(BAD_REQUEST(DUPLICATE_HOST));
    return false;
  };
  return { admit, admitUpgrade, settled };
}

function hostIndexes(raw: readonly string[]): number[] {
  const found: number[] = [];
  for (let i = 0; i < raw.length; i += 2) if (raw[i].length === 4 && raw[i].toLowerCase() === 'host') found.push(i);
  return found;
}

/** `GET http://shop.example/a?b HTTP/1.1` becomes `GET /a?b` with `Host: shop.example`. */
function absoluteToOrigin(req: IncomingMessage, hosts: number[]): void {
  const target = req.url ?? '';
  if (!/^https?:\/\//i.test(target)) return;
  let url: URL;
  try {
    url = new URL(target);
  } catch {
    return;
  }
  req.url = `${url.pathname}${url.search}`;
  req.headers.host = url.host;
  if (hosts.length) req.rawHeaders[hosts[0] + 1] = url.host;
  else req.rawHeaders.push('Host', url.host);
}
