/** The processes the scale scenario measures, and how it reads their memory. */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { join } from 'node:path';
import { pollUntil, startProcess, type StartedProcess } from '@overlay/common';
import type { Peer } from '../measure.js';
import { haproxyConfig, metricSamples, overlayCli, stopChild } from '../tools.js';

const PROBE = new URL('../peers/memory-probe.js', import.meta.url).href;
const KEY = 'scale-benchmark-key-0123456789ab';
/** Idle timeouts of the HAProxy baseline, longer than the scenario, like the gateways' defaults (60 s keep-alive). */
const HAPROXY_IDLE = '120s';

export const SITE = 'scale.test';

/** Memory of one process: heap + external after a full collection (Node only), and resident set size, bytes. */
export interface Footprint {
  heap: number;
  rss: number;
}

/** A process whose memory the scenario reads. */
export interface Measured {
  name: string;
  pid: number;
  /** Heap + external after a full collection; absent for non-Node processes (HAProxy). */
  heap?: () => Promise<number>;
}

/**
 * Open files each child process may hold: this process's limit, which children inherit (Node raises its
 * soft limit to the hard one at start). Raising the hard limit needs CAP_SYS_RESOURCE, which a container
 * may not grant.
 */
export async function openFileLimit(): Promise<number> {
  const limits = await readFile('/proc/self/limits', 'utf8');
  const soft = /^Max open files\s+(\d+)/m.exec(limits);
  if (!soft) throw new Error('no "Max open files" in /proc/self/limits');
  return Number(soft[1]);
}

async function rssBytes(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kib = /^VmRSS:\s+(\d+) kB/m.exec(status);
  if (!kib) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(kib[1]) * 1024;
}

export async function footprint(target: Measured): Promise<Footprint> {
  const heap = target.heap ? await target.heap() : NaN;
  return { heap, rss: await rssBytes(target.pid) };
}

export function measuredPeer(name: string, peer: Peer): Measured {
  return { name, pid: peer.child.pid!, heap: () => peer.call<number>('memory') };
}

let probeRequests = 0;

/** Asks a gateway's preloaded memory probe (peers/memory-probe.ts) over its IPC channel. */
function askProbe(child: ChildProcess): Promise<number> {
  const id = ++probeRequests;
  return new Promise((resolve, reject) => {
    const onExit = (): void => reject(new Error(`process ${child.pid} exited before answering`));
    const onMessage = (message: { id: number; value?: number; error?: string }): void => {
      if (message.id !== id) return;
      child.off('message', onMessage).off('exit', onExit);
      if (message.error) reject(new Error(message.error));
      else resolve(message.value!);
    };
    child.on('message', onMessage).once('exit', onExit);
    child.send({ id, command: 'memory', args: {} });
  });
}

function measuredGateway(name: string, started: StartedProcess): Measured {
  return { name, pid: started.child.pid!, heap: () => askProbe(started.child) };
}

async function startGateway(role: 'front-end' | 'back-end', config: string): Promise<StartedProcess> {
  return startProcess(process.execPath, ['--import', PROBE, overlayCli(), role, '--config', config], { stdio: ['ignore', 'pipe', 'pipe', 'ipc'] });
}

/** Resolves once `url` answers 200 for the scenario's site (the tunnel comes up after the ready line). */
async function waitForAnswer(url: string): Promise<void> {
  const answers = () => new Promise<boolean>((resolve) => {
    request(url, { headers: { host: SITE } }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    }).on('error', () => resolve(false)).end();
  });
  if (!(await pollUntil(answers, { timeoutMs: 10_000, intervalMs: 50 }))) throw new Error(`${url} did not answer 200 for ${SITE}`);
}

export interface Gateways {
  /** `http://127.0.0.1:port` of the front-end. */
  url: string;
  port: number;
  /** The front-end's admin `host:port`. */
  admin: string;
  frontEnd: Measured;
  backEnd: Measured;
  stop(): Promise<void>;
}

/** A back-end and a front-end (one tunnel) for `origin`, each with the memory probe preloaded. */
export async function startGateways(dir: string, origin: string): Promise<Gateways> {
  const backEndConfig = join(dir, 'back-end.json');
  await writeFile(backEndConfig, JSON.stringify({
    id: 'be-scale',
    tunnel: { listen: '127.0.0.1:0', keys: [KEY] },
    admin: '127.0.0.1:0',
    // A fixed origin limit: the scenario measures holding connections, not the adaptive limit's probing.
    state: { sites: { scale: { origins: [{ url: origin, id: 'origin-1' }] } }, limits: { adaptive: false, initial: 256, max: 256 } },
  }));
  const backEnd = await startGateway('back-end', backEndConfig);
  const stops: Array<() => Promise<unknown>> = [() => backEnd.stop()];
  const stop = async (): Promise<void> => {
    for (const s of stops.reverse()) await s().catch(() => {});
  };
  try {
    const frontEndConfig = join(dir, 'front-end.json');
    await writeFile(frontEndConfig, JSON.stringify({
      id: 'fe-scale',
      pop: 'scale',
      http: { listen: '127.0.0.1:0' },
      admin: '127.0.0.1:0',
      cache: { enabled: false },
      state: {
        // The default highWater (1,024): an upgraded stream counts as in flight only until its 101, so
        // 10,000 open WebSockets leave the route free.
        backEnds: { 'be-scale': { tunnel: String(backEnd.ready.tunnel), key: KEY } },
        sites: { scale: { domains: [SITE], backEnds: ['be-scale'] } },
      },
    }));
    const frontEnd = await startGateway('front-end', frontEndConfig);
    stops.push(() => frontEnd.stop());
    const port = Number(String(frontEnd.ready.http).split(':').pop());
    const url = `http://127.0.0.1:${port}`;
    await waitForAnswer(`${url}/healthz`);
    return { url, port, admin: String(frontEnd.ready.admin), frontEnd: measuredGateway('front-end', frontEnd), backEnd: measuredGateway('back-end', backEnd), stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** One value of a Prometheus text exposition (first series of that name), or NaN. */
export async function metric(admin: string, name: string): Promise<number> {
  const text = await (await fetch(`http://${admin}/metrics`)).text();
  return metricSamples(text, name)[0]?.value ?? NaN;
}

export interface Haproxy {
  port: number;
  measured: Measured;
  stop(): Promise<void>;
}

/**
 * HAProxy, one thread, in front of `originPort`; holds idle keep-alive clients and WebSocket tunnels alike.
 * It reserves two descriptors per connection and refuses to start when `maxconn` does not fit the open-file
 * limit, so `maxConnections` must too.
 */
export async function startHaproxy(dir: string, port: number, originPort: number, maxConnections: number): Promise<Haproxy> {
  const file = join(dir, 'haproxy.cfg');
  await writeFile(file, haproxyConfig({ bind: `127.0.0.1:${port}`, server: `127.0.0.1:${originPort}`, maxconn: maxConnections, idleTimeout: HAPROXY_IDLE }));
  const child = spawn('haproxy', ['-f', file, '-db'], { stdio: 'ignore' });
  const stop = () => stopChild(child);
  try {
    await waitForAnswer(`http://127.0.0.1:${port}/healthz`);
  } catch (error) {
    await stop();
    throw error;
  }
  return { port, measured: { name: 'HAProxy', pid: child.pid! }, stop };
}
