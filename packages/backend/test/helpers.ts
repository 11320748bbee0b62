import { once } from 'node:events';
import { createServer, request as httpRequest, Agent, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { startBackEnd, type BackEnd, type BackEndStateInput } from '@overlay/backend';
import { startDemoOrigin, type DemoOrigin, type StartDemoOriginOptions } from '@overlay/demo-origin';
import type { RequestHead, ResponseHead } from '@overlay/stream-heads';
import { TunnelClient, type TunnelStream } from '@overlay/tunnel';
import type { ExecutionContext } from 'ava';

export const KEY = 'backend-test-pre-shared-key-0123';

/** Probes rare enough to stay out of the way, unless a test is about health. */
export const quietHealth = { intervalMs: 60_000, timeoutMs: 1_000 };

export interface Harness {
  backEnd: BackEnd;
  /** A front-end's end of the tunnel, as a front-end gateway would hold it. */
  client: TunnelClient;
}

/** A back-end on loopback with `state`, and a connected tunnel client; both close when the test ends. */
export async function startHarness(t: ExecutionContext, state: BackEndStateInput): Promise<Harness> {
  const backEnd = await startBackEnd({
    id: 'be-test',
    tunnel: { listen: '127.0.0.1:0', keys: [KEY] },
    admin: '127.0.0.1:0',
    drainTimeoutMs: 2_000,
    state,
  });
  const client = new TunnelClient({ id: 'fe-test', host: '127.0.0.1', port: backEnd.tunnel.port, key: KEY }).start();
  t.teardown(async () => {
    // A test that left a stream open must not hold the teardown for the session's whole drain timeout.
    await Promise.race([client.close(), sleep(1_000)]);
    for (const session of client.sessions) session.destroy();
    await backEnd.close();
  });
  await client.ready(5_000);
  return { backEnd, client };
}

export async function demoOrigin(t: ExecutionContext, options: StartDemoOriginOptions): Promise<DemoOrigin> {
  const origin = await startDemoOrigin({ host: '127.0.0.1', port: 0, ...options });
  t.teardown(() => origin.close());
  return origin;
}

export function httpHead(site: string, method: string, target: string, extra: Partial<RequestHead> = {}): RequestHead {
  return {
    kind: 'http',
    site,
    method,
    target,
    headers: [['x-forwarded-for', '10.1.2.3'], ['x-forwarded-host', 'shop.test'], ['x-forwarded-proto', 'http'], ['via', '1.1 fe-test']],
    client: { ip: '10.1.2.3', port: 40000 },
    frontEnd: 'fe-test',
    priority: 2,
    hasBody: false,
    ...extra,
  };
}

/** Opens a stream with `meta` as its head; `reply` settles with the REPLY head or the stream's failure. */
export function open(client: TunnelClient, meta: unknown, priority = 2): { stream: TunnelStream; reply: Promise<ResponseHead> } {
  const stream = client.openStream({ priority, meta });
  const reply = new Promise<ResponseHead>((resolve, reject) => {
    stream.once('reply', (head: ResponseHead) => resolve(head));
    stream.once('error', reject);
    stream.once('close', () => reject(new Error('stream closed without a reply')));
  });
  reply.catch(() => {});
  return { stream, reply };
}

export interface Answer {
  head: ResponseHead;
  body: Buffer;
}

/** One whole exchange: sends the head (and body), gathers the reply head and body. */
export async function exchange(client: TunnelClient, head: RequestHead, body?: Buffer): Promise<Answer> {
  const { stream, reply } = open(client, head, head.priority);
  const chunks: Buffer[] = [];
  stream.on('data', (chunk: Buffer) => chunks.push(chunk));
  const ended = new Promise<void>((resolve, reject) => {
    stream.once('end', resolve);
    stream.once('error', reject);
  });
  stream.end(body);
  const replyHead = await reply;
  await ended;
  return { head: replyHead, body: Buffer.concat(chunks) };
}

export function header(head: ResponseHead, name: string): string | undefined {
  return head.headers.find(([field]) => field === name)?.[1];
}

export interface ProxyStats {
  connections: number;
  requests: number;
  inFlight: number;
  maxInFlight: number;
  /** Time from each request's arrival to its response's end, ms (the most recent 10 000). */
  latencies: number[];
  /** When each response ended, ms (performance.now(); the most recent 10 000). */
  completions: number[];
  /** Request paths and Host headers as received. */
  seen: Array<{ path: string; host: string | undefined; headers: IncomingMessage['headers'] }>;
}

export interface CountingProxy {
  url: string;
  stats: ProxyStats;
  reset(): void;
  close(): Promise<void>;
}

/**
 * An HTTP hop in front of an origin that counts what the origin side sees: connections opened by the
 * back-end, requests, and requests in flight at once (health probes excluded).
 */
export async function countingProxy(t: ExecutionContext, target: DemoOrigin): Promise<CountingProxy> {
  const agent = new Agent({ keepAlive: true, maxSockets: Infinity });
  const stats: ProxyStats = { connections: 0, requests: 0, inFlight: 0, maxInFlight: 0, latencies: [], completions: [], seen: [] };
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const counted = req.url !== '/healthz';
    if (counted) {
      stats.requests++;
      stats.inFlight++;
      stats.maxInFlight = Math.max(stats.maxInFlight, stats.inFlight);
      if (stats.seen.length < 1000) stats.seen.push({ path: req.url ?? '', host: req.headers.host, headers: req.headers });
      const arrived = performance.now();
      res.once('close', () => {
        stats.inFlight--;
        const now = performance.now();
        if (stats.latencies.push(now - arrived) > 10_000) stats.latencies.shift();
        if (stats.completions.push(now) > 10_000) stats.completions.shift();
      });
    }
    const upstream = httpRequest({ host: target.host, port: target.port, method: req.method, path: req.url, headers: req.headers, agent }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  server.on('connection', () => stats.connections++);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  const proxy: CountingProxy = {
    url: `http://127.0.0.1:${port}`,
    stats,
    reset() {
      Object.assign(stats, { connections: 0, requests: 0, maxInFlight: stats.inFlight, latencies: [], completions: [], seen: [] });
    },
    async close() {
      server.closeAllConnections();
      agent.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  t.teardown(() => proxy.close());
  return proxy;
}

/** Resolves once the stream has closed (at once if it already has). */
export function closed(stream: TunnelStream): Promise<void> {
  return stream.closed ? Promise.resolve() : once(stream, 'close').then(() => undefined);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Waits until `predicate` holds, polling; fails with `what` after `timeoutMs`. */
export async function waitFor(predicate: () => boolean, what: string, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}
