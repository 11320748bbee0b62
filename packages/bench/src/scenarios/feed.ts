import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pollUntil, startProcess, type StartedProcess } from '@overlay/common';
import WebSocket from 'ws';
import { medianOfRounds, result, type Scenario } from '../harness.js';
import { startEtcdCluster, type EtcdCluster } from '../peers/etcd-cluster.js';
import { overlayCli, requireTool } from '../tools.js';

/** Simulated gateways per system: the issue's "at least 200". */
const GATEWAYS = 200;
/** How often each simulated gateway reports, ms: what real gateways do (control's REPORT_INTERVAL_MS). */
const REPORT_EVERY_MS = 2_000;
/** API changes per round and path, each waited for at every gateway before the next. */
const CHANGES_PER_ROUND = 10;
const ROUNDS = 5;
const TOKEN = 'bench-feed-manager-token-0123456';
const BASELINE = 'one manager, file store';

interface Gateway {
  socket: WebSocket;
  /** Bytes of every feed message received. */
  bytes: number;
  /** Site name → when the first message naming it arrived (performance.now()). */
  seen: Map<string, number>;
  /** Size of the message that carried each site. */
  carried: Map<string, number>;
}

interface System {
  name: string;
  managers: StartedProcess[];
  urls: string[];
  gateways: Gateway[];
  close(): Promise<void>;
}

/** One simulated front-end: says hello, reports every 2 s, notes when each site first shows up. */
async function simulatedGateway(url: string, id: string): Promise<Gateway> {
  const socket = new WebSocket(`${url.replace('http://', 'ws://')}/v1/stream`, { headers: { authorization: `Bearer ${TOKEN}` }, perMessageDeflate: false });
  const gateway: Gateway = { socket, bytes: 0, seen: new Map(), carried: new Map() };
  socket.on('message', (data: Buffer) => {
    const at = performance.now();
    gateway.bytes += data.length;
    // Site names are `feed-<n>`: find the ones this message names, without parsing every message.
    for (const match of data.toString().matchAll(/"(feed-\d+)"/g)) {
      const site = match[1] as string;
      if (!gateway.seen.has(site)) {
        gateway.seen.set(site, at);
        gateway.carried.set(site, data.length);
      }
    }
  });
  await new Promise<void>((resolve, reject) => socket.once('open', () => resolve()).once('error', reject));
  socket.send(JSON.stringify({ type: 'hello', role: 'front-end', id, pop: `pop-${id.slice(-1)}`, addresses: { http: `10.0.${Math.floor(Number(id.split('-')[1]) / 250)}.${Number(id.split('-')[1]) % 250}:80` } }));
  const report = () => {
    if (socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify({ type: 'report', load: Math.random() * 0.5, healthy: true, tunnels: [], ringBytes: [0, 0, 0, 0, 0] }));
  };
  const timer = setInterval(report, REPORT_EVERY_MS);
  timer.unref();
  socket.once('close', () => clearInterval(timer));
  // Spread the reports over the interval, as independent gateways do.
  setTimeout(report, Math.random() * REPORT_EVERY_MS).unref();
  return gateway;
}

async function startSystem(name: string, dir: string, replicas: number, etcd: EtcdCluster | undefined): Promise<System> {
  const managers: StartedProcess[] = [];
  for (let index = 0; index < replicas; index++) {
    const config = join(dir, `${name}-${index}.json`);
    const store = etcd ? { etcd: { endpoints: etcd.endpoints, prefix: `/bench-feed/${name}` } } : {};
    await writeFile(config, JSON.stringify({ id: `${name}-${index}`, role: 'both', listen: '127.0.0.1:0', token: TOKEN, dataDir: join(dir, `${name}-${index}`), store, feed: { maxSubscribers: 4 * GATEWAYS } }));
    managers.push(await startProcess(process.execPath, [overlayCli(), 'manager', '--config', config], { readyTimeoutMs: 30_000 }));
  }
  const urls = managers.map((manager) => String(manager.ready.url));
  const gateways: Gateway[] = [];
  // Gateways spread over the replicas, as a list of manager URLs in rotated order would spread them.
  for (let index = 0; index < GATEWAYS; index++) gateways.push(await simulatedGateway(urls[index % urls.length] as string, `${name}-${index}`));
  return {
    name,
    managers,
    urls,
    gateways,
    close: async () => {
      for (const gateway of gateways) gateway.socket.terminate();
      await Promise.all(managers.map((manager) => manager.stop()));
    },
  };
}

