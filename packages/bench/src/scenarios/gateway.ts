import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { pollUntil, startProcess, type StartedProcess } from '@overlay/common';
import { median, medianOfRounds, result, type BenchResult, type Scenario } from '../harness.js';
import { Peer } from '../measure.js';
import { freePort, haproxyConfig, overlayCli, requireTool, stopChild, wrk, type WrkResult } from '../tools.js';

const run = promisify(execFile);
const ORIGIN_PEER = fileURLToPath(new URL('../peers/origin-peer.js', import.meta.url));
/** The site every gateway-style scenario serves; send it as the Host header. */
export const SITE = 'bench.test';
const KEY = 'gateway-benchmark-key-0123456789';
const WRK_SECONDS = 4;
const WARMUP_SECONDS = 5;
/** Measurement rounds, each path once per round, interleaved: the median round stands, so one noisy moment on this shared machine does not decide a ratio. */
const ROUNDS = 3;
const CONNECTIONS = 64;
const DOWNLOAD = 64 * 1024 * 1024;

type Load = Pick<WrkResult, 'rps' | 'p50' | 'p99'>;

/** wrk on every path at the same concurrency: a warm-up each, then the median of ROUNDS interleaved rounds. */
function measurePaths(urls: string[], progress: (line: string) => void): Promise<Load[]> {
  const paths = urls.map((url) => async (phase: 'warm-up' | 'round'): Promise<Load> => {
    const { rps, p50, p99 } = await wrk(url, { connections: CONNECTIONS, seconds: phase === 'warm-up' ? WARMUP_SECONDS : WRK_SECONDS, host: SITE });
    return { rps, p50, p99 };
  });
  return medianOfRounds(paths, ROUNDS, (round, loads) => progress(`round ${round}/${ROUNDS}: ${loads.map((load) => Math.round(load.rps)).join(' / ')} req/s`));
}

/** Median of three 64 MiB downloads with curl, MB/s. */
async function download(url: string): Promise<number> {
  const speeds: number[] = [];
  for (let i = 0; i < 3; i++) {
    const { stdout } = await run('curl', ['-s', '-o', '/dev/null', '-H', `Host: ${SITE}`, '-w', '%{speed_download} %{size_download}', url]);
    const [speed, size] = stdout.trim().split(' ').map(Number);
    if (size !== DOWNLOAD) throw new Error(`download from ${url} got ${size} bytes`);
    speeds.push(speed / 1e6);
  }
  return median(speeds);
}

/**
 * HAProxy forwarding 127.0.0.1:`listen` to `server` (host:port, optionally followed by server-line options
 * such as `maxconn 8`); `backendLines` are added to its backend section (e.g. `timeout queue 5s`). With
 * `tls` it terminates TLS with `tls.pem` (certificate then key; ALPN h2 and http/1.1, TLS 1.2 and up).
 */
export async function haproxy(dir: string, name: string, listen: number, server: string, backendLines: string[] = [], tls?: { pem: string; ca: string }): Promise<ChildProcess> {
  const file = join(dir, `${name}.cfg`);
  const bindOptions = tls ? `ssl crt ${tls.pem} alpn h2,http/1.1 ssl-min-ver TLSv1.2` : undefined;
  await writeFile(file, haproxyConfig({ bind: `127.0.0.1:${listen}`, bindOptions, server, backendLines }));
  const child = spawn('haproxy', ['-f', file, '-db'], { stdio: 'ignore' });
  const probe = tls
    ? ['--cacert', tls.ca, '--resolve', `${SITE}:${listen}:127.0.0.1`, `https://${SITE}:${listen}/healthz`]
    : [`http://127.0.0.1:${listen}/healthz`];
  const up = () => run('curl', ['-sf', '-o', '/dev/null', ...probe]).then(() => true);
  if (await pollUntil(up, { timeoutMs: 5_000, intervalMs: 50 })) return child;
  child.kill();
  throw new Error(`haproxy ${name} did not come up on ${listen}`);
}

// Like for like with the HAProxy chain, which has no maxconn here: this scenario measures forwarding
// cost, so the origin limit is fixed and high. The adaptive limit is measured against HAProxy's
// maxconn where it matters, under overload (the loading scenario).
const FIXED_HIGH_LIMIT = { adaptive: false, initial: 256, max: 256 };

export interface RunningOverlay {
  /** The front-end's HTTP address, `http://127.0.0.1:port`; send `Host: bench.test`. */
  url: string;
  /** The back-end's admin address (host:port) for /metrics. */
  backEndAdmin: string;
  processes: StartedProcess[];
}

/**
 * A front-end and a back-end on 127.0.0.1 carrying site `bench.test` to `origins` (ids origin-1, origin-2, …),
 * no cache; `limits` is the back-end's per-origin limits block, its defaults (adaptive) when left out;
 * `https` adds the front-end's HTTPS listener (its config section).
 */
