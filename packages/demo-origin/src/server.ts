import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { formatHostPort } from '@overlay/common';
import { WebSocketServer, type WebSocket } from 'ws';
import { CapacityGate } from './gate.js';
import { defaultDemoOriginOptions, verifyDemoOriginOptions, type DemoOriginOptions } from './options.js';
import { findRoute, pathOf, sendText, type RouteContext } from './routes.js';

export interface DemoOrigin {
  id: string;
  /** `http://host:port` */
  url: string;
  host: string;
  port: number;
  close(): Promise<void>;
}

export type StartDemoOriginOptions = Partial<DemoOriginOptions> & { id: string };

/**
 * An example origin (CONTRACT.md "Demo origins serve …"): `/`, `/bytes/{n}`, `POST /echo`,
 * `/slow/{ms}`, `/work/{n}`, WebSocket echo on `/ws` and `/healthz`, every response with `x-origin`.
 */
export async function startDemoOrigin(overrides: StartDemoOriginOptions): Promise<DemoOrigin> {
  const options: DemoOriginOptions = { ...defaultDemoOriginOptions, ...overrides };
  verifyDemoOriginOptions(options);
  const { id, log } = options;
  const context: RouteContext = { id, maxSlowMs: options.maxSlowMs };
  const gate = options.serviceMs > 0 ? new CapacityGate(options) : undefined;

  function onRequest(req: IncomingMessage, res: ServerResponse): void {
    res.setHeader('x-origin', id);
    const found = findRoute(req.url);
    if (found === undefined) return sendText(res, 404, 'not found\n');
    const { route, arg } = found;
    if (!route.methods.includes(req.method ?? '')) return sendText(res, 405, 'method not allowed\n', { allow: route.methods.join(', ') });
    const respond = (): void => {
      try {
        route.handle(req, res, arg, context);
      } catch (err) {
        log.error({ err, url: req.url }, 'demo origin route failed');
        if (!res.headersSent) sendText(res, 500, 'internal error\n');
        else res.destroy();
      }
    };
    const modelled = route.modelled === 'always' || (route.modelled === 'scope' && options.capacityScope === 'all');
    if (gate === undefined || !modelled) return respond();
    const cancel = gate.serve(respond);
    res.once('close', cancel);
  }

  const server = createServer(onRequest);
  server.keepAliveTimeout = options.keepAliveTimeoutMs;
  server.headersTimeout = options.keepAliveTimeoutMs + 1000;
  server.maxConnections = options.maxConnections;

  // Malformed requests get an answer and a closed connection; the server carries on.
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
    log.debug({ code: err.code }, 'demo origin: bad request');
    if (err.code === 'ECONNRESET' || !socket.writable) return void socket.destroy();
    const status = err.code === 'HPE_HEADER_OVERFLOW' ? '431 Request Header Fields Too Large'
      : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? '408 Request Timeout' : '400 Bad Request';
    socket.end(`HTTP/1.1 ${status}\r\nx-origin: ${id}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
  });

  const sockets = new WebSocketServer({ noServer: true, maxPayload: options.maxWebSocketMessageBytes });
  sockets.on('headers', (headers) => headers.push(`x-origin: ${id}`));
  server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
    socket.on('error', () => socket.destroy());
    if (pathOf(req.url ?? '/') !== '/ws') {
      socket.end(`HTTP/1.1 404 Not Found\r\nx-origin: ${id}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
      return;
    }
    sockets.handleUpgrade(req, socket, head, (ws) => echoWebSocket(ws, options.maxWebSocketBufferedBytes));
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  log.debug({ id, address }, 'demo origin listening');

  return {
    id,
    url: `http://${formatHostPort(address.address, address.port)}`,
    host: address.address,
    port: address.port,
    close: async () => {
      for (const ws of sockets.clients) ws.terminate();
      sockets.close();
      gate?.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Sends every message back as it came (text as text); stops reading while too many replies are queued. */
function echoWebSocket(ws: WebSocket, maxBufferedBytes: number): void {
  ws.on('error', () => ws.terminate());
  ws.on('message', (data, isBinary) => {
    ws.send(data, { binary: isBinary }, () => {
      if (ws.isPaused && ws.bufferedAmount < maxBufferedBytes / 2) ws.resume();
    });
    if (ws.bufferedAmount > maxBufferedBytes) ws.pause();
  });
}
