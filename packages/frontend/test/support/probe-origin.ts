import { createServer, type IncomingHttpHeaders } from 'node:http';
import { createServer as createTcpServer, type AddressInfo } from 'node:net';

/**
 * An origin that shows the tests what reached it: `GET /headers` answers the request fields as JSON;
 * `GET /cached/{name}?maxAge=N` is cacheable for N seconds with an ETag and answers If-None-Match with
 * 304; `POST /upload` answers the body's length and a byte checksum; `GET /slow/{ms}`. Counts hits
 * per path.
 */
export interface ProbeOrigin {
  url: string;
  hits: Map<string, number>;
  /** Request heads seen, newest last (at most 100). */
  seen: Array<{ method: string; url: string; headers: IncomingHttpHeaders }>;
  close(): Promise<void>;
}

export async function startProbeOrigin(): Promise<ProbeOrigin> {
  const hits = new Map<string, number>();
  const seen: ProbeOrigin['seen'] = [];
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://probe');
    hits.set(url.pathname, (hits.get(url.pathname) ?? 0) + 1);
    seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
    if (seen.length > 100) seen.shift();
    const cached = /^\/cached\/([a-z0-9-]+)$/.exec(url.pathname);
    const slow = /^\/slow\/(\d+)$/.exec(url.pathname);
    if (url.pathname === '/headers') {
      res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' });
      res.end(JSON.stringify({ method: req.method, url: req.url, headers: req.headers }));
    } else if (cached) {
      const etag = `"${cached[1]}-v1"`;
      const headers = { 'cache-control': `public, max-age=${url.searchParams.get('maxAge') ?? '60'}`, etag };
      if (req.headers['if-none-match'] === etag) {
        res.writeHead(304, headers);
        res.end();
      } else {
        res.writeHead(200, { ...headers, 'content-type': 'text/plain' });
        res.end(`${cached[1]} hit ${hits.get(url.pathname)}\n`);
      }
    } else if (url.pathname === '/upload' && req.method === 'POST') {
      let length = 0;
      let sum = 0;
      req.on('data', (chunk: Buffer) => {
        length += chunk.length;
        for (const byte of chunk) sum = (sum + byte) % 65_521;
      });
      req.on('end', () => {
        res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' });
        res.end(JSON.stringify({ length, sum, chunked: req.headers['transfer-encoding'] === 'chunked', te: req.headers['transfer-encoding'] ?? null }));
      });
    } else if (slow) {
      const timer = setTimeout(() => {
        res.writeHead(200, { 'content-type': 'text/plain', 'cache-control': 'no-store' });
        res.end(`slept ${slow[1]}\n`);
      }, Number(slow[1]));
      res.once('close', () => clearTimeout(timer));
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('no such probe\n');
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    hits,
    seen,
    close: () => new Promise((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

/** A raw TCP echo server (the origin of a `mode: tcp` site). */
export async function startTcpEcho(): Promise<{ host: string; port: number; close(): Promise<void> }> {
  const server = createTcpServer({ allowHalfOpen: true }, (socket) => {
    socket.on('error', () => {});
    socket.pipe(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { host: '127.0.0.1', port, close: () => new Promise((resolve) => server.close(() => resolve())) };
}