async function putSite(url: string, site: string): Promise<void> {
  const response = await fetch(`${url}/v1/sites/${site}`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ domains: [`${site}.bench.test`], mode: 'http', origins: [{ url: 'http://10.9.9.9:80' }], frontEnds: [], backEnds: [] }),
  });
  await response.body?.cancel();
  if (response.status >= 300) throw new Error(`PUT /v1/sites/${site}: ${response.status}`);
}

const percentile = (values: number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? NaN;
};

let siteCounter = 0;

/** CHANGES_PER_ROUND changes through the first manager, each waited for at every gateway. */
async function measure(system: System): Promise<{ p50: number; slowest: number; bytesPerGateway: number; feedBytesPerSecond: number }> {
  const fanOut: number[] = [];
  const carried: number[] = [];
  const bytesBefore = system.gateways.reduce((sum, gateway) => sum + gateway.bytes, 0);
  const started = performance.now();
  for (let change = 0; change < CHANGES_PER_ROUND; change++) {
    const site = `feed-${++siteCounter}`;
    const sent = performance.now();
    await putSite(system.urls[0] as string, site);
    const everywhere = await pollUntil(() => system.gateways.every((gateway) => gateway.seen.has(site)), { timeoutMs: 10_000, intervalMs: 1 });
    if (!everywhere) throw new Error(`${system.name}: change ${site} did not reach every gateway within 10 s`);
    fanOut.push(Math.max(...system.gateways.map((gateway) => gateway.seen.get(site) as number)) - sent);
    carried.push(...system.gateways.map((gateway) => gateway.carried.get(site) as number));
  }
  const seconds = (performance.now() - started) / 1000;
  const bytes = system.gateways.reduce((sum, gateway) => sum + gateway.bytes, 0) - bytesBefore;
  return { p50: percentile(fanOut, 50), slowest: Math.max(...fanOut), bytesPerGateway: percentile(carried, 50), feedBytesPerSecond: bytes / seconds / GATEWAYS };
}

export const feedScenario: Scenario = {
  name: 'feed',
  description: `manager feed fan-out: an API change until all ${GATEWAYS} simulated gateways (reporting every ${REPORT_EVERY_MS / 1000} s) have it, and the bytes each gets; three manager replicas on a three-member etcd cluster (gateways spread over them, writes to one) vs one manager with its file store`,
  async run(progress) {
    await requireTool('etcd', 'etcd-server');
    const dir = await mkdtemp(join(tmpdir(), 'overlay-bench-feed-'));
    const etcd = await startEtcdCluster(3);
    const systems: System[] = [];
    try {
      systems.push(await startSystem('single', dir, 1, undefined));
      systems.push(await startSystem('replicas', dir, 3, etcd));
      progress(`${GATEWAYS} simulated gateways on each system; ${ROUNDS} rounds of ${CHANGES_PER_ROUND} changes, interleaved`);
      // Let hellos register and the first reports land.
      await new Promise((resolve) => setTimeout(resolve, REPORT_EVERY_MS + 500));
      const [single, replicas] = await medianOfRounds(
        systems.map((system) => () => measure(system)),
        ROUNDS,
        (round, figures) => progress(`round ${round}: ${figures.map((figure, index) => `${systems[index]?.name} p50 ${figure.p50.toFixed(1)} ms slowest ${figure.slowest.toFixed(1)} ms`).join('; ')}`),
      );
      if (!single || !replicas) throw new Error('no figures');
      const three = `three replicas on etcd, ${GATEWAYS} gateways`;
      return [
        result(`fan-out p50 per change, ${three}`, 'ms', replicas.p50, BASELINE, single.p50),
        result(`fan-out, slowest of ${CHANGES_PER_ROUND} changes, ${three}`, 'ms', replicas.slowest, BASELINE, single.slowest),
        result(`feed bytes per change per gateway, ${three}`, 'bytes', replicas.bytesPerGateway, BASELINE, single.bytesPerGateway),
        result(`feed bytes per second per gateway while changing, ${three}`, 'bytes/s', replicas.feedBytesPerSecond, BASELINE, single.feedBytesPerSecond),
      ];
    } finally {
      await Promise.all(systems.map((system) => system.close()));
      await etcd.close();
      await rm(dir, { recursive: true, force: true });
    }
  },
};
