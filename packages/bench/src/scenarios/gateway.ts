import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { pollUntil, startProcess, type StartedProcess } from '@overlay/common';
import { median, medianOfRounds, result, type BenchResult, type Scenario } from '../harness.js';
import { Peer } from '../measure.js';
import { startNginx } from '../nginx.js';
import { withCpu } from '../proc-cpu.js';
import { freePort, haproxyConfig, overlayCli, requireTool, stopChild, wrk } from '../tools.js';

const run = promisify(execFile);
const ORIGIN_PEER = fileURLToPath(new URL('../peers/origin-peer.js', import.meta.url));
const FLOOR_PEER = fileURLToPath(new URL('../peers/node-floor-peer.js', import.meta.url));
/** The site every gateway-style scenario serves; send it as the Host header. */
export const SITE = 'bench.test';
const KEY = 'gateway-benchmark-key-0123456789';
const WRK_SECONDS = 4;
const WARMUP_SECONDS = 5;
/**
 * A warm-up lasts at least WARMUP_SECONDS and until the path has answered this many requests (at most
 * WARMUP_MAX_SECONDS): on a loaded machine 5 s can be a few thousand requests, too few for the gateways'
 * JIT, and their CPU per request would count unoptimized code.
 */
const WARMUP_REQUESTS = 20_000;
const WARMUP_MAX_SECONDS = 20;
/** Measurement rounds, each path once per round, interleaved: the median round stands, so one noisy moment on this shared machine does not decide a ratio. */
const ROUNDS = 3;
const CONNECTIONS = 64;
/** wrk's per-request timeout, s: a cold path on a loaded shared machine can take longer than wrk's 2 s. */
const WRK_TIMEOUT_SECONDS = 10;
const DOWNLOAD = 64 * 1024 * 1024;
const SMALL = '/bytes/1024';
const BIG = `/bytes/${DOWNLOAD}`;

/** A process on a path whose CPU time is counted. */
interface Hop {
  name: string;
  pid: number;
}

/** Figures of one measured run: rates and latencies, and `cpu <hop>` µs per request (or per download) for each hop. */
type Figures = Record<string, number>;

/** One wrk run on `url`, with the CPU each hop spent per request. */
async function wrkRun(url: string, hops: readonly Hop[], seconds: number): Promise<Figures> {
  const { value, cpuMicros } = await withCpu(hops.map((hop) => hop.pid), () => wrk(url, { connections: CONNECTIONS, seconds, host: SITE, timeoutSeconds: WRK_TIMEOUT_SECONDS }));
  const figures: Figures = { rps: value.rps, p50: value.p50, p99: value.p99 };
  hops.forEach((hop, i) => { figures[`cpu ${hop.name}`] = cpuMicros[i] / value.requests; });
  return figures;
}

/** Runs `once` (seconds → requests answered) until the warm-up has lasted long enough and served enough. */
async function warmUp(once: (seconds: number) => Promise<number>): Promise<void> {
  let [seconds, answered] = [0, 0];
  while (seconds < WARMUP_MAX_SECONDS && (seconds < WARMUP_SECONDS || answered < WARMUP_REQUESTS)) {
    const step = seconds === 0 ? WARMUP_SECONDS : 2;
    answered += await once(step);
    seconds += step;
  }
}

/** One 64 MiB download with curl: MB/s and the CPU ms each hop spent on it. */
async function downloadRun(url: string, hops: readonly Hop[]): Promise<Figures> {
  const fetchOnce = () => run('curl', ['-s', '-o', '/dev/null', '-H', `Host: ${SITE}`, '-w', '%{speed_download} %{size_download}', url]);
  const { value: { stdout }, cpuMicros } = await withCpu(hops.map((hop) => hop.pid), fetchOnce);
  const [speed, size] = stdout.trim().split(' ').map(Number);
  if (size !== DOWNLOAD) throw new Error(`download from ${url} got ${size} bytes`);
  const figures: Figures = { mbs: speed / 1e6 };
  hops.forEach((hop, i) => { figures[`cpu ${hop.name}`] = cpuMicros[i] / 1000; });
  return figures;
}

/** The three ways to an origin: directly, through HAProxy's two tiers, and through the overlay. */
interface PathSet {
  /** How results name the origin, e.g. "nginx origin". */
  origin: string;
  direct: { url: string; hops: Hop[] };
  chain: { url: string; hops: Hop[] };
  overlay: { url: string; hops: Hop[] };
}

