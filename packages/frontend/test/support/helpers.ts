import { request as httpRequest, type Agent, type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { silentLogger } from '@overlay/common';
import { frontEndConfigSchema, startFrontEnd, type FrontEnd, type FrontEndConfigInput, type FrontEndStateInput } from '@overlay/frontend';
import type { ExecutionContext } from 'ava';
import { TEST_KEY, type TestBackEnd } from './test-backend.js';

export interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

export interface RequestOptions {
  host: string;
  path?: string;
  method?: string;
  headers?: OutgoingHttpHeaders;
  body?: Buffer | string;
  agent?: Agent | false;
}

/** One request to the front-end's HTTP listener, the whole body gathered. */
export function send(address: AddressInfo, options: RequestOptions): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: '127.0.0.1',
        port: address.port,
        path: options.path ?? '/',
        method: options.method ?? 'GET',
        headers: { host: options.host, ...options.headers },
        agent: options.agent ?? false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(options.body);
  });
}

/**
 * Writes raw bytes on one connection and collects what comes back until the server closes it or
 * `done(text)` holds.
 */
export function raw(port: number, bytes: string | Buffer, done: (text: string) => boolean = () => false, timeoutMs = 5_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port });
    let text = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no complete answer within ${timeoutMs} ms; got: ${JSON.stringify(text.slice(0, 500))}`));
    }, timeoutMs);
    const finish = () => {
      clearTimeout(timer);
      socket.destroy();
      resolve(text);
    };
    socket.on('data', (chunk: Buffer) => {
      text += chunk.toString('latin1');
      if (done(text)) finish();
    });
    socket.on('close', finish);
    socket.on('error', () => {});
    socket.write(bytes);
  });
}

/** Back-end entries for the front-end's state. */
export function backEndsOf(...backEnds: TestBackEnd[]): Record<string, { tunnel: string; key: string }> {
  return Object.fromEntries(backEnds.map((backEnd) => [backEnd.id, { tunnel: backEnd.tunnel, key: TEST_KEY }]));
}

export type ConfigOverrides = Omit<Partial<FrontEndConfigInput>, 'state'> & { state: FrontEndStateInput };

/**
 * Starts a front-end on loopback port 0. With a test's `t` it closes when that test ends (not in hooks:
 * a hook's teardown runs as soon as the hook is done).
 */
export async function startTestFrontEnd(overrides: ConfigOverrides, t?: ExecutionContext): Promise<FrontEnd> {
  const config = frontEndConfigSchema.parse({
    id: 'fe-test',
    http: { listen: '127.0.0.1:0', closeGraceMs: 200 },
    admin: '127.0.0.1:0',
    ...overrides,
  });
  const frontEnd = await startFrontEnd(config, { log: silentLogger });
  t?.teardown(() => frontEnd.close());
  return frontEnd;
}

export async function waitFor(predicate: () => boolean | Promise<boolean>, what: string, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** The admin listener's /metrics text. */
export async function scrape(admin: AddressInfo): Promise<string> {
  const reply = await send(admin, { host: 'admin', path: '/metrics' });
  return reply.body.toString();
}

/** Sum of a metric's samples whose labels include all of `labels`. */
export function metricSum(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (!Object.entries(labels).every(([key, value]) => line.includes(`${key}="${value}"`))) continue;
    sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

/** Waits until the front-end's /healthz says every named back-end's tunnel is connected. */
export async function waitForTunnels(frontEnd: FrontEnd, ids: string[], timeoutMs = 5_000): Promise<void> {
  await waitFor(async () => {
    const reply = await send(frontEnd.admin, { host: 'admin', path: '/healthz' });
    const health = JSON.parse(reply.body.toString()) as { backEnds?: Record<string, { connected: boolean }> };
    return ids.every((id) => health.backEnds?.[id]?.connected === true);
  }, `tunnels to ${ids.join(', ')}`, timeoutMs);
}
