import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pollUntil, type StartedProcess } from '@overlay/common';
import { startLab, type Lab, type LabOptions, type LinkCounters } from '@overlay/lab';
import { result, round, type BenchResult, type Chart, type Scenario } from '../harness.js';
import { overlayCli } from '../tools.js';
import type { LoadClass, LoadPlan } from './priority-load.js';
import { backEndRingBytes, runLoad, runShares, tunnelConnections, tunnelSockets, waitForDrain, type SocketSample } from './priority-probes.js';

const ORIGIN_SCRIPT = fileURLToPath(new URL('./priority-origin.js', import.meta.url));
const KEY = 'priority-benchmark-key-0123456789';
/** A long leg of 40 ms round trip, capped low enough that the link, not the 2 cores, is the bottleneck. */
const LAB: LabOptions = { delayMs: 20, rateMbit: 20, near: ['client', 'pop-a'], far: ['back-end', 'origin-1'] };
/** Sites on the same front-end, tunnel and back-end: one with priority rules, one where every request gets 2. */
const PRIORITIZED = 'prio.bench.test';
const EQUAL = 'equal.bench.test';
const CLASS_HEADER = 'x-bench-class';
/** Ring weights set on the back-end (the defaults, written out so the expected shares are known here). */
const WEIGHTS = [16384, 8192, 4096, 2048, 1024];
/** Two saturating bulk classes on different rings, for the byte shares; the probe on the top ring. */
const BULK: Array<LoadClass & { streams: number }> = [
  { name: 'bulk-a', priority: 3, streams: 12 },
  { name: 'bulk-b', priority: 4, streams: 12 },
];
const PROBE = { name: 'interactive', priority: 0, path: '/bytes/16384', bytes: 16_384 };
/** Never finishes within a run at the capped rate, so every bulk stream stays backlogged. */
const BULK_PATH = '/bytes/1073741824';
const IDLE_MS = 8_000;
/** Bulk load runs this long before a loaded window is measured: queues and congestion windows settle. */
const WARMUP_MS = 2_500;
const LOADED_MS = 9_000;
/**
 * The unloaded window, then the loaded ones as A B B A, so a burst of noise from elsewhere on the machine
 * hits both alike; last, one prioritized window with the kernel's default send buffer, to show why the
 * setting below is required.
 */
const ORDER: Mode[] = ['no load', 'prioritized', 'all priorities equal', 'all priorities equal', 'prioritized', 'prioritized, kernel default'];
/**
 * Deployment requirement, applied to the gateways' hosts for every window alike (but the last): unsent
 * bytes a TCP socket may hold, bytes. Without it the tunnel socket's autotuned send buffer holds
 * megabytes, scheduled long before, ahead of any new high-priority byte. Per network namespace.
 */
const NOTSENT_LOWAT = 16_384;
/** The kernel's default: no limit but the send buffer. */
const NOTSENT_LOWAT_DEFAULT = 4_294_967_295;

/**
 * The share test: one priority-0 and one priority-3 download alone, the tunnel on 1, 2 and 4 connections
 * (a burst of short requests beforehand makes it stripe, 64 streams per connection), shares over the
 * first 5 s and from 20 s to 25 s.
 */
const SHARE_CLASSES = [PROBE.name, BULK[0].name];
/**
 * Bursts of small requests that make the tunnel stripe (64 streams per connection): 4 connections need more
 * than 192 streams open at once. At most 250: the front-end holds 256 connections per client address
 * before their first request (http.maxHeadConnectionsPerSource), and the burst comes from one address.
 */
const SHARE_CONNECTIONS = [{ connections: 1, burst: 0 }, { connections: 2, burst: 100 }, { connections: 4, burst: 250 }];
const SHARE_MARKS_MS = [5_000, 20_000, 25_000];
/** Share runs per connection count before the figures are reported on the count the tunnel really used. */
const SHARE_ATTEMPTS = 3;

/**
 * The competing-flow test: N downloads through the tunnel beside one plain TCP download straight from the
 * origin over the same long leg; the tunnel's share of the bytes from 5 s to 15 s, against seed 001's
 * fair share per hosted connection, N / (N + 1).
 */