export async function overlay(dir: string, origins: string[], limits?: Record<string, unknown>, https?: Record<string, unknown>): Promise<RunningOverlay> {
  const backEndConfig = join(dir, 'back-end.json');
  await writeFile(backEndConfig, JSON.stringify({
    id: 'be-bench',
    tunnel: { listen: '127.0.0.1:0', keys: [KEY] },
    admin: '127.0.0.1:0',
    state: { sites: { bench: { origins: origins.map((url, i) => ({ url, id: `origin-${i + 1}` })) } }, ...(limits ? { limits } : {}) },
  }));
  const backEnd = await startProcess(process.execPath, [overlayCli(), 'back-end', '--config', backEndConfig]);
  const httpPort = await freePort();
  const frontEndConfig = join(dir, 'front-end.json');
  await writeFile(frontEndConfig, JSON.stringify({
    id: 'fe-bench',
    pop: 'bench',
    http: { listen: `127.0.0.1:${httpPort}` },
    ...(https ? { https } : {}),
    admin: '127.0.0.1:0',
    // The baselines cache nothing; neither does the overlay here, so every request crosses the tunnel.
    cache: { enabled: false },
    state: {
      backEnds: { 'be-bench': { tunnel: String(backEnd.ready.tunnel), key: KEY } },
      sites: { bench: { domains: [SITE], backEnds: ['be-bench'] } },
    },
  }));
  const frontEnd = await startProcess(process.execPath, [overlayCli(), 'front-end', '--config', frontEndConfig]);
  const url = `http://127.0.0.1:${httpPort}`;
  // The tunnel comes up right after the ready line; wait for a first answer.
  await pollUntil(() => run('curl', ['-sf', '-o', '/dev/null', '-H', `Host: ${SITE}`, `${url}/healthz`]).then(() => true), { timeoutMs: 5_000, intervalMs: 50 });
  return { url, backEndAdmin: String(backEnd.ready.admin), processes: [frontEnd, backEnd] };
}

export const gatewayScenario: Scenario = {
  name: 'gateway',
  description: `1 KiB requests/s and p50/p99 (wrk, ${CONNECTIONS} connections, ${WARMUP_SECONDS} s warm-up per path, then the median of ${ROUNDS} interleaved ${WRK_SECONDS} s rounds) and 64 MiB downloads (curl): overlay front-end → tunnel → back-end vs the origin directly vs HAProxy → HAProxy (http-reuse always)`,
  async run(progress) {
    await requireTool('wrk', 'wrk');
    await requireTool('haproxy', 'haproxy');
    await requireTool('curl', 'curl');
    const dir = await mkdtemp(join(tmpdir(), 'overlay-bench-gateway-'));
    const origins = await Peer.start(ORIGIN_PEER);
    const stops: Array<() => Promise<unknown>> = [];
    try {
      const origin = await origins.call<string>('start', { id: 'origin-1' });
      const path = '/bytes/1024';
      const originPort = Number(new URL(origin).port);
      const [edgePort, innerPort] = [await freePort(), await freePort()];
      const inner = await haproxy(dir, 'haproxy-inner', innerPort, `127.0.0.1:${originPort}`);
      const edge = await haproxy(dir, 'haproxy-edge', edgePort, `127.0.0.1:${innerPort}`);
      stops.push(async () => {
        await stopChild(edge);
        await stopChild(inner);
      });
      progress('starting overlay back-end and front-end');
      const { url, processes } = await overlay(dir, [origin], FIXED_HIGH_LIMIT);
      stops.push(() => Promise.all(processes.map((p) => p.stop())));

      progress(`wrk: origin directly / HAProxy two-tier / overlay`);
      const [direct, chain, through] = await measurePaths([`${origin}${path}`, `http://127.0.0.1:${edgePort}${path}`, `${url}${path}`], progress);

      progress('64 MiB downloads: direct, HAProxy two-tier, overlay');
      const big = `/bytes/${DOWNLOAD}`;
      const directMBs = await download(`${origin}${big}`);
      const chainMBs = await download(`http://127.0.0.1:${edgePort}${big}`);
      const overlayMBs = await download(`${url}${big}`);

      const results: BenchResult[] = [
        result('1 KiB requests/s', 'req/s', through.rps, 'HAProxy → HAProxy → origin, http-reuse always', chain.rps, 'ratio >= 0.5'),
        result('1 KiB requests/s', 'req/s', through.rps, 'origin directly', direct.rps),
        result('1 KiB p50 latency', 'ms', through.p50, 'HAProxy two-tier', chain.p50),
        result('1 KiB p99 latency', 'ms', through.p99, 'HAProxy two-tier', chain.p99),
        result('1 KiB p50 latency', 'ms', through.p50, 'origin directly', direct.p50),
        result('1 KiB p99 latency', 'ms', through.p99, 'origin directly', direct.p99),
        result('64 MiB download', 'MB/s', overlayMBs, 'HAProxy two-tier', chainMBs),
        result('64 MiB download', 'MB/s', overlayMBs, 'origin directly', directMBs),
      ];
      return results;
    } finally {
      for (const stop of stops.reverse()) await stop().catch(() => {});
      await origins.call('stop').catch(() => {});
      await origins.stop();
      await rm(dir, { recursive: true, force: true });
    }
  },
};
