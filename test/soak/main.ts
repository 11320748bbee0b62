/**
 * `pnpm soak [--minutes M] [--sample-s S] [--mark-s S]`: an origin, a back-end and a front-end as real processes under
 * mixed good load (small and large GETs, echoed uploads, GETs through a TCP-mode site) plus every abuse
 * case of issue 17 at a low rate (silent tunnel connections, trickling heads, clients that never read,
 * trickling uploads, malformed pipelines, two Host fields, silent and non-reading TCP-site connections).
 * Samples RSS and open fds of each process; at the end compares the median of the last minute with the
 * median of the minute around the 5-minute mark (flat: within 10 %, both RSS and fds) and prints a JSON
 * summary. Exits non-zero when good requests failed or a process grew.
 */
import { readdir, readFile } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { parseHostPort } from '@overlay/common';
import { SITE, TCP_SITE, get, hookCleanup, metric, startStack, summarize, type Reply } from '../hostile/stack.js';

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
  tcpSite: { idleTimeoutMs: 3_000 },
});
const tcpSite = stack.tcp!;
const processes = { origin: stack.originPid, 'back-end': stack.backEnd.child.pid!, 'front-end': stack.frontEnd.child.pid! };

async function sample(pid: number): Promise<{ rssMiB: number; fds: number }> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const rssKiB = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  return { rssMiB: Math.round(rssKiB / 102.4) / 10, fds: (await readdir(`/proc/${pid}/fd`)).length };
}

const endAt = Date.now() + minutes * 60_000;
const running = () => Date.now() < endAt;
/** Status and time of every good request; bodies are dropped (30 minutes of them held 10 GB in this process). */
const good: Array<Pick<Reply, 'status' | 'ms'>> = [];
const tcpGood: Array<Pick<Reply, 'status' | 'ms'>> = [];
const outcome = ({ status, ms }: Reply) => ({ status, ms });
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

/** One GET of `/bytes/N` over the TCP-mode site (raw HTTP/1.1 to the origin); 200 only with the whole body. */
function tcpGet(size: number): Promise<Reply> {
  const { host, port } = parseHostPort(tcpSite);
  const started = performance.now();
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const socket = connect({ host, port });
    const done = (status: number) => resolve({ status, ms: performance.now() - started, body: Buffer.alloc(0) });
    socket.setTimeout(10_000, () => socket.destroy());
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', () => {});
    socket.on('close', () => {
      const text = Buffer.concat(chunks);
      const headEnd = text.indexOf('\r\n\r\n');
      const whole = headEnd > 0 && text.length - headEnd - 4 === size;
      done(whole ? Number(/^HTTP\/1\.1 (\d{3})/.exec(text.toString('latin1', 0, 16))?.[1] ?? 0) : 0);
    });
    socket.write(`GET /bytes/${size} HTTP/1.1\r\nHost: ${SITE}\r\nConnection: close\r\n\r\n`);
  });
}

/** Good load: four clients looping over a mix of requests, a fifth over the TCP-mode site. */
async function goodLoad(): Promise<void> {
  const paths = ['/bytes/1024', '/bytes/1024', '/bytes/262144', '/', '/bytes/4096'];
  let i = 0;
  const http = Array.from({ length: 4 }, async () => {
    while (running()) good.push(outcome(await get(stack.http, paths[i++ % paths.length])));
  });
  const tcp = (async () => {
    while (running()) {
      const reply = outcome(await tcpGet(4096));
      good.push(reply);
      tcpGood.push(reply);
    }
  })();
  await Promise.all([...http, tcp]);
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
  // TCP-mode site: a silent connection and one that never reads its download (each cut after the idle window).
  if (heavy) raw(tcpSite, undefined, '127.0.0.7', 10_000);
  if (heavy) raw(tcpSite, `GET /bytes/${32 * 1024 * 1024} HTTP/1.1\r\nHost: ${SITE}\r\n\r\n`, '127.0.0.7', 10_000, (socket) => socket.pause());
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

/** Median of a process's figure over the samples in [from, to] seconds. */
const median = (name: string, key: 'rssMiB' | 'fds', from: number, to: number) => {
  const values = samples.filter((row) => row.s >= from && row.s <= to).map((row) => (row[name] as { rssMiB: number; fds: number })[key]).sort((a, b) => a - b);
  return values.length ? values[Math.floor(values.length / 2)] : Number.NaN;
};
const lastS = samples.length ? samples[samples.length - 1].s : 0;
const mark: Record<string, { rssMiB: number; fds: number }> = {};
const last: Record<string, { rssMiB: number; fds: number }> = {};
const growth: Record<string, { rss: number; fds: number }> = {};
let flat = lastS > MARK_S + 60;
const ratio = (to: number, from: number) => Math.round((to / Math.max(1, from)) * 1000) / 1000;
for (const name of Object.keys(processes)) {
  mark[name] = { rssMiB: median(name, 'rssMiB', MARK_S - 30, MARK_S + 30), fds: median(name, 'fds', MARK_S - 30, MARK_S + 30) };
  last[name] = { rssMiB: median(name, 'rssMiB', lastS - 60, lastS), fds: median(name, 'fds', lastS - 60, lastS) };
  growth[name] = { rss: ratio(last[name].rssMiB, mark[name].rssMiB), fds: ratio(last[name].fds, mark[name].fds) };
  if (!(growth[name].rss <= 1.1 && growth[name].fds <= 1.1)) flat = false;
}
const result = summarize(good);
const tcp = summarize(tcpGood);
const tcpIdleCuts = await metric(String(stack.frontEnd.ready.admin), 'overlay_frontend_tcp_connections_total', { site: TCP_SITE, outcome: 'idle' });
process.stdout.write(`${JSON.stringify({ soak: {
  minutes, attacks, good: { count: result.count, successRate: result.successRate, p99: Math.round(result.p99), statuses: result.statuses },
  tcpSite: { good: tcp.count, successRate: tcp.successRate, idleCuts: tcpIdleCuts }, mark, last, growth, flat,
} })}\n`);
await cleanup.run();
const ok = flat && result.successRate >= 0.99;
process.stdout.write(`${ok ? 1 : 0} passed, ${ok ? 0 : 1} failed\n`);
process.exit(ok ? 0 : 1);
