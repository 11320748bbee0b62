/**
 * A small overlay of real processes for the abuse tests: a demo origin, a back-end and a front-end, each
 * started as an operator would (`overlay ROLE --config FILE`) on ephemeral loopback ports, plus the good
 * traffic those tests measure while an attack runs.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request, Agent } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseHostPort, pollUntil, startProcess, type StartedProcess } from '@overlay/common';
import { OVERLAY } from '../helpers.js';

export const SITE = 'shop.test';
export const TUNNEL_KEY = 'hostile-test-tunnel-key-0123456789';
const ORIGIN_MAIN = fileURLToPath(new URL('../../packages/lab/dist/origin-main.js', import.meta.url));

/** Anything that runs clean-ups when it ends: a test's `t`, or `hookCleanup()` for a before hook. */
export interface Cleanup {
  teardown(fn: () => unknown): void;
}

/** A Cleanup for `test.before`: run its `run()` in `test.after.always`. */
export function hookCleanup(): Cleanup & { run(): Promise<void> } {
  const fns: Array<() => unknown> = [];
  return {
    teardown: (fn) => fns.push(fn),
    run: async () => {
      for (const fn of fns.reverse()) await fn();
    },
  };
}

export async function tempDir(t: Cleanup): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'overlay-hostile-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** Starts `overlay ROLE` with `config` written to a file in `dir`; stopped when the test ends. */
export async function startRole(t: Cleanup, dir: string, role: string, config: unknown, onStderr?: (line: string) => void): Promise<StartedProcess> {
  const file = join(dir, `${role}-${Math.random().toString(36).slice(2)}.json`);
  await writeFile(file, JSON.stringify(config));
  const child = await startProcess(process.execPath, [OVERLAY, role, '--config', file], { readyTimeoutMs: 30_000, onStderr });
  t.teardown(() => child.stop(3_000));
  return child;
}

export async function startOriginProcess(t: Cleanup): Promise<StartedProcess> {
  const child = await startProcess(process.execPath, [ORIGIN_MAIN, 'origin-h', '127.0.0.1', '0']);
  t.teardown(() => child.stop(3_000));
  return child;
}

export async function startOrigin(t: Cleanup): Promise<string> {
  return String((await startOriginProcess(t)).ready.url);
}

export interface Stack {
  dir: string;
  origin: string;
  originPid: number;
  backEnd: StartedProcess;
  tunnel: string;
  frontEnd: StartedProcess;
  http: string;
  /** The TCP-mode site's listener when `tcpSite` was asked for (it carries raw bytes to the same origin). */
  tcp?: string;
}

export interface StackOptions {
  /** Extra back-end state (limits, queue, pool …). */
  backEndState?: Record<string, unknown>;
  /** Extra front-end `http` listener options. */
  frontEndHttp?: Record<string, unknown>;
  /** Also a TCP-mode site `raw` to the origin's address, with these front-end site settings (idleTimeoutMs …). */
  tcpSite?: Record<string, unknown>;
  /** Extra top-level front-end config (admission …). */
  frontEnd?: Record<string, unknown>;
}

export const TCP_SITE = 'raw';

export function frontEndConfig(tunnel: string, http: Record<string, unknown> = {}, tcpSite?: Record<string, unknown>) {
  const tcp = tcpSite ? { [TCP_SITE]: { domains: ['raw.test'], mode: 'tcp', listen: '127.0.0.1:0', backEnds: ['be-h'], ...tcpSite } } : {};
  return {
    id: 'fe-h',
    http: { listen: '127.0.0.1:0', ...http },
    admin: '127.0.0.1:0',
    state: {
      backEnds: { 'be-h': { tunnel, key: TUNNEL_KEY } },
      sites: { shop: { domains: [SITE], backEnds: ['be-h'] }, ...tcp },
    },
  };
}

export async function startStack(t: Cleanup, options: StackOptions = {}): Promise<Stack> {
  const dir = await tempDir(t);
  const originProcess = await startOriginProcess(t);
  const origin = String(originProcess.ready.url);
  const backEnd = await startRole(t, dir, 'back-end', {
    id: 'be-h',
    tunnel: { listen: '127.0.0.1:0', keys: [TUNNEL_KEY] },
    admin: '127.0.0.1:0',
    drainTimeoutMs: 1_000,
    state: {
      sites: { shop: { origins: [{ url: origin }] }, ...(options.tcpSite ? { [TCP_SITE]: { mode: 'tcp', origins: [{ id: 'origin-raw', url: origin.replace(/^http:/, 'tcp:') }] } } : {}) },
      ...options.backEndState,
    },
  });
  const tunnel = String(backEnd.ready.tunnel);
  const frontEnd = await startRole(t, dir, 'front-end', { ...frontEndConfig(tunnel, options.frontEndHttp, options.tcpSite), ...options.frontEnd });
  const http = String(frontEnd.ready.http);
  const tcp = options.tcpSite ? (frontEnd.ready.tcp as Record<string, string>)[TCP_SITE] : undefined;
  // The ready line means listening; the tunnel comes up just after.
  if (!(await pollUntil(async () => (await get(http, '/')).status === 200, { timeoutMs: 15_000 }))) throw new Error('the stack never served a request');
  // Warm up (JIT, pooled origin connections) so an unattacked baseline is not a cold, slow start.
  await goodTraffic(http, 200);
  return { dir, origin, originPid: originProcess.child.pid!, backEnd, tunnel, frontEnd, http, tcp };
}