const COMPETING_STREAMS = [1, 8];
const COMPETING_MARKS_MS = [5_000, 15_000];
/** The loss test's lab (the same leg with random loss) and its downloads. */
const LOSSY_LAB: LabOptions = { ...LAB, lossPct: 1 };
const LOSSY_DOWNLOADS = 50;
/**
 * Kernel congestion control of the plain TCP baselines' sender (origin-1, straight to the client): the
 * hosts' default (BBR on this machine, which ignores random loss and does not yield to a queue) and
 * Cubic, the loss-based TCP most of the Internet runs. The tunnel's own connections keep the back-end's
 * default in both.
 */
const BASELINE_TCP = ['host default', 'cubic'] as const;
type BaselineTcp = (typeof BASELINE_TCP)[number];

/**
 * Parts of the scenario to run, from OVERLAY_BENCH_PRIORITY (comma-separated; all when unset), so that one
 * part can be measured again without the others' ten minutes; OVERLAY_BENCH_PRIORITY_CLI runs the
 * gateways from another build (a baseline checkout) for back-to-back comparisons.
 */
const PARTS = ['shares', 'latency', 'competing', 'loss'] as const;
type Part = (typeof PARTS)[number];

function chosenParts(value = process.env.OVERLAY_BENCH_PRIORITY): Set<Part> {
  if (!value) return new Set(PARTS);
  const names = value.split(',').map((name) => name.trim()).filter(Boolean);
  const unknown = names.filter((name) => !(PARTS as readonly string[]).includes(name));
  if (unknown.length || names.length === 0) throw new Error(`OVERLAY_BENCH_PRIORITY: unknown part ${unknown.join(', ')}; known: ${PARTS.join(', ')}`);
  return new Set(names as Part[]);
}

function gatewayCli(): string {
  return process.env.OVERLAY_BENCH_PRIORITY_CLI || overlayCli();
}

/** The load's conditions: probes alone; probes beside bulk downloads, prioritized or all at priority 2. */
type Mode = 'no load' | 'prioritized' | 'all priorities equal' | 'prioritized, kernel default';

/** What one or more measured windows of a mode gave, summed. */
interface Measured {
  probesMs: number[];
  /** Body bytes the clients received, bulk and probes. */
  bytes: number;
  ringBytes: number[];
  seconds: number;
  drops: number;
  retransmits: number;
}

/** What the back-end and the long leg had done at one instant. */
interface Snapshot { ringBytes: number[]; sockets: SocketSample[]; link: LinkCounters }

interface Gateways { url: string; tunnel: string; admin: string; frontEndAdmin: string }

interface Latency { p50: number; p99: number; samples: number[] }

