import type { Socket } from 'node:net';
import { decodeProxyHeader, errorCode, type ProxyEndpoint } from '@overlay/common';

/** What a client connection starts with, read before any HTTP or TLS code sees it. */
export interface Preamble {
  /** The h2 connection preface (`PRI * HTTP/2.0`): HTTP/2 with prior knowledge (h2c). */
  h2: boolean;
  /** The client named by a PROXY header (undefined without one, or for a LOCAL/UNKNOWN one). */
  client: ProxyEndpoint | undefined;
}

export interface PreambleOptions {
  /** The listener sits behind an L4 balancer: every connection must start with a PROXY v1/v2 header. */
  proxyProtocol: boolean;
  /** Look for the h2 preface (the plain listener); a TLS listener learns h2 from ALPN instead. */
  sniffH2: boolean;
  /** The preamble must arrive within this, ms. */
  timeoutMs: number;
}

/** RFC 9113 §3.4: the method PRI is reserved for this preface; four bytes tell it from any HTTP/1 request. */
const H2_PREFACE_START = Buffer.from('PRI ', 'latin1');

/** Where a PROXY header said a socket's client is; the TLS listener copies it onto the TLS socket. */
const proxied = new WeakMap<Socket, ProxyEndpoint>();

export function proxiedClientOf(socket: Socket): ProxyEndpoint | undefined {
  return proxied.get(socket);
}

/**
 * Makes `socket` report `client` as its peer, so everything downstream (priority rules, X-Forwarded-For,
 * the tunnel's client field, logs) sees the real client rather than the balancer.
 */
export function presentClient(socket: Socket, client: ProxyEndpoint): void {
  proxied.set(socket, client);
  Object.defineProperty(socket, 'remoteAddress', { value: client.address, configurable: true });
  Object.defineProperty(socket, 'remotePort', { value: client.port, configurable: true });
}

/**
 * Reads a new connection's preamble: a PROXY header when the listener requires one, then (for the plain
 * listener) enough bytes to tell the h2 preface from HTTP/1. The bytes after the PROXY header are put back
 * (`unshift`) for the protocol that takes the socket. A bad or missing PROXY header, or none in time,
 * closes the connection: `onRefused` says why.
 */
export function readPreamble(socket: Socket, options: PreambleOptions, onPreamble: (preamble: Preamble) => void, onRefused: (code: string, reason: string) => void): void {
  let received: Buffer = Buffer.alloc(0);
  let client: ProxyEndpoint | undefined;
  let headerDone = !options.proxyProtocol;
  const timer = setTimeout(() => refuse('ERR_PREAMBLE_TIMEOUT', `no complete preamble within ${options.timeoutMs} ms`), options.timeoutMs);
  const cleanUp = () => {
    clearTimeout(timer);
    socket.off('data', onData);
    socket.off('end', onEnd);
    socket.off('close', cleanUp);
  };
  const refuse = (code: string, reason: string) => {
    cleanUp();
    onRefused(code, reason);
    socket.destroy();
  };
  const onEnd = () => refuse('ERR_PREAMBLE_TRUNCATED', 'the client closed before its preamble ended');
  const onData = (chunk: Buffer) => {
    received = received.length ? Buffer.concat([received, chunk]) : chunk;
    if (!headerDone) {
      let decoded;
      try {
        decoded = decodeProxyHeader(received);
      } catch (err) {
        return refuse(errorCode(err), (err as Error).message);
      }
      if (!decoded.done) return;
      headerDone = true;
      if (decoded.header.proxied) client = decoded.header.source;
      received = received.subarray(decoded.length);
    }
    let h2 = false;
    if (options.sniffH2) {
      const n = Math.min(received.length, H2_PREFACE_START.length);
      const prefix = received.subarray(0, n).equals(H2_PREFACE_START.subarray(0, n));
      if (prefix && n < H2_PREFACE_START.length) return; // "PR": wait for the rest
      h2 = prefix;
    }
    cleanUp();
    socket.pause();
    if (received.length) socket.unshift(received);
    if (client) presentClient(socket, client);
    onPreamble({ h2, client });
  };
  socket.on('data', onData);
  socket.once('end', onEnd);
  socket.once('close', cleanUp);
}
