import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, Http2ServerResponse, type Http2ServerRequest, type ServerHttp2Session } from 'node:http2';
import type { Duplex } from 'node:stream';
import type { RequestHandler } from './http-handler.js';
import type { HttpListenerOptions } from './options.js';

export interface Http2Sessions {
  /** Runs HTTP/2 on a connection that chose it (ALPN h2, or the h2c preface on the plain listener). */
  accept(socket: Duplex): void;
  retune(options: HttpListenerOptions): void;
  /** GOAWAY to every session; streams in flight get `graceMs`, then the sessions are cut. */
  close(graceMs: number): Promise<void>;
}

/*
 * The compatibility API's response has no `destroyed`, which the request path reads (as on node:http) to
 * tell a client that left; it is the stream's.
 */
if (!Object.getOwnPropertyDescriptor(Http2ServerResponse.prototype, 'destroyed')) {
  Object.defineProperty(Http2ServerResponse.prototype, 'destroyed', {
    get(this: Http2ServerResponse) {
      return this.stream.destroyed;
    },
  });
}

/**
 * The request as the HTTP/1.1 path reads it: `:authority` is the Host (RFC 9113 §8.3.1), the raw fields
 * lose the pseudo-headers (they must not be forwarded as fields), and a body without Content-Length (HTTP/2
 * frames it itself) reads as chunked, which is how it crosses the tunnel.
 */
function asHttp1View(req: Http2ServerRequest): void {
  if (!req.stream.endAfterHeaders && req.headers['content-length'] === undefined) req.headers['transfer-encoding'] = 'chunked';
  const raw = req.rawHeaders;
  const authority = req.headers[':authority'];
  let kept = 0;
  let hasHost = false;
  for (let i = 0; i < raw.length; i += 2) {
    if (raw[i].charCodeAt(0) === 0x3a) continue; // ':'
    if (raw[i] === 'host') hasHost = true;
    raw[kept++] = raw[i];
    raw[kept++] = raw[i + 1];
  }
  raw.length = kept;
  if (!hasHost && typeof authority === 'string') {
    raw.unshift('host', authority);
    req.headers.host = authority;
  }
}

/**
 * HTTP/2 for clients through node:http2's compatibility API, whose request and response objects behave
 * close enough to node:http's that the one request path (classifier, cache, admission, tunnel) serves
 * both. Connections arrive already accepted (and, over TLS, already decrypted) by the listeners.
 */
export function createHttp2Sessions(options: HttpListenerOptions & { maxConcurrentStreams: number }, handler: RequestHandler): Http2Sessions {
  const server = createServer({
    settings: { maxConcurrentStreams: options.maxConcurrentStreams, maxHeaderListSize: options.maxHeaderBytes },
    maxHeaderListPairs: 512,
  });
  const sessions = new Set<ServerHttp2Session>();
  server.on('session', (session: ServerHttp2Session) => {
    sessions.add(session);
    session.once('close', () => sessions.delete(session));
  });
  const serve = (expectsContinue: boolean) => (req: Http2ServerRequest, res: Http2ServerResponse) => {
    asHttp1View(req);
    handler(req as unknown as IncomingMessage, res as unknown as ServerResponse, expectsContinue);
  };
  server.on('request', serve(false));
  server.on('checkContinue', serve(true));
  // A session error (bad frames, a peer that breaks the protocol) ends that session only.
  server.on('sessionError', () => {});
  const retune = (next: HttpListenerOptions) => server.setTimeout(next.keepAliveTimeoutMs);
  retune(options);
  return {
    accept: (socket) => server.emit('connection', socket),
    retune,
    close: async (graceMs) => {
      const open = [...sessions];
      const cut = setTimeout(() => open.forEach((session) => session.destroy()), graceMs);
      await Promise.all(open.map((session) => new Promise<void>((resolve) => {
        if (session.closed) return resolve();
        session.once('close', () => resolve());
        session.close();
      })));
      clearTimeout(cut);
    },
  };
}
