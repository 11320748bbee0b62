import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { result, type Chart, type Scenario, type ScenarioOutput, type Series } from '../harness.js';
import { Peer } from '../measure.js';
import { freePort, requireTool } from '../tools.js';
import { establishedAt, latency, LOAD_CONNECTIONS, LOAD_SECONDS, warm, type Latency } from './scale-load.js';
import { footprint, measuredPeer, metric, openFileLimit, SITE, startGateways, startHaproxy, type Footprint, type Measured } from './scale-processes.js';

const ORIGIN_PEER = fileURLToPath(new URL('../peers/origin-peer.js', import.meta.url));
const CLIENT_PEER = fileURLToPath(new URL('../peers/held-connections-peer.js', import.meta.url));
const BASELINE_PEER = fileURLToPath(new URL('../peers/scale-baseline-peer.js', import.meta.url));
const CONNECTIONS = 10_000;
/**
 * Connections opened at once. Each one's first exchange counts as queued work at the front-end until
 * answered; the default admission threshold (256 queued) would refuse part of a bigger batch as overload,
 * which is admission doing its job, not what this scenario measures.
 */
const BATCH = 250;
/** Progress is shown every this many open connections, and memory read every `CURVE_EVERY` for the charts. */
const PROGRESS_EVERY = 2_500;
const CURVE_EVERY = 5_000;
/** wrk warm-up of a fresh process, s: the gateways' JIT needs longer than a bare server's to settle. */
const WARM_GATEWAYS_SECONDS = 2;
const WARM_BASELINE_SECONDS = 1;
/** Quiet time after the last batch, so the memory read is of idle connections. */
const IDLE_MS = 1_000;
const PING_TIMEOUT_MS = 10_000;
/** Origin connection cap: 10,000 WebSockets plus the gateways' and HAProxy's pooled connections. */
const ORIGIN_MAX_CONNECTIONS = 30_000;
/** Descriptors a process needs besides the connections it holds (listeners, pools, tunnel, HAProxy's own). */
const SPARE_FILES = 400;
/** HAProxy's `maxconn` above the connections held: room for its server-side connections and wrk's. */
const HAPROXY_SPARE_CONNECTIONS = 100;

type Kind = 'http' | 'ws';
const TARGET_PATH: Record<Kind, string> = { http: '/bytes/1024', ws: '/ws' };

interface Phase {
  label: string;
  kind: Kind;
  /** Where the client connects. */
  port: number;
  /** Connections held; growth is reported per connection. */
  count: number;
  /** The processes whose growth is measured. */
  measured: Measured[];
}

