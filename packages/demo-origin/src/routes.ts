import type { IncomingMessage, ServerResponse } from 'node:http';
import { Readable, pipeline } from 'node:stream';
import { MAX_DEMO_BYTES, demoBytes, demoBytesEtag } from './bytes.js';

export interface RouteContext {
  id: string;
  maxSlowMs: number;
}

export interface Route {
  pattern: RegExp;
  methods: readonly string[];
  /** Goes through the capacity model: always ('always'), only when the scope is `all` ('scope'), or never. */
  modelled: 'always' | 'scope' | 'never';
  handle(req: IncomingMessage, res: ServerResponse, arg: string | undefined, context: RouteContext): void;
}

const READ = ['GET', 'HEAD'] as const;

export const routes: readonly Route[] = [
  { pattern: /^\/$/, methods: READ, modelled: 'scope', handle: home },
  { pattern: /^\/bytes\/(\d{1,12})$/, methods: READ, modelled: 'scope', handle: bytes },
  { pattern: /^\/echo$/, methods: ['POST'], modelled: 'scope', handle: echo },
  { pattern: /^\/slow\/(\d{1,12})$/, methods: READ, modelled: 'scope', handle: slow },
  { pattern: /^\/work\/(\d{1,12})$/, methods: READ, modelled: 'always', handle: work },
  { pattern: /^\/healthz$/, methods: READ, modelled: 'never', handle: healthz },
  { pattern: /^\/ws$/, methods: READ, modelled: 'never', handle: upgradeRequired },
];

/** The route for a request target, with its captured argument. */
export function findRoute(url: string | undefined): { route: Route; arg: string | undefined } | undefined {
  const path = pathOf(url ?? '/');
  for (const route of routes) {
    const match = route.pattern.exec(path);
    if (match) return { route, arg: match[1] };
  }
  return undefined;
}

/** The path of an origin-form (`/a?b`) or absolute-form (`http://h/a`) request target. */
export function pathOf(target: string): string {
  if (!target.startsWith('/')) {
    try {
      return new URL(target).pathname;
    } catch {
      return target;
    }
  }
  const query = target.indexOf('?');
  return query < 0 ? target : target.slice(0, query);
}

export function sendText(res: ServerResponse, status: number, text: string, headers: Record<string, string> = {}): void {
  const body = Buffer.from(text);
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'content-length': body.length, ...headers });
  res.end(body);
}

function home(_req: IncomingMessage, res: ServerResponse, _arg: string | undefined, { id }: RouteContext): void {
  const body = Buffer.from(
    `<!doctype html>\n<html><head><meta charset="utf-8"><title>Overlay demo origin ${escapeHtml(id)}</title></head>\n` +
      `<body><h1>Overlay demo origin</h1><p>Served by origin <b>${escapeHtml(id)}</b>.</p>\n` +
      '<p>Try <a href="/bytes/1048576">/bytes/1048576</a>, <a href="/slow/500">/slow/500</a>, ' +
      '<code>POST /echo</code> and a WebSocket on <code>/ws</code>.</p></body></html>\n',
  );
  res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'content-length': body.length });
  res.end(body);
}

function bytes(req: IncomingMessage, res: ServerResponse, arg: string | undefined): void {
  const n = Number(arg);
  if (n > MAX_DEMO_BYTES) return sendText(res, 400, `n must be at most ${MAX_DEMO_BYTES}\n`);
  const etag = demoBytesEtag(n);
  const cacheHeaders = { 'cache-control': 'public, max-age=60', etag };
  if (etagMatches(req.headers['if-none-match'], etag)) {
    res.writeHead(304, cacheHeaders);
    res.end();
    return;
  }
  res.writeHead(200, { ...cacheHeaders, 'content-type': 'application/octet-stream', 'content-length': n });
  streamDemoBytes(req, res, n);
}

/** `GET /work/{n}`: the capacity-modelled route; answers n demo bytes once its service time is done. */
function work(req: IncomingMessage, res: ServerResponse, arg: string | undefined): void {
  const n = Number(arg);
  if (n > MAX_DEMO_BYTES) return sendText(res, 400, `n must be at most ${MAX_DEMO_BYTES}\n`);
  res.writeHead(200, { 'cache-control': 'no-store', 'content-type': 'application/octet-stream', 'content-length': n });
  streamDemoBytes(req, res, n);
}

function streamDemoBytes(req: IncomingMessage, res: ServerResponse, n: number): void {
  if (req.method === 'HEAD') {
    res.end();
    return;
  }
  // objectMode off: one 64 KiB chunk is generated ahead at most, whatever n is.
  pipeline(Readable.from(demoBytes(n), { objectMode: false }), res, () => {});
}

/** Streams the body back as it arrives; the pipe pauses the upload while the client does not read. */
function echo(req: IncomingMessage, res: ServerResponse): void {
  const headers: Record<string, string> = {
    'content-type': req.headers['content-type'] ?? 'application/octet-stream',
    'cache-control': 'no-store',
  };
  if (req.headers['content-length'] !== undefined) headers['content-length'] = req.headers['content-length'];
  res.writeHead(200, headers);
  res.flushHeaders(); // the head goes out before any body, so a client may wait for it before sending
  pipeline(req, res, () => {});
}

function slow(_req: IncomingMessage, res: ServerResponse, arg: string | undefined, { maxSlowMs }: RouteContext): void {
  const ms = Number(arg);
  if (ms > maxSlowMs) return sendText(res, 400, `ms must be at most ${maxSlowMs}\n`);
  const timer = setTimeout(() => sendText(res, 200, `slept ${ms} ms\n`, { 'cache-control': 'no-store' }), ms);
  res.once('close', () => clearTimeout(timer));
}

function healthz(_req: IncomingMessage, res: ServerResponse, _arg: string | undefined, { id }: RouteContext): void {
  const body = Buffer.from(JSON.stringify({ ok: true, id }));
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length, 'cache-control': 'no-store' });
  res.end(body);
}

function upgradeRequired(_req: IncomingMessage, res: ServerResponse): void {
  sendText(res, 426, 'this is a WebSocket echo: send Upgrade: websocket\n', { upgrade: 'websocket', connection: 'Upgrade' });
}

/** If-None-Match uses the weak comparison (RFC 9110 §13.1.2): `W/` prefixes are ignored. */
function etagMatches(header: string | undefined, etag: string): boolean {
  if (header === undefined) return false;
  return header.split(',').some((tag) => {
    const trimmed = tag.trim();
    return trimmed === '*' || trimmed.replace(/^W\//, '') === etag;
  });
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (char) => `&#${char.charCodeAt(0)};`);
}