function latency(samples: number[]): Latency {
  if (samples.length === 0) throw new Error('no probe completed');
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (p: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
  return { p50: at(50), p99: at(99), samples: sorted };
}

/** Cumulative share of probes (%) finished within each latency, thinned to at most `points` points. */
function cdf(name: string, sorted: number[], points = 60): Chart['series'][number] {
  const step = Math.max(1, Math.floor(sorted.length / points));
  const series: Array<[number, number]> = [];
  for (let i = 0; i < sorted.length; i += step) series.push([round(sorted[i]), round(((i + 1) / sorted.length) * 100)]);
  series.push([round(sorted[sorted.length - 1]), 100]);
  return { name, points: series };
}

function describeSockets(sockets: SocketSample[]): string {
  return sockets.map((s) => `send-q ${Math.round(s.sendQueue / 1024)} KiB (not sent ${Math.round(s.notSent / 1024)} KiB), sndbuf ${Math.round(s.sendBuffer / 1024)} KiB, cwnd ${s.cwnd}, rtt ${s.rttMs} ms`).join('; ');
}

function address(ready: Record<string, unknown>, field: string): string {
  const value = ready[field];
  if (typeof value !== 'string') throw new Error(`ready line has no ${field}: ${JSON.stringify(ready)}`);
  return value;
}

async function startGateways(lab: Lab, dir: string, originUrl: string): Promise<Gateways & { processes: StartedProcess[] }> {
  const origins = [{ url: originUrl, id: 'origin-1' }];
  const backEndConfig = join(dir, 'back-end.json');
  await writeFile(backEndConfig, JSON.stringify({
    id: 'be-bench',
    tunnel: { listen: `${lab.host('back-end').address}:0`, keys: [KEY] },
    admin: '127.0.0.1:0',
    state: {
      sites: { prio: { origins }, equal: { origins } },
      // A bulk download holds its origin slot for its whole (throttled) body: a low fixed limit would queue
      // the probes behind the downloads in the back-end's FIFO origin queue, which knows no priorities.
      limits: { adaptive: false, initial: 256, max: 256 },
      rings: { weights: WEIGHTS },
    },
  }));
  const backEnd = await lab.start('back-end', process.execPath, [gatewayCli(), 'back-end', '--config', backEndConfig]);
  const tunnel = address(backEnd.ready, 'tunnel');
  const frontEndConfig = join(dir, 'front-end.json');
  const rules = [PROBE, ...BULK].map((cls) => ({ match: { header: { name: CLASS_HEADER, value: cls.name } }, priority: cls.priority }));
  await writeFile(frontEndConfig, JSON.stringify({
    id: 'fe-bench',
    pop: 'pop-a',
    http: { listen: `${lab.host('pop-a').address}:0` },
    admin: '127.0.0.1:0',
    // Repeated GETs of one URL would be cache hits: every request must cross the tunnel.
    cache: { enabled: false },
    state: {
      backEnds: { 'be-bench': { tunnel, key: KEY } },
      sites: {
        prio: { domains: [PRIORITIZED], backEnds: ['be-bench'], priorities: { default: 2, rules } },
        equal: { domains: [EQUAL], backEnds: ['be-bench'], priorities: { default: 2, rules: [] } },
      },
      rings: { weights: WEIGHTS },
    },
    // The probes queue behind 24 downloads on a loaded box; the admission gate is not what is measured.
    admission: { threshold: 4_096, maxQueued: 8_192 },
  }));
  const frontEnd = await lab.start('pop-a', process.execPath, [gatewayCli(), 'front-end', '--config', frontEndConfig]);
  const url = `http://${address(frontEnd.ready, 'http')}`;
  // The tunnel comes up right after the ready line; wait for a first answer through it.
  let lastError = '';
  const answers = () => lab.exec('client', 'curl', ['-sf', '-o', '/dev/null', '-H', `Host: ${EQUAL}`, `${url}/healthz`], { timeoutMs: 5_000 }).then(
    () => true,
    (err: Error) => ((lastError = err.message), false),
  );
  if (!(await pollUntil(answers, { timeoutMs: 5_000 }))) throw new Error(`no answer through the overlay at ${url}: ${lastError}`);
  return { url, tunnel, admin: address(backEnd.ready, 'admin'), frontEndAdmin: address(frontEnd.ready, 'admin'), processes: [frontEnd, backEnd] };
}

/** Sets tcp_notsent_lowat on the gateways' hosts; sockets without their own setting follow it at once. */
async function setNotSentLowat(lab: Lab, bytes: number): Promise<void> {
  for (const host of ['back-end', 'pop-a']) await lab.exec(host, 'sysctl', ['-qw', `net.ipv4.tcp_notsent_lowat=${bytes}`]);
}

async function snapshot(lab: Lab, gateways: Gateways): Promise<Snapshot> {
  const port = tunnelPort(gateways);
  const [ringBytes, sockets, link] = await Promise.all([backEndRingBytes(lab, gateways.admin), tunnelSockets(lab, 'back-end', port), lab.linkCounters()]);
  return { ringBytes, sockets, link };
}

function tunnelPort(gateways: Gateways): number {
  return Number(gateways.tunnel.split(':').pop());
}

/** One measured window: the client load for `mode`, bracketed by back-end and long-leg counters. */
async function measure(lab: Lab, gateways: Gateways, mode: Mode, progress: (line: string) => void): Promise<Measured> {
  const loaded = mode !== 'no load';
  await setNotSentLowat(lab, mode === 'prioritized, kernel default' ? NOTSENT_LOWAT_DEFAULT : NOTSENT_LOWAT);
  // On the equal site no rule matches: every class gets the default priority, 2.
  const asApplied = <T extends LoadClass>(cls: T): T => (mode === 'all priorities equal' ? { ...cls, priority: 2 } : cls);
  const plan: LoadPlan = {
    url: gateways.url,
    site: mode === 'all priorities equal' ? EQUAL : PRIORITIZED,
    classHeader: CLASS_HEADER,
    bulk: loaded ? BULK.map(asApplied) : [],
    bulkPath: BULK_PATH,
    probe: asApplied(PROBE),
    warmupMs: loaded ? WARMUP_MS : 500,
    measureMs: loaded ? LOADED_MS : IDLE_MS,
  };
  const snapshots: Partial<Record<'start' | 'end', Snapshot>> = {};
  const load = await runLoad(lab, plan, async (at) => {
    snapshots[at] = await snapshot(lab, gateways);
  });
  if (load.errors.length) throw new Error(`${mode}: ${load.errors.join('; ')}`);
  const { start, end } = snapshots as Record<'start' | 'end', Snapshot>;
  const retransmits = (sockets: SocketSample[]) => sockets.reduce((total, s) => total + s.retransmits, 0);
  const window: Measured = {
    probesMs: load.probesMs,
    bytes: Object.values(load.bulkBytes).reduce((a, b) => a + b, 0) + load.probesMs.length * PROBE.bytes,
    ringBytes: end.ringBytes.map((bytes, ring) => bytes - (start.ringBytes[ring] ?? 0)),
    seconds: plan.measureMs / 1000,
    drops: end.link.farToNear.drops - start.link.farToNear.drops,
    retransmits: retransmits(end.sockets) - retransmits(start.sockets),
  };
  const { p50, p99 } = latency(window.probesMs);
  progress(`${mode}: ${window.probesMs.length} probes, p50 ${p50.toFixed(1)} ms, p99 ${p99.toFixed(1)} ms; ring bytes ${window.ringBytes.join('/')}; `
    + `long leg back-end → front-end dropped ${window.drops} packets, tunnel retransmitted ${window.retransmits} segments`);
  if (loaded) progress(`${mode}: back-end tunnel socket at the start: ${describeSockets(start.sockets)}`);
  // Bytes the kernel still holds for the reset downloads would delay the next window's first probes.
  await waitForDrain(lab, tunnelPort(gateways), 64 * 1024, 10_000);
  return window;
}

function merge(windows: Measured[]): Measured {
  const add = (a: number[], b: number[]) => Array.from({ length: Math.max(a.length, b.length) }, (_, i) => (a[i] ?? 0) + (b[i] ?? 0));
  return windows.reduce((sum, w) => ({
    probesMs: [...sum.probesMs, ...w.probesMs],
    bytes: sum.bytes + w.bytes,
    ringBytes: add(sum.ringBytes, w.ringBytes),
    seconds: sum.seconds + w.seconds,
    drops: sum.drops + w.drops,
    retransmits: sum.retransmits + w.retransmits,
  }));
}

/** The share test at each connection count: priority 0's share of the two downloads' bytes, early and late. */
async function sharesByConnections(lab: Lab, gateways: Gateways, progress: (line: string) => void): Promise<BenchResult[]> {
  const expected = (WEIGHTS[PROBE.priority] / (WEIGHTS[PROBE.priority] + WEIGHTS[BULK[0].priority])) * 100;
  const results: BenchResult[] = [];
  for (const { connections, burst } of SHARE_CONNECTIONS) {
    // How far the burst stripes the tunnel depends on timing, so a run that ends on another count is tried
    // again (up to SHARE_ATTEMPTS), and the figures are named by the count really used.
    let used = 0;
    let shares: Awaited<ReturnType<typeof runShares>> | undefined;
    for (let attempt = 1; attempt <= SHARE_ATTEMPTS && used !== connections; attempt++) {
      if (shares) await waitForDrain(lab, tunnelPort(gateways), 64 * 1024, 10_000);
      shares = await runShares(lab, {
        url: gateways.url, site: PRIORITIZED, classHeader: CLASS_HEADER, burst, burstPath: '/bytes/1',
        classes: SHARE_CLASSES, path: BULK_PATH, marksMs: SHARE_MARKS_MS,
      });
      if (shares.errors.length) throw new Error(`share test on ${connections} connections: ${shares.errors.join('; ')}`);
      used = await tunnelConnections(lab, gateways.frontEndAdmin);
      if (used !== connections) progress(`shares: the burst striped the tunnel over ${used} connections, not ${connections} (attempt ${attempt} of ${SHARE_ATTEMPTS})`);
    }
    const [early, mid, late] = (shares as NonNullable<typeof shares>).marks;
    const share = (bytes: number[]) => (bytes[0] + bytes[1] === 0 ? 0 : (bytes[0] / (bytes[0] + bytes[1])) * 100);
    const steady = late.map((bytes, i) => bytes - mid[i]);
    progress(`shares, tunnel on ${used} connections (wanted ${connections}): priority 0 ${share(early).toFixed(1)} % over the first 5 s, ${share(steady).toFixed(1)} % from 20 s to 25 s; bytes ${late.join('/')}`);
    const label = `${used} connection${used === 1 ? '' : 's'}`;
    results.push(
      result(`priority 0 byte share vs priority 3, ${label}, first 5 s`, '%', share(early), 'configured weight share', expected, 'within 2 %'),
      result(`priority 0 byte share vs priority 3, ${label}, 20-25 s`, '%', share(steady), 'configured weight share', expected, 'within 2 %'),
    );
    await waitForDrain(lab, tunnelPort(gateways), 64 * 1024, 10_000);
  }
  return results;
}

/**
 * Sets the kernel congestion control of the plain TCP baselines' sender (origin-1's default route, which
 * its accepted connections follow); returns the one it runs. A route's congctl, not the sysctl: inside a
 * network namespace the sysctl only takes what the root namespace allows (here reno and bbr).
 */
async function setBaselineTcp(lab: Lab, tcp: BaselineTcp): Promise<string> {
  const { stdout: route } = await lab.exec('origin-1', 'ip', ['route', 'show', 'default']);
  const plain = route.trim().replace(/\s+congctl\s+\S+/, '').split(/\s+/);
  await lab.exec('origin-1', 'ip', ['route', 'replace', ...plain, ...(tcp === 'host default' ? [] : ['congctl', tcp])]);
  if (tcp !== 'host default') return tcp;
  const { stdout } = await lab.exec('origin-1', 'sysctl', ['-n', 'net.ipv4.tcp_congestion_control']);
  return stdout.trim();
}

/** The competing-flow test for each hosted-stream count, beside a plain TCP flow of each baseline kind. */
async function beside(lab: Lab, gateways: Gateways, originUrl: string, progress: (line: string) => void): Promise<BenchResult[]> {
  await setNotSentLowat(lab, NOTSENT_LOWAT);
  const results: BenchResult[] = [];
  for (const tcp of BASELINE_TCP) {
    const algorithm = await setBaselineTcp(lab, tcp);
    for (const streams of COMPETING_STREAMS) {
      const shares = await runShares(lab, {
        url: gateways.url, site: PRIORITIZED, classHeader: CLASS_HEADER, burst: 0, burstPath: '/bytes/1',
        classes: Array.from({ length: streams }, () => BULK[0].name), direct: [`${originUrl}${BULK_PATH}`], path: BULK_PATH, marksMs: COMPETING_MARKS_MS,
      });
      if (shares.errors.length) throw new Error(`competing-flow test with ${streams} streams: ${shares.errors.join('; ')}`);
      const [start, end] = shares.marks;
      const bytes = end.map((total, i) => total - start[i]);
      const direct = bytes.pop() ?? 0;
      const tunnel = bytes.reduce((a, b) => a + b, 0);
      const share = tunnel + direct === 0 ? 0 : (tunnel / (tunnel + direct)) * 100;
      progress(`beside a plain TCP (${algorithm}) download: the tunnel with ${streams} stream(s) took ${share.toFixed(1)} % (${tunnel} against ${direct} bytes from 5 s to 15 s)`);
      const label = `${streams} hosted stream${streams === 1 ? '' : 's'}`;
      results.push(result(`tunnel share beside one competing TCP (${algorithm}) flow, ${label}`, '%', share, 'fair share per hosted connection', (streams / (streams + 1)) * 100));
      await waitForDrain(lab, tunnelPort(gateways), 64 * 1024, 10_000);
    }
  }
  return results;
}

function shareResults(prioritized: Measured): BenchResult[] {
  const weighted = BULK.map((cls) => cls.streams * WEIGHTS[cls.priority]);
  const totalWeight = weighted.reduce((a, b) => a + b, 0);
  const totalBytes = BULK.reduce((sum, cls) => sum + (prioritized.ringBytes[cls.priority] ?? 0), 0);
  return BULK.map((cls, i) => result(
    `ring ${cls.priority} byte share (${cls.streams} saturating streams)`, '%',
    totalBytes === 0 ? 0 : ((prioritized.ringBytes[cls.priority] ?? 0) / totalBytes) * 100,
    'configured weight share', (weighted[i] / totalWeight) * 100,
  ));
}

/** Starts a lab, the origin and the gateways in it, runs `body`, and stops everything again. */
async function inLab<T>(options: LabOptions, dir: string, progress: (line: string) => void, body: (lab: Lab, gateways: Gateways, originUrl: string) => Promise<T>): Promise<T> {
  let lab: Lab | undefined;
  const processes: StartedProcess[] = [];
  try {
    lab = await startLab(options);
    const origin = await lab.start('origin-1', process.execPath, [ORIGIN_SCRIPT, lab.host('origin-1').address]);
    processes.push(origin);
    progress('starting back-end and front-end in the lab');
    const originUrl = address(origin.ready, 'url');
    const gateways = await startGateways(lab, dir, originUrl);
    processes.push(...gateways.processes);
    return await body(lab, gateways, originUrl);
  } finally {
    for (const started of processes.reverse()) await started.stop().catch(() => {});
    await lab?.close();
  }
}

/**
 * Seed 001: one loss must not halve all hosted streams. With random loss on the long leg, the goodput of
 * one tunnel carrying LOSSY_DOWNLOADS downloads, of as many plain TCP downloads, and of one, from 5 s to
 * 15 s; the plain ones once with each baseline congestion control.
 */
async function underLoss(lab: Lab, gateways: Gateways, originUrl: string, progress: (line: string) => void): Promise<BenchResult[]> {
  await setNotSentLowat(lab, NOTSENT_LOWAT);
  const direct = `${originUrl}${BULK_PATH}`;
  const goodput = async (what: string, classes: string[], directs: number): Promise<number> => {
    const shares = await runShares(lab, {
      url: gateways.url, site: PRIORITIZED, classHeader: CLASS_HEADER, burst: 0, burstPath: '/bytes/1',
      classes, direct: Array.from({ length: directs }, () => direct), path: BULK_PATH, marksMs: COMPETING_MARKS_MS,
    });
    if (shares.errors.length) throw new Error(`${what} under loss: ${shares.errors.join('; ')}`);
    const [start, end] = shares.marks;
    const bytes = end.reduce((sum, total, i) => sum + total - start[i], 0);
    const mbit = (bytes * 8) / ((COMPETING_MARKS_MS[1] - COMPETING_MARKS_MS[0]) / 1000) / 1e6;
    progress(`${LOSSY_LAB.lossPct} % loss: ${what} ${mbit.toFixed(2)} Mbit/s`);
    await waitForDrain(lab, tunnelPort(gateways), 64 * 1024, 10_000);
    return mbit;
  };
  const tunnel = await goodput(`one tunnel, ${LOSSY_DOWNLOADS} downloads`, Array.from({ length: LOSSY_DOWNLOADS }, () => BULK[0].name), 0);
  const label = `goodput under ${LOSSY_LAB.lossPct} % loss, one tunnel carrying ${LOSSY_DOWNLOADS} downloads`;
  const results: BenchResult[] = [];
  for (const tcp of BASELINE_TCP) {
    const algorithm = await setBaselineTcp(lab, tcp);
    const separate = await goodput(`${LOSSY_DOWNLOADS} plain TCP (${algorithm}) downloads`, [], LOSSY_DOWNLOADS);
    const single = await goodput(`one plain TCP (${algorithm}) download`, [], 1);
    results.push(
      result(label, 'Mbit/s', tunnel, `${LOSSY_DOWNLOADS} separate TCP (${algorithm}) connections`, separate, 'ratio >= 0.8'),
      result(label, 'Mbit/s', tunnel, `one TCP (${algorithm}) connection`, single, 'ratio >= 2'),
    );
  }
  return results;
}

/** The latency windows (ORDER): probe latency loaded against unloaded and FIFO, ring shares, goodput. */
async function latencyResults(lab: Lab, gateways: Gateways, progress: (line: string) => void): Promise<{ results: BenchResult[]; charts: Chart[] }> {
  const windows: Record<Mode, Measured[]> = { 'no load': [], prioritized: [], 'all priorities equal': [], 'prioritized, kernel default': [] };
  for (const mode of ORDER) windows[mode].push(await measure(lab, gateways, mode, progress));
  const [idle, prioritized, equal, kernelDefault] = (['no load', 'prioritized', 'all priorities equal', 'prioritized, kernel default'] as const).map((mode) => merge(windows[mode]));
  const [idleMs, prioritizedMs, equalMs, kernelDefaultMs] = [idle, prioritized, equal, kernelDefault].map((m) => latency(m.probesMs));
  const goodput = (m: Measured) => (m.bytes * 8) / m.seconds / 1e6;
  const lowat = `tcp_notsent_lowat ${NOTSENT_LOWAT / 1024} KiB`;
  const results: BenchResult[] = [
    result('high-priority p99 under load', 'ms', prioritizedMs.p99, 'FIFO (all priorities equal)', equalMs.p99),
    result('high-priority p99 under load', 'ms', prioritizedMs.p99, 'no load', idleMs.p99, 'ratio <= 1.5'),
    result('high-priority p50 under load', 'ms', prioritizedMs.p50, 'FIFO (all priorities equal)', equalMs.p50),
    result('high-priority p50 under load', 'ms', prioritizedMs.p50, 'no load', idleMs.p50, 'ratio <= 1.2'),
    ...shareResults(prioritized),
    result('high-priority p99 under load, kernel default send buffer', 'ms', kernelDefaultMs.p99, lowat, prioritizedMs.p99),
    result('high-priority p50 under load, kernel default send buffer', 'ms', kernelDefaultMs.p50, lowat, prioritizedMs.p50),
    result('long-leg goodput under load, prioritized', 'Mbit/s', goodput(prioritized), 'long-leg rate', LAB.rateMbit ?? 0, 'ratio >= 0.9'),
    result('long-leg goodput under load, all priorities equal', 'Mbit/s', goodput(equal), 'long-leg rate', LAB.rateMbit ?? 0),
  ];
  const charts: Chart[] = [{
    title: `${PROBE.bytes / 1024} KiB high-priority GETs: latency distribution`,
    x: 'latency (ms)',
    y: 'requests finished (%)',
    series: [
      cdf('no load', idleMs.samples),
      cdf('under load, prioritized', prioritizedMs.samples),
      cdf('under load, all priorities equal', equalMs.samples),
      cdf('under load, prioritized, kernel default send buffer', kernelDefaultMs.samples),
    ],
  }];
  return { results, charts };
}

/** The parts that run on the lossless lab, in order: the share tests first, on a fresh tunnel (one connection). */
async function mainResults(lab: Lab, gateways: Gateways, originUrl: string, parts: Set<Part>, progress: (line: string) => void): Promise<{ results: BenchResult[]; charts: Chart[] }> {
  const results: BenchResult[] = [];
  const charts: Chart[] = [];
  if (parts.has('shares')) results.push(...await sharesByConnections(lab, gateways, progress));
  if (parts.has('latency')) {
    const windows = await latencyResults(lab, gateways, progress);
    results.push(...windows.results);
    charts.push(...windows.charts);
  }
  if (parts.has('competing')) results.push(...await beside(lab, gateways, originUrl, progress));
  return { results, charts };
}

export const priorityScenario: Scenario = {
  name: 'priority',
  description: `${PROBE.bytes / 1024} KiB priority-0 GETs (one keep-alive connection, back to back) while ${BULK.map((c) => `${c.streams} downloads at priority ${c.priority}`).join(' and ')} saturate a ${LAB.rateMbit} Mbit/s, ${2 * (LAB.delayMs ?? 0)} ms RTT long leg: vs no load, vs all priorities equal; byte share per ring vs its weight; the tunnel's share beside a plain TCP download; ${LOSSY_DOWNLOADS} downloads in one tunnel vs ${LOSSY_DOWNLOADS} and 1 TCP connections under ${LOSSY_LAB.lossPct} % loss`,
  async run(progress) {
    const parts = chosenParts();
    const dir = await mkdtemp(join(tmpdir(), 'overlay-bench-priority-'));
    try {
      const lossless = [...parts].some((part) => part !== 'loss');
      const main = !lossless
        ? { results: [], charts: [] }
        : await inLab(LAB, dir, progress, (lab, gateways, originUrl) => mainResults(lab, gateways, originUrl, parts, progress));
      if (!parts.has('loss')) return main;
      progress(`a second lab with ${LOSSY_LAB.lossPct} % random loss on the long leg`);
      const lossy = await inLab(LOSSY_LAB, dir, progress, (lab, gateways, originUrl) => underLoss(lab, gateways, originUrl, progress));
      return { results: [...main.results, ...lossy], charts: main.charts };
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  },
};
