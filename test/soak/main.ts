/**
 * `pnpm soak [--minutes M] [--sample-s S] [--mark-s S]`: an origin, a back-end and a front-end as real processes under
 * mixed good load (small and large GETs, echoed uploads) plus every abuse case of issue 17 at a low rate
 * (silent tunnel connections, trickling heads, clients that never read, trickling uploads, malformed
 * pipelines, two Host fields). Samples RSS and open fds of each process; at the end compares the last
 * sample with the 5-minute one (flat: within 10 %) and prints a JSON summary. Exits non-zero when good
 * requests failed or a process grew.
 */
import { readdir, readFile } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { parseHostPort } from '@overlay/common';
import { SITE, get, hookCleanup, startStack, summarize, type Reply } from '../hostile/stack.js';

const args = process.argv.slice(2);
const option = (name: string, fallback: number) => {
  const at = args.indexOf(name);
  return at >= 0 ? Number(args[at + 1]) : fallback;
};
const minutes = option('--minutes', 30);
const sampleS = option('--sample-s', 10);
const MARK_S = option('--mark-s', 300);

const cleanup = hookCleanup();
const stack = await startStack(cleanup, {
  backEndState: { pool: { stallTimeoutMs: 3_000, minUploadBytesPerS: 256, uploadWindowMs: 3_000 } },
  frontEndHttp: { headersTimeoutMs: 5_000, requestTimeoutMs: 30_000 },
});
const processes = { origin: stack.originPid, 'back-end': stack.backEnd.child.pid!, 'front-end': stack.frontEnd.child.pid! };

async function sample(pid: number): Promise<{ rssMiB: number; fds: number }> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const rssKiB = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  return { rssMiB: Math.round(rssKiB / 102.4) / 10, fds: (await readdir(`/proc/${pid}/fd`)).length };
}

const endAt = Date.now() + minutes * 60_000;
const running = () => Date.now() < endAt;
const good: Reply[] = [];
const open = new Set<Socket>();
let attacks = 0;

function raw(hostPort: string, bytes: string | undefined, localAddress: string, holdMs: number, onSocket?: (socket: Socket) => void): void {
  const { host, port } = parseHostPort(hostPort);
  const socket = connect({ host, port, localAddress });
  open.add(socket);
  attacks++;
  socket.on('error', () => {});
  socket.on('close', () => open.delete(socket));
  if (bytes) socket.write(bytes);
  onSocket?.(socket);
  setTimeout(() => socket.destroy(), holdMs).unref();
}

/** Good load: four clients looping over a mix of requests. */
async function goodLoad(): Promise<void> {
  const paths = ['/bytes/1024', '/bytes/1024', '/bytes/262144', '/', '/bytes/4096'];
  let i = 0;
  await Promise.all(Array.from({ length: 4 }, async () => {
    while (running()) good.push(await get(stack.http, paths[i++ % paths.length]));
  }));
}

/**
 * Every abuse case at a low rate: the cheap ones every 2 s, a non-reading download and a trickling upload
 * every 10 s (each may hold an origin slot, and a stalled download up to a stream window of the tunnel's
 * session window, until pool.stallTimeoutMs / the upload rate check lets go).
 */
let tick = 0;
const attackTimer = setInterval(() => {
  const heavy = tick++ % 5 === 0;
  raw(stack.tunnel, undefined, '127.0.0.2', 6_000); // silent tunnel connection
  raw(stack.http, `GET / HTTP/1.1\r\nHost: ${SITE}\r\nX-Slow: `, '127.0.0.3', 8_000, (socket) => {
    const trickle = setInterval(() => (socket.destroyed ? clearInterval(trickle) : socket.write('x')), 500);
    trickle.unref();
  });
  if (heavy) raw(stack.http, `GET /bytes/${32 * 1024 * 1024} HTTP/1.1\r\nHost: ${SITE}\r\n\r\n`, '127.0.0.4', 10_000, (socket) => socket.pause());
  if (heavy) raw(stack.http, `POST /echo HTTP/1.1\r\nHost: ${SITE}\r\nContent-Length: 100000\r\n\r\n`, '127.0.0.5', 10_000, (socket) => {
    const trickle = setInterval(() => (socket.destroyed ? clearInterval(trickle) : socket.write('x')), 1_000);
    trickle.unref();
  });
  raw(stack.http, `GET /bytes/5 HTTP/1.1\r\nHost: ${SITE}\r\n\r\nGET / HTTP/1.1\r\nHo st: x\r\n\r\n`, '127.0.0.6', 3_000);
  raw(stack.http, `GET / HTTP/1.1\r\nHost: ${SITE}\r\nHost: other.test\r\n\r\n`, '127.0.0.6', 3_000);
}, 2_000);

const started = Date.now();
const samples: Array<{ s: number; good: number; failed: number } & Record<string, unknown>> = [];
const sampler = setInterval(async () => {
  const row: (typeof samples)[number] = { s: Math.round((Date.now() - started) / 1000), good: good.length, failed: good.filter((r) => r.status !== 200).length };
  for (const [name, pid] of Object.entries(processes)) row[name] = await sample(pid);
  samples.push(row);
  process.stdout.write(`${JSON.stringify(row)}\n`);
}, sampleS * 1000);

await goodLoad();
clearInterval(attackTimer);
clearInterval(sampler);
for (const socket of open) socket.destroy();

const at = (s: number) => samples.reduce((best, row) => (Math.abs(row.s - s) < Math.abs(best.s - s) ? row : best), samples[0]);
const mark = at(MARK_S);
const last = samples[samples.length - 1];
const growth: Record<string, { rss: number; fds: number }> = {};
let flat = samples.length > 0 && last.s > MARK_S;
for (const name of Object.keys(processes)) {
  const from = mark[name] as { rssMiB: number; fds: number };
  const to = last[name] as { rssMiB: number; fds: number };
  growth[name] = { rss: Math.round((to.rssMiB / from.rssMiB) * 1000) / 1000, fds: Math.round((to.fds / Math.max(1, from.fds)) * 1000) / 1000 };
  if (growth[name].rss > 1.1) flat = false;
}
const result = summarize(good);
process.stdout.write(`${JSON.stringify({ soak: { minutes, attacks, good: { count: result.count, successRate: result.successRate, p99: Math.round(result.p99), statuses: result.statuses }, mark, last, growth, flat } })}\n`);
await cleanup.run();
const ok = flat && result.successRate >= 0.99;
process.stdout.write(`${ok ? 1 : 0} passed, ${ok ? 0 : 1} failed\n`);
process.exit(ok ? 0 : 1);