/** HAProxy → HAProxy → origin and front-end → tunnel → back-end → origin, both in front of `origin`. */
async function pathSet(dir: string, name: string, origin: string, originPid: number, stops: Array<() => Promise<unknown>>): Promise<PathSet> {
  const setDir = join(dir, name);
  await mkdir(setDir);
  const [edgePort, innerPort] = [await freePort(), await freePort()];
  const inner = await haproxy(setDir, 'haproxy-inner', innerPort, new URL(origin).host);
  stops.push(() => stopChild(inner));
  const edge = await haproxy(setDir, 'haproxy-edge', edgePort, `127.0.0.1:${innerPort}`);
  stops.push(() => stopChild(edge));
  const gateways = await overlay(setDir, [origin], FIXED_HIGH_LIMIT);
  stops.push(() => Promise.all(gateways.processes.map((p) => p.stop())));
  const [frontEnd, backEnd] = gateways.processes.map((p) => p.child.pid!);
  const originHop = { name: 'origin', pid: originPid };
  return {
    origin: name === 'nginx' ? 'nginx origin' : 'Node demo origin',
    direct: { url: origin, hops: [originHop] },
    chain: { url: `http://127.0.0.1:${edgePort}`, hops: [{ name: 'edge', pid: edge.pid! }, { name: 'inner', pid: inner.pid! }, originHop] },
    overlay: { url: gateways.url, hops: [{ name: 'edge', pid: frontEnd }, { name: 'inner', pid: backEnd }, originHop] },
  };
}

