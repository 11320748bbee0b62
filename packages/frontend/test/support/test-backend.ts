import { request as httpRequest, Agent, type OutgoingHttpHeaders } from 'node:http';
import { connect } from 'node:net';
import type { TlsOptions } from 'node:tls';
import { endToEndFromRaw, parseStreamHead, type RequestHead, type ResponseHead, type TcpHead } from '@overlay/stream-heads';
import { TunnelServer, type TunnelStream } from '@overlay/tunnel';

/**
 * A small back-end for these tests (packages/backend has no startBackEnd yet): a real TunnelServer that
 * answers front-end streams from one origin per site, the way the stream-heads contract says, plus
 * switchable misbehaviour for failover tests.
 */
export const TEST_KEY = 'front-end-test-key-0123456789';

export type Behaviour =
  /** Serve from the origin. */
  | 'serve'
  /** Answer itself with 503 and `error.retryable` (nothing reached an origin). */
  | 'busy'
  /** Never answer (the stream waits until the test kills the back-end). */
  | 'hang';

export interface TestSite {
  /** `http://host:port` of the site's origin. */
  origin?: string;
  /** TCP origin for `mode: tcp` sites. */
  tcp?: { host: string; port: number };
}

export interface TestBackEnd {
  id: string;
  /** `host:port` for the front-end's state. */
  tunnel: string;
  server: TunnelServer;
  behaviour: Behaviour;
  /** Streams opened by front-ends so far. */
  streams: number;
  /** Request heads seen, newest last (at most 100). */
  heads: Array<RequestHead | TcpHead>;
  /** Called as each stream arrives, before `behaviour` is read (tests use it to react to who got a request). */
  onStream: ((backEnd: TestBackEnd) => void) | undefined;
  /** Cuts every tunnel connection at once (the back-end "crashes" but keeps listening). */
  cutTunnels(): void;
  close(): Promise<void>;
}

export async function startTestBackEnd(id: string, sites: Record<string, TestSite>, tls?: TlsOptions): Promise<TestBackEnd> {
  const server = new TunnelServer({ id, keys: [TEST_KEY], host: '127.0.0.1', port: 0, tls });
  const agent = new Agent({ keepAlive: true, maxSockets: 256 });
  const backEnd: TestBackEnd = {
    id,
    tunnel: '',
    server,
    behaviour: 'serve',
    streams: 0,
    heads: [],
    onStream: undefined,
    cutTunnels: () => {
      for (const session of server.sessions) session.socket.destroy();
    },
    close: async () => {
      agent.destroy();
      await server.close(200);
    },
  };
  server.on('stream', (stream: TunnelStream) => {
    backEnd.streams++;
    stream.on('error', () => {});
    const head = parseStreamHead(stream.meta);
    backEnd.heads.push(head);
    if (backEnd.heads.length > 100) backEnd.heads.shift();
    backEnd.onStream?.(backEnd);
    if (backEnd.behaviour === 'hang') return;
    if (backEnd.behaviour === 'busy') {
      reply(stream, { status: 503, headers: [['content-type', 'text/plain']], backEnd: id, error: { code: 'ERR_QUEUE_FULL', retryable: true } });
      stream.end('busy\n');
      return;
    }
    const site = sites[head.site];
    if (head.kind === 'tcp') return serveTcp(id, stream, site);
    serveHttp(id, stream, head, site, agent);
  });
  const address = await server.listen();
  backEnd.tunnel = `127.0.0.1:${address.port}`;
  return backEnd;
}

function reply(stream: TunnelStream, head: ResponseHead): void {
  stream.respond(head);
}

function fail(id: string, stream: TunnelStream, code: string): void {
  reply(stream, { status: 502, headers: [], backEnd: id, error: { code, retryable: false } });
  stream.end();
}

function serveHttp(id: string, stream: TunnelStream, head: RequestHead, site: TestSite | undefined, agent: Agent): void {
  if (!site?.origin) return fail(id, stream, 'ERR_NO_SITE');
  const origin = new URL(site.origin);
  const headers: OutgoingHttpHeaders = {};
  for (const [name, value] of head.headers) {
    const prior = headers[name];
    headers[name] = prior === undefined ? value : [...(Array.isArray(prior) ? prior : [String(prior)]), value];
  }
  if (head.upgrade) {
    headers.connection = 'Upgrade';
    headers.upgrade = 'websocket';
  }
  const request = httpRequest({ host: origin.hostname, port: Number(origin.port), method: head.method, path: head.target, headers, agent: head.upgrade ? false : agent });
  let answered = false;
  request.on('response', (response) => {
    answered = true;
    reply(stream, { status: response.statusCode ?? 502, headers: endToEndFromRaw(response.rawHeaders), backEnd: id, origin: 'probe' });
    response.pipe(stream);
    response.on('error', () => stream.destroy());
  });
  request.on('upgrade', (response, socket, rest) => {
    answered = true;
    reply(stream, { status: 101, headers: endToEndFromRaw(response.rawHeaders), backEnd: id });
    if (rest.length) stream.write(rest);
    socket.on('error', () => stream.destroy());
    socket.pipe(stream);
    stream.pipe(socket);
    stream.once('close', () => socket.destroy());
  });
  request.on('error', () => {
    if (!answered) fail(id, stream, 'ERR_ORIGIN_CONNECT');
    else stream.destroy();
  });
  stream.once('close', () => {
    if (!stream.readableEnded || !answered) request.destroy();
  });
  if (head.upgrade) request.end();
  else if (head.hasBody) stream.pipe(request);
  else {
    request.end();
    stream.resume();
  }
}

function serveTcp(id: string, stream: TunnelStream, site: TestSite | undefined): void {
  if (!site?.tcp) return fail(id, stream, 'ERR_NO_SITE');
  const socket = connect({ host: site.tcp.host, port: site.tcp.port, allowHalfOpen: true });
  let connected = false;
  socket.once('connect', () => {
    connected = true;
    reply(stream, { status: 200, headers: [], backEnd: id });
    socket.pipe(stream);
    stream.pipe(socket);
  });
  socket.on('error', () => {
    if (!connected) fail(id, stream, 'ERR_ORIGIN_CONNECT');
    else stream.destroy();
  });
  stream.once('close', () => socket.destroy());
}
