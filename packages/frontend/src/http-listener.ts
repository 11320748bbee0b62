import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { parseHostPort } from '@overlay/common';
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

/**
 * The client-facing HTTP/1.1 listener. node:http does the protocol: keep-alive, pipelined requests
 * answered in order, chunked bodies, 100-continue (answered by the handler once the body has somewhere to
 * go), and on a malformed request a 400 (431 for an oversized head, 408 for a head that never finishes)
 * before it closes that one connection; the process carries on. client-guard.ts adds what node:http
 * lacks against broken and hostile clients (per-source head slots, pipelined answers before a 400, two
 * Host fields, absolute-form targets).
 */
export async function startHttpListener(
  listen: string,
  options: HttpListenerOptions,
  handlers: { request: RequestHandler; upgrade: UpgradeHandler; refused?: (reason: GuardReason) => void },
): Promise<HttpListener> {
  const server = createServer({
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
  });
  const retune = (next: HttpListenerOptions) => {
    server.headersTimeout = next.headersTimeoutMs;
    server.requestTimeout = next.requestTimeoutMs;
    server.keepAliveTimeout = next.keepAliveTimeoutMs;
    server.maxConnections = next.maxConnections;
  };
  retune(options);
  const admit = guardClientServer(server, { maxTotal: options.maxHeadConnections, maxPerSource: options.maxHeadConnectionsPerSource }, handlers.refused ?? (() => {}));
  server.on('request', (req, res) => admit(req, res) && handlers.request(req, res, false));
  server.on('checkContinue', (req, res) => admit(req, res) && handlers.request(req, res, true));
  const upgraded = new Set<Duplex>();
  server.on('upgrade', (req, socket: Duplex, head: Buffer) => {
    upgraded.add(socket);
    socket.once('close', () => upgraded.delete(socket));
    handlers.upgrade(req, socket, head);
  });

  const { host, port } = parseHostPort(listen);
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