/** Results for one origin: the overlay against HAProxy two-tier and the origin directly; targets on the nginx rows. */
function setResults(set: PathSet, load: Figures[], big: Figures[], targets: boolean): BenchResult[] {
  const [direct, chain, through] = load;
  const [directBig, chainBig, throughBig] = big;
  const at = (metric: string) => `${metric} (${set.origin})`;
  const target = (text: string) => (targets ? text : undefined);
  const gateways = (figures: Figures) => figures['cpu edge'] + figures['cpu inner'];
  return [
    result(at('1 KiB requests/s'), 'req/s', through.rps, 'HAProxy → HAProxy → origin, http-reuse always', chain.rps, target('ratio >= 0.8')),
    result(at('1 KiB requests/s'), 'req/s', through.rps, 'origin directly', direct.rps),
    result(at('1 KiB p50 latency'), 'ms', through.p50, 'HAProxy two-tier', chain.p50, target('ratio <= 1.3')),
    result(at('1 KiB p99 latency'), 'ms', through.p99, 'HAProxy two-tier', chain.p99),
    result(at('1 KiB p50 latency'), 'ms', through.p50, 'origin directly', direct.p50),
    result(at('CPU per 1 KiB request, both gateways'), 'µs', gateways(through), 'HAProxy edge + inner', gateways(chain), target('value <= 70')),
    result(at('CPU per 1 KiB request, front-end'), 'µs', through['cpu edge'], 'HAProxy edge', chain['cpu edge']),
    result(at('CPU per 1 KiB request, back-end'), 'µs', through['cpu inner'], 'HAProxy inner', chain['cpu inner']),
    result(at('CPU per 1 KiB request, origin behind the overlay'), 'µs', through['cpu origin'], 'origin with wrk directly', direct['cpu origin']),
    result(at('64 MiB download'), 'MB/s', throughBig.mbs, 'HAProxy two-tier', chainBig.mbs, target('ratio >= 0.9')),
    result(at('64 MiB download'), 'MB/s', throughBig.mbs, 'origin directly', directBig.mbs),
    result(at('CPU per 64 MiB download, both gateways'), 'ms', gateways(throughBig), 'HAProxy edge + inner', gateways(chainBig)),
  ];
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
  description: `1 KiB requests/s, p50/p99 and CPU µs per request of every process (wrk -t1 -c${CONNECTIONS}, a warm-up per path of ${WARMUP_SECONDS}–${WARMUP_MAX_SECONDS} s and at least ${WARMUP_REQUESTS} requests where the time allows, then the median of ${ROUNDS} interleaved ${WRK_SECONDS} s rounds) and 64 MiB downloads (curl, median of ${ROUNDS} interleaved): nginx (one process) and the Node demo origin, each directly, through HAProxy → HAProxy (http-reuse always) and through overlay front-end → tunnel → back-end; Node's floors (bare node:http server, undici Pool client) beside them`,
  async run(progress) {
    for (const [command, pkg] of [['wrk', 'wrk'], ['haproxy', 'haproxy'], ['curl', 'curl'], ['nginx', 'nginx-light']]) await requireTool(command, pkg);
    const dir = await mkdtemp(join(tmpdir(), 'overlay-bench-gateway-'));
    const stops: Array<() => Promise<unknown>> = [];
    try {
      const nginx = await startNginx(dir, { [SMALL]: 1024, [BIG]: DOWNLOAD });
      stops.push(() => stopChild(nginx.child));
      const origins = await Peer.start(ORIGIN_PEER);
      stops.push(async () => {
        await origins.call('stop').catch(() => {});
        await origins.stop();
      });
      const demo = await origins.call<string>('start', { id: 'origin-1' });
      const floorServer = await Peer.start(FLOOR_PEER);
      const floorClient = await Peer.start(FLOOR_PEER);
      stops.push(() => floorServer.stop(), () => floorClient.stop());
      const bare = await floorServer.call<string>('serve');
      progress('starting HAProxy pairs and overlay gateways in front of nginx and the Node demo origin');
      const sets = [
        await pathSet(dir, 'nginx', nginx.url, nginx.pid, stops),
        await pathSet(dir, 'node', demo, origins.child.pid!, stops),
      ];

      const wrkPath = (url: string, hops: Hop[]) => async (phase: 'warm-up' | 'round'): Promise<Figures> => {
        if (phase === 'round') return wrkRun(url, hops, WRK_SECONDS);
        await warmUp(async (seconds) => (await wrk(url, { connections: CONNECTIONS, seconds, host: SITE, timeoutSeconds: WRK_TIMEOUT_SECONDS })).requests);
        return {};
      };
      const wrkPaths = sets.flatMap((set) => [set.direct, set.chain, set.overlay]).map(({ url, hops }) => wrkPath(`${url}${SMALL}`, hops));
      const bareServer = wrkPath(`${bare}${SMALL}`, [{ name: 'server', pid: floorServer.child.pid! }]);
      const undiciLoad = (seconds: number) => floorClient.call<number>('load', { url: nginx.url, path: SMALL, host: SITE, connections: CONNECTIONS, seconds });
      const undiciClient = async (phase: 'warm-up' | 'round'): Promise<Figures> => {
        if (phase === 'warm-up') {
          await warmUp(undiciLoad);
          return {};
        }
        const { value: answered, cpuMicros } = await withCpu([floorClient.child.pid!], () => undiciLoad(WRK_SECONDS));
        return { rps: answered / WRK_SECONDS, 'cpu client': cpuMicros[0] / answered };
      };
      progress('wrk, each round: nginx direct / HAProxy / overlay, demo origin direct / HAProxy / overlay, bare node:http; then an undici Pool client on nginx');
      const loads = await medianOfRounds([...wrkPaths, bareServer, undiciClient], ROUNDS, (round, figures) =>
        progress(`round ${round}/${ROUNDS}: ${figures.map((f) => Math.round(f.rps)).join(' / ')} req/s`));

      progress('64 MiB downloads, each round: direct, HAProxy two-tier, overlay, for each origin');
      const bigRuns = sets.flatMap((set) => [set.direct, set.chain, set.overlay]).map(({ url, hops }) => () => downloadRun(`${url}${BIG}`, hops));
      const seen: Figures[][] = bigRuns.map(() => []);
      for (let round = 1; round <= ROUNDS; round++) {
        for (const [i, once] of bigRuns.entries()) seen[i].push(await once());
        progress(`download round ${round}/${ROUNDS}: ${seen.map((runs) => Math.round(runs[round - 1].mbs)).join(' / ')} MB/s`);
      }
      const big = seen.map((runs) => Object.fromEntries(Object.keys(runs[0]).map((key) => [key, median(runs.map((r) => r[key]))])));

      const [floorBare, floorUndici] = loads.slice(6);
      const nginxOverlay = loads[2];
      return [
        ...setResults(sets[0], loads.slice(0, 3), big.slice(0, 3), true),
        ...setResults(sets[1], loads.slice(3, 6), big.slice(3, 6), false),
        result('CPU per 1 KiB request: front-end (nginx origin)', 'µs', nginxOverlay['cpu edge'], 'Node floor: bare node:http server', floorBare['cpu server']),
        result('CPU per 1 KiB request: back-end (nginx origin)', 'µs', nginxOverlay['cpu inner'], 'Node floor: undici Pool client', floorUndici['cpu client']),
        result('1 KiB requests/s: bare node:http server', 'req/s', floorBare.rps, 'nginx directly', loads[0].rps),
        result('1 KiB requests/s: undici Pool client on nginx', 'req/s', floorUndici.rps, 'wrk on nginx', loads[0].rps),
      ];
    } finally {
      for (const stop of stops.reverse()) await stop().catch(() => {});
      await rm(dir, { recursive: true, force: true });
    }
  },
};
