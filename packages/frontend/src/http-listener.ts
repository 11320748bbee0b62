import { createServer, type Server } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import { parseHostPort, type Logger } from '@overlay/common';
import { presentClient, proxiedClientOf, readPreamble } from './connection-preamble.js';
import type { EdgeMetrics } from './edge-metrics.js';
import type { Http2Sessions } from './http2-server.js';
import type { CertificateStore } from './tls.js';
import { guardClientServer, type GuardReason } from './client-guard.js';
import type { RequestHandler } from './http-handler.js';
import type { HttpListenerOptions } from './options.js';
import type { UpgradeHandler } from './upgrade-handler.js';

/** Bytes a client socket buffers before a write says "wait for drain". */
const CLIENT_SOCKET_HIGH_WATER_BYTES = 64 * 1024;

export interface HttpListener {
  server: Server;
  address: AddressInfo;
  /** New timeouts and connection limit, for what arrives from now on (a reload). */
  retune(options: HttpListenerOptions): void;
  /** Stops accepting, lets requests in flight finish for up to `graceMs`, then cuts what is left. */
  close(graceMs: number): Promise<void>;
}

/** How a listener takes its connections (config `http` and `https`). */
export interface ListenerSpec {
  listen: string;
  /** Every connection starts with a PROXY v1/v2 header from an L4 balancer (docs/front-end.md). */
  proxyProtocol: boolean;
  /** Terminate TLS with these certificates (SNI), ALPN h2 and http/1.1; plain HTTP/1.1 and h2c without. */
  certificates?: CertificateStore;
}

export interface ListenerEvents {
  log: Logger;
  metrics: EdgeMetrics;
  /** HTTP/2 sessions of this gateway (both listeners hand theirs to it). */
  http2: Http2Sessions;
}

/**
 * Replaces node's own listener for `event` (the first one), handing it the original to call when the
 * connection is ready; listeners added beside it (the client guard's) stay.
 */
function intercept<T extends unknown[]>(server: Server, event: string, wrap: (original: (...args: T) => void) => (...args: T) => void): void {
  const [original] = server.listeners(event) as Array<(...args: T) => void>;
  server.removeListener(event, original);
  server.prependListener(event, wrap((...args: T) => original.apply(server, args)));
}

/**
 * A client-facing listener. node:http does HTTP/1.1: keep-alive, pipelined requests answered in order,
 * chunked bodies, 100-continue (answered by the handler once the body has somewhere to go), and on a
 * malformed request a 400 (431 for an oversized head, 408 for a head that never finishes) before it closes
 * that one connection; the process carries on. Before HTTP, the connection's preamble is read where there
 * is one to read (a PROXY header; the h2c preface on the plain listener); over TLS, ALPN `h2` hands the
 * connection to the HTTP/2 sessions, anything else stays HTTP/1.1. Either way the same handlers serve.
 * client-guard.ts adds what node:http lacks against broken and hostile HTTP/1.1 clients (per-source head
 * slots, pipelined answers before a 400, two Host fields, absolute-form targets).
 */