interface Held {
  /** Growth per held connection, bytes, by process name. */
  perConnection: Map<string, Footprint>;
  /** Heap + external growth (MB) against connections open, one series per Node process. */
  curves: Series[];
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Opens `phase.count` idle connections in batches, reading memory before, along the way and after. */
async function hold(client: Peer, phase: Phase, progress: (line: string) => void): Promise<Held> {
  const before = await Promise.all(phase.measured.map(footprint));
  const charted = phase.measured.map((m, i) => ({ m, i })).filter(({ m }) => m.heap);
  const curves: Series[] = charted.map(({ m }) => ({ name: `${m.name} (${phase.label})`, points: [[0, 0]] }));
  let open = 0;
  while (open < phase.count) {
    const batch = await client.call<{ opened: number; failed: number; error?: string }>('open', { port: phase.port, host: SITE, path: TARGET_PATH[phase.kind], kind: phase.kind, count: BATCH });
    if (batch.failed) throw new Error(`${phase.label}: ${batch.failed} of ${BATCH} connections failed with ${open} open (first: ${batch.error})`);
    open += batch.opened;
    if (open % CURVE_EVERY === 0 && open < phase.count) {
      for (const [k, { m, i }] of charted.entries()) curves[k].points.push([open, ((await m.heap!()) - before[i].heap) / 1e6]);
    }
    if (open % PROGRESS_EVERY === 0) progress(`${phase.label}: ${open}/${phase.count} open`);
  }
  await sleep(IDLE_MS);
  const after = await Promise.all(phase.measured.map(footprint));
  for (const [k, { i }] of charted.entries()) curves[k].points.push([open, (after[i].heap - before[i].heap) / 1e6]);
  const perConnection = new Map(phase.measured.map((m, i) => [m.name, {
    heap: (after[i].heap - before[i].heap) / phase.count,
    rss: (after[i].rss - before[i].rss) / phase.count,
  }]));
  for (const [name, f] of perConnection) {
    const heap = Number.isNaN(f.heap) ? '' : `${Math.round(f.heap)} B heap+external, `;
    progress(`${phase.label}: ${name} grew ${heap}${Math.round(f.rss)} B RSS per connection`);
  }
  return { perConnection, curves };
}

/** Every connection still open on both sides; WebSockets each answer a ping through the whole path. */
async function verify(client: Peer, phase: Phase, progress: (line: string) => void): Promise<void> {
  const status = await client.call<{ held: number; closedByPeer: number }>('status');
  const server = await establishedAt(phase.port);
  if (status.held !== phase.count || server < phase.count) {
    throw new Error(`${phase.label}: client holds ${status.held} (${status.closedByPeer} closed by the server), server side has ${server} established; expected ${phase.count}`);
  }
  let pings = '';
  if (phase.kind === 'ws') {
    const { asked, answered } = await client.call<{ asked: number; answered: number }>('ping', { timeoutMs: PING_TIMEOUT_MS });
    if (answered !== asked) throw new Error(`${phase.label}: ${answered} of ${asked} WebSockets answered a ping within ${PING_TIMEOUT_MS} ms`);
    pings = `, ${answered} answered a ping`;
  }
  progress(`${phase.label}: verified ${status.held} open on the client, ${server} established at the server${pings}`);
}

async function closeAll(client: Peer): Promise<void> {
  await client.call('close');
}

/** Starts a Peer that the caller's cleanup stops. */
async function startPeer(module: string, stops: Array<() => Promise<unknown>>): Promise<Peer> {
  const peer = await Peer.start(module);
  stops.push(() => peer.stop());
  return peer;
}

function describe(label: string, l: Latency): string {
  return `${label}: p50 ${l.p50} ms, p99 ${l.p99} ms, ${Math.round(l.rps)} req/s, ${l.cpuMsPerRequest.toFixed(2)} gateway CPU ms/request`;
}

/** What every phase shares. */
interface Context {
  client: Peer;
  dir: string;
  origin: string;
  originPort: number;
  /** Connections a relay can hold here: it spends two descriptors on each. */
  pairs: number;
  progress: (line: string) => void;
}

/** Runs one phase with its own processes, stopped after it (RSS never shrinks back, so nothing is reused). */
async function scoped<T>(context: Context, body: (scope: Array<() => Promise<unknown>>) => Promise<T>): Promise<T> {
  const scope: Array<() => Promise<unknown>> = [];
  try {
    return await body(scope);
  } finally {
    await closeAll(context.client).catch(() => {});
    for (const stop of scope.reverse()) await stop().catch(() => {});
  }
}

/** Front-end and back-end: 1 KiB latency without, then with, `CONNECTIONS` idle connections or streams. */
function overlayPhase(context: Context, kind: Kind, label: string): Promise<{ held: Held; quiet: Latency; busy: Latency }> {
  return scoped(context, async (scope) => {
    context.progress(`${label}: starting back-end and front-end`);
    const gateways = await startGateways(context.dir, context.origin);
    scope.push(() => gateways.stop());
    await warm(gateways.url, WARM_GATEWAYS_SECONDS);
    const pids = [gateways.frontEnd.pid, gateways.backEnd.pid];
    const quiet = await latency(gateways.url, pids);
    context.progress(describe(`${label}: none open`, quiet));
    const measured = kind === 'http' ? [gateways.frontEnd] : [gateways.frontEnd, gateways.backEnd];
    const phase: Phase = { label, kind, port: gateways.port, count: CONNECTIONS, measured };
    const held = await hold(context.client, phase, context.progress);
    const busy = await latency(gateways.url, pids);
    context.progress(describe(`${label}: ${CONNECTIONS} open`, busy));
    await verify(context.client, phase, context.progress);
    if (kind === 'ws') {
      // Every WebSocket is a live raw stream at the front-end, not just a socket someone forgot to close.
      const rawStreams = await metric(gateways.admin, 'overlay_frontend_backend_held_streams');
      if (rawStreams < CONNECTIONS) throw new Error(`${label}: front-end holds ${rawStreams} raw streams, expected ${CONNECTIONS}`);
    }
    return { held, quiet, busy };
  });
}

/** A baseline in a fresh Node process (scale-baseline-peer): `command` starts its server. */
function nodePhase(context: Context, kind: Kind, label: string, count: number, command: string, args: Record<string, unknown>): Promise<Held> {
  return scoped(context, async (scope) => {
    const peer = await startPeer(BASELINE_PEER, scope);
    const port = await peer.call<number>(command, args);
    await warm(`http://127.0.0.1:${port}`, WARM_BASELINE_SECONDS);
    const phase: Phase = { label, kind, port, count, measured: [measuredPeer(label, peer)] };
    const held = await hold(context.client, phase, context.progress);
    await verify(context.client, phase, context.progress);
    return held;
  });
}

/** HAProxy in front of the same origin, fresh for each phase. */
function haproxyPhase(context: Context, kind: Kind, label: string): Promise<Held> {
  return scoped(context, async (scope) => {
    const proxy = await startHaproxy(context.dir, await freePort(), context.originPort, context.pairs + HAPROXY_SPARE_CONNECTIONS);
    scope.push(() => proxy.stop());
    const phase: Phase = { label, kind, port: proxy.port, count: context.pairs, measured: [proxy.measured] };
    const held = await hold(context.client, phase, context.progress);
    await verify(context.client, phase, context.progress);
    return held;
  });
}

async function measure(context: Context): Promise<ScenarioOutput> {
  const idle = await overlayPhase(context, 'http', 'idle HTTP via front-end');
  const direct = await nodePhase(context, 'http', 'node:http directly', CONNECTIONS, 'origin', { maxConnections: ORIGIN_MAX_CONNECTIONS });
  const haproxyIdle = await haproxyPhase(context, 'http', 'idle HTTP via HAProxy');
  const streams = await overlayPhase(context, 'ws', 'WebSockets via tunnel');
  const relay = await nodePhase(context, 'ws', 'Node TCP relay', context.pairs, 'relay', { targetPort: context.originPort });
  const haproxyWs = await haproxyPhase(context, 'ws', 'WebSockets via HAProxy');

  const fe = idle.held.perConnection.get('front-end')!;
  const nodeHttp = direct.perConnection.get('node:http directly')!;
  const haproxyHttp = haproxyIdle.perConnection.get('HAProxy')!;
  const feWs = streams.held.perConnection.get('front-end')!;
  const beWs = streams.held.perConnection.get('back-end')!;
  const relayWs = relay.perConnection.get('Node TCP relay')!;
  const haproxyTunnel = haproxyWs.perConnection.get('HAProxy')!;
  const n = CONNECTIONS.toLocaleString('en-US');
  const m = context.pairs.toLocaleString('en-US');
  const nodeDirect = `demo origin (plain node:http) holding ${n} idle keep-alive connections directly`;
  const nodeRelay = `plain Node TCP relay holding ${m} WebSockets (two sockets each)`;
  const results = [
    result('memory per idle client connection, front-end (heap + external)', 'bytes', fe.heap, nodeDirect, nodeHttp.heap),
    result('RSS per idle client connection, front-end', 'bytes', fe.rss, nodeDirect, nodeHttp.rss),
    result('RSS per idle client connection, front-end', 'bytes', fe.rss, `HAProxy (1 thread) holding ${m} idle keep-alive connections`, haproxyHttp.rss),
    result('memory per WebSocket stream, front-end (heap + external)', 'bytes', feWs.heap, nodeRelay, relayWs.heap, 'value <= 4096'),
    result('memory per WebSocket stream, back-end (heap + external)', 'bytes', beWs.heap, nodeRelay, relayWs.heap, 'value <= 4096'),
    result('RSS per WebSocket stream, front-end + back-end', 'bytes', feWs.rss + beWs.rss, nodeRelay, relayWs.rss),
    result('RSS per WebSocket stream, front-end + back-end', 'bytes', feWs.rss + beWs.rss, `HAProxy (1 thread) relaying ${m} WebSockets`, haproxyTunnel.rss),
    result(`1 KiB p50, ${n} idle client connections open`, 'ms', idle.busy.p50, 'same front-end, none open', idle.quiet.p50),
    result(`1 KiB p99, ${n} idle client connections open`, 'ms', idle.busy.p99, 'same front-end, none open', idle.quiet.p99),
    result(`1 KiB p50, ${n} WebSocket streams open`, 'ms', streams.busy.p50, 'same gateways, none open', streams.quiet.p50),
    result(`1 KiB p99, ${n} WebSocket streams open`, 'ms', streams.busy.p99, 'same gateways, none open', streams.quiet.p99),
    result(`gateway CPU per 1 KiB request, ${n} idle client connections open`, 'ms', idle.busy.cpuMsPerRequest, 'same gateways, none open', idle.quiet.cpuMsPerRequest),
    result(`gateway CPU per 1 KiB request, ${n} WebSocket streams open`, 'ms', streams.busy.cpuMsPerRequest, 'same gateways, none open', streams.quiet.cpuMsPerRequest),
  ];
  const charts: Chart[] = [
    { title: 'Idle client connections: heap + external growth', x: 'connections open', y: 'MB', series: [...idle.held.curves, ...direct.curves] },
    { title: 'WebSocket streams: heap + external growth', x: 'streams open', y: 'MB', series: [...streams.held.curves, ...relay.curves] },
  ];
  return { results, charts };
}

export const scaleScenario: Scenario = {
  name: 'scale',
  description: `${CONNECTIONS} idle client connections through one front-end and ${CONNECTIONS} WebSocket streams in one tunnel: memory per connection/stream (vs node:http, a Node TCP relay and HAProxy holding the same), and 1 KiB p50/p99 and gateway CPU per request (wrk, ${LOAD_CONNECTIONS} connections, ${LOAD_SECONDS} s) with and without them`,
  async run(progress) {
    await requireTool('wrk', 'wrk');
    await requireTool('haproxy', 'haproxy');
    await requireTool('ss', 'iproute2');
    const files = await openFileLimit();
    if (files < CONNECTIONS + SPARE_FILES) throw new Error(`open-file limit ${files} is below ${CONNECTIONS + SPARE_FILES}: raise it (ulimit -n)`);
    const pairs = Math.min(CONNECTIONS, Math.floor((files - SPARE_FILES) / 2 / BATCH) * BATCH);
    const dir = await mkdtemp(join(tmpdir(), 'overlay-bench-scale-'));
    const stops: Array<() => Promise<unknown>> = [];
    try {
      const origins = await startPeer(ORIGIN_PEER, stops);
      const client = await startPeer(CLIENT_PEER, stops);
      const origin = await origins.call<string>('start', { id: 'origin-1', options: { maxConnections: ORIGIN_MAX_CONNECTIONS } });
      return await measure({ client, dir, origin, originPort: Number(new URL(origin).port), pairs, progress });
    } finally {
      for (const stop of stops.reverse()) await stop().catch(() => {});
      await rm(dir, { recursive: true, force: true });
    }
  },
};