export interface Reply {
  status: number;
  ms: number;
  body: Buffer;
}

/**
 * One GET through a front-end address with the site's Host, from `localAddress` if given (loopback aliases
 * 127.0.0.2 … are other sources); status 0 for a connection failure or timeout.
 */
export function get(hostPort: string, path: string, options: { host?: string; timeoutMs?: number; agent?: Agent; localAddress?: string } = {}): Promise<Reply> {
  const { host, port } = parseHostPort(hostPort);
  const started = performance.now();
  return new Promise((resolve) => {
    const done = (status: number, body = Buffer.alloc(0)) => resolve({ status, ms: performance.now() - started, body });
    const req = request({ host, port, path, headers: { host: options.host ?? SITE }, agent: options.agent ?? false, localAddress: options.localAddress, timeout: options.timeoutMs ?? 10_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => done(res.statusCode ?? 0, Buffer.concat(chunks)));
      res.on('error', () => done(0));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', () => done(0));
    req.end();
  });
}

export interface Sample {
  count: number;
  ok: number;
  successRate: number;
  p99: number;
  statuses: Record<string, number>;
}

export function summarize(replies: ReadonlyArray<Pick<Reply, 'status' | 'ms'>>): Sample {
  const ok = replies.filter((r) => r.status === 200).length;
  const times = replies.map((r) => r.ms).sort((a, b) => a - b);
  const statuses: Record<string, number> = Object.create(null);
  for (const r of replies) statuses[r.status] = (statuses[r.status] ?? 0) + 1;
  return {
    count: replies.length,
    ok,
    successRate: replies.length ? ok / replies.length : 0,
    p99: times.length ? times[Math.min(times.length - 1, Math.ceil(times.length * 0.99) - 1)] : 0,
    statuses,
  };
}

/** `count` good GETs of `path`, `concurrency` at a time (from `localAddress` if given): the traffic an attack must not hurt. */
export async function goodTraffic(hostPort: string, count: number, concurrency = 4, path = '/bytes/1024', localAddress?: string): Promise<Sample> {
  const replies: Reply[] = [];
  let next = 0;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < count) {
      next++;
      replies.push(await get(hostPort, path, { localAddress }));
    }
  }));
  return summarize(replies);
}

/**
 * Good traffic measured as `rounds` rounds of `count` GETs: the p99 is the median of the rounds' p99s (and
 * success counts every reply), so one noisy moment on a shared box neither sets a lucky low baseline nor
 * fails an attacked run. `rounds` lists each round's p99 for the log.
 */
export async function goodLatency(hostPort: string, rounds = 5, count = 100): Promise<Sample & { rounds: number[] }> {
  const samples: Sample[] = [];
  for (let i = 0; i < rounds; i++) samples.push(await goodTraffic(hostPort, count));
  return combine(samples);
}

/** Rounds of good traffic as one Sample: the median of their p99s, success over every reply. */
export function combine(samples: Sample[]): Sample & { rounds: number[] } {
  const p99s = samples.map((sample) => sample.p99).sort((a, b) => a - b);
  const statuses: Record<string, number> = Object.create(null);
  for (const sample of samples) for (const [status, n] of Object.entries(sample.statuses)) statuses[status] = (statuses[status] ?? 0) + n;
  const total = samples.reduce((sum, sample) => sum + sample.count, 0);
  const ok = samples.reduce((sum, sample) => sum + sample.ok, 0);
  return { count: total, ok, successRate: total ? ok / total : 0, p99: p99s[Math.floor(p99s.length / 2)], statuses, rounds: samples.map((sample) => Math.round(sample.p99)) };
}

/**
 * The bar for good traffic under attack: ≥ 99 % success and p99 within 2x of the same traffic
 * unattacked. `floorMs` is for the cases that do not meet 2x on a shared 2-core box where the attacker
 * runs beside the gateways (each test says why and logs both figures): the latency bound is then
 * max(2x, floorMs), still far below what the attacks cost before the fixes (5 s and more).
 */
export function withinBar(attacked: Sample, baseline: Sample, floorMs = 0): boolean {
  return attacked.successRate >= 0.99 && attacked.p99 <= Math.max(2 * baseline.p99, floorMs);
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Reads one metric's value (summed over labels matching `labels`) from an admin /metrics page. */
export async function metric(admin: string, name: string, labels: Record<string, string> = {}): Promise<number> {
  const text = await (await fetch(`http://${admin}/metrics`)).text();
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const match = /^([a-z_]+)(\{[^}]*\})?\s+(\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    if (Object.entries(labels).every(([k, v]) => (match[2] ?? '').includes(`${k}="${v}"`))) sum += Number(match[3]);
  }
  return sum;
}