export async function startHttpListener(
  spec: ListenerSpec,
  options: HttpListenerOptions,
  handlers: { request: RequestHandler; upgrade: UpgradeHandler; refused?: (reason: GuardReason) => void },
  events: ListenerEvents,
): Promise<HttpListener> {
  const { log, metrics, http2 } = events;
  const certificates = spec.certificates;
  const name = certificates ? 'https' : 'http';
  const serverOptions = {
    // Node's default (16 KiB) let one write fill a client socket: a download went out as one 16 KiB write
    // per 'drain' round trip. At 64 KiB a whole tunnel read goes out in one writev (64 MiB: 4093 writes
    // before, 1034 after, counted with strace).
    highWaterMark: CLIENT_SOCKET_HIGH_WATER_BYTES,
    maxHeaderSize: options.maxHeaderBytes,
    headersTimeout: options.headersTimeoutMs,
    requestTimeout: options.requestTimeoutMs,
    keepAliveTimeout: options.keepAliveTimeoutMs,
    // How often node:http checks the head and request deadlines (default 30 s: a 20 s head deadline
    // could stretch to 50 s).
    connectionsCheckingInterval: 1_000,
    noDelay: true,
    keepAlive: true,
  };
  const server: Server = certificates ? createHttpsServer({ ...serverOptions, ...certificates.serverOptions(['h2', 'http/1.1']) }) : createServer(serverOptions);
  const retune = (next: HttpListenerOptions) => {
    server.headersTimeout = next.headersTimeoutMs;
    server.requestTimeout = next.requestTimeoutMs;
    server.keepAliveTimeout = next.keepAliveTimeoutMs;
    server.maxConnections = next.maxConnections;
  };
  retune(options);
  const { admit, admitUpgrade, settled } = guardClientServer(server, { maxTotal: options.maxHeadConnections, maxPerSource: options.maxHeadConnectionsPerSource }, handlers.refused ?? (() => {}));
  server.on('request', (req, res) => admit(req, res) && handlers.request(req, res, false));
  server.on('checkContinue', (req, res) => admit(req, res) && handlers.request(req, res, true));
  const upgraded = new Set<Duplex>();
  // One listener for every upgraded socket (`this` is the socket), not a closure per WebSocket.
  const forget = function (this: Duplex) {
    upgraded.delete(this);
  };
  server.on('upgrade', (req, socket: Duplex, head: Buffer) => {
    if (!admitUpgrade(req, socket)) return;
    upgraded.add(socket);
    socket.on('close', forget);
    handlers.upgrade(req, socket, head);
  });

  const refused = (code: string, reason: string) => {
    metrics.preambleRefusals.inc({ code });
    log.debug({ listener: name, code, reason }, 'connection refused before HTTP');
  };
  const preamble = { proxyProtocol: spec.proxyProtocol, timeoutMs: options.headersTimeoutMs };
  if (certificates) {
    certificates.attach(server as HttpsServer);
    if (spec.proxyProtocol) {
      intercept<[Socket]>(server, 'connection', (tlsAccept) => (socket) => readPreamble(socket, { ...preamble, sniffH2: false }, () => tlsAccept(socket), refused));
    }
    intercept<[TLSSocket]>(server, 'secureConnection', (httpAccept) => (socket) => {
      // The TLS socket reports its own peer: give it the client the PROXY header named on the raw one.
      const client = spec.proxyProtocol ? proxiedClientOf((socket as unknown as { _parent: Socket })._parent) : undefined;
      if (client) presentClient(socket, client);
      metrics.handshakes.inc({ resumed: String(socket.isSessionReused()) });
      if (socket.alpnProtocol === 'h2') {
        metrics.connections.inc({ listener: name, protocol: 'h2' });
        settled(socket);
        http2.accept(socket);
      } else {
        metrics.connections.inc({ listener: name, protocol: 'h1' });
        httpAccept(socket);
      }
    });
    server.on('tlsClientError', (err: NodeJS.ErrnoException) => {
      metrics.tlsErrors.inc({ code: err.code ?? 'ERR_UNKNOWN' });
      log.debug({ listener: name, code: err.code, reason: err.message }, 'TLS handshake failed');
    });
  } else {
    intercept<[Socket]>(server, 'connection', (httpAccept) => (socket) => readPreamble(socket, { ...preamble, sniffH2: true }, ({ h2 }) => {
      metrics.connections.inc({ listener: name, protocol: h2 ? 'h2' : 'h1' });
      if (h2) {
        // The session reads what the preamble put back on the next tick; resuming before would drop it,
        // and left paused the socket would stop reading what comes after.
        settled(socket);
        http2.accept(socket);
        setImmediate(() => socket.resume());
        return;
      }
      httpAccept(socket);
      socket.resume();
    }, refused));
  }

  const { host, port } = parseHostPort(spec.listen);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });

  return {
    server,
    address: server.address() as AddressInfo,
    retune,
    close: async (graceMs) => {
      if (certificates) certificates.detach(server as HttpsServer);
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      const cut = setTimeout(() => {
        server.closeAllConnections();
        for (const socket of upgraded) socket.destroy();
      }, graceMs);
      // Upgraded connections are no longer the server's: they get the same grace, then are cut.
      await Promise.all([closed, ...[...upgraded].map((socket) => new Promise((resolve) => socket.once('close', resolve)))]);
      clearTimeout(cut);
    },
  };
}
