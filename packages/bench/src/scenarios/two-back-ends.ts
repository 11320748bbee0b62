import { execFile, type ChildProcess } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { pollUntil, startProcess, type StartedProcess } from '@overlay/common';
import { freePort, overlayCli, stopChild } from '../tools.js';
import { haproxy, SITE, type RunningOverlay } from './gateway.js';

const KEY = 'bench-two-back-ends-key-0123456';
const TOKEN = 'bench-two-back-ends-token-0123';
const BACK_ENDS = ['be-1', 'be-2'];
const run = promisify(execFile);

export interface TwoBackEnds extends RunningOverlay {
  /** Admin addresses of both back-ends (host:port). */
  backEndAdmins: string[];
}

/**
 * A manager, two back-ends following it and one front-end using both, carrying `bench.test` to `origins`;
 * each origin's `maxConcurrency` is `budget`, shared by the two back-ends (the manager splits it by demand).
 * Resolves once both back-ends report a share of every origin.
 */
export async function overlayTwoBackEnds(dir: string, origins: string[], budget: number): Promise<TwoBackEnds> {
  const processes: StartedProcess[] = [];
  try {
    return await start(dir, origins, budget, processes);
  } catch (err) {
    await Promise.all(processes.map((p) => p.stop()));
    throw err;
  }
}

async function start(dir: string, origins: string[], budget: number, processes: StartedProcess[]): Promise<TwoBackEnds> {
  const file = async (name: string, config: unknown) => {
    const path = join(dir, `two-${name}.json`);
    await writeFile(path, JSON.stringify(config));
    return path;
  };
  const manager = await startProcess(process.execPath, [overlayCli(), 'manager', '--config', await file('manager', {
    role: 'both', listen: '127.0.0.1:0', token: TOKEN, dataDir: join(dir, 'two-manager-data'), feed: { reportPushDelayMs: 50 },
  })]);
  processes.push(manager);
  const managerUrl = String(manager.ready.url);
  const backEnds: StartedProcess[] = [];
  for (const id of BACK_ENDS) {
    const backEnd = await startProcess(process.execPath, [overlayCli(), 'back-end', '--config', await file(id, {
      id, tunnel: { listen: '127.0.0.1:0', keys: [KEY] }, admin: '127.0.0.1:0', manager: { url: managerUrl, token: TOKEN },
    })]);
    processes.push(backEnd);
    backEnds.push(backEnd);
  }
  const api = (method: string, path: string, body?: unknown) =>
    fetch(`${managerUrl}${path}`, { method, headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
  const put = await api('PUT', '/v1/sites/bench', {
    domains: [SITE], origins: origins.map((url, i) => ({ url, id: `origin-${i + 1}`, maxConcurrency: budget })), backEnds: BACK_ENDS,
  });
  if (put.status >= 300) throw new Error(`manager refused the bench site: ${put.status} ${await put.text()}`);
  const shared = await pollUntil(async () => {
    const { backEnds: listed } = (await (await api('GET', '/v1/back-ends')).json()) as { backEnds: Record<string, { origins?: Array<{ url: string; share?: number }> }> };
    return BACK_ENDS.every((id) => origins.every((url) => (listed[id]?.origins?.find((origin) => origin.url === url)?.share ?? 0) > 0));
  }, { timeoutMs: 15_000, intervalMs: 100 });
  if (!shared) throw new Error('the back-ends got no share of the origin budget within 15 s');

  const httpPort = await freePort();
  const frontEnd = await startProcess(process.execPath, [overlayCli(), 'front-end', '--config', await file('front-end', {
    id: 'fe-bench', pop: 'bench', http: { listen: `127.0.0.1:${httpPort}` }, admin: '127.0.0.1:0', cache: { enabled: false },
    state: {
      backEnds: Object.fromEntries(BACK_ENDS.map((id, i) => [id, { tunnel: String(backEnds[i].ready.tunnel), key: KEY }])),
      sites: { bench: { domains: [SITE], backEnds: BACK_ENDS } },
    },
  })]);
  processes.unshift(frontEnd);
  const url = `http://127.0.0.1:${httpPort}`;
  // curl, not fetch: fetch does not let a caller set Host.
  const answering = () => run('curl', ['-sf', '-o', '/dev/null', '-H', `Host: ${SITE}`, `${url}/healthz`]).then(() => true);
  if (!(await pollUntil(answering, { timeoutMs: 5_000, intervalMs: 50 }))) throw new Error('the two-back-end overlay did not answer');
  const backEndAdmins = backEnds.map((backEnd) => String(backEnd.ready.admin));
  return { url, backEndAdmin: backEndAdmins[0], backEndAdmins, processes };
}

/**
 * HAProxy's hand-tuned equivalent of two back-ends: an edge balancing (leastconn) over two inner HAProxies
 * whose `maxconn` per origin is `perInner` each, summed to what one origin may take, with `timeout queue`.
 * Returns the edge's URL and a stop function.
 */
export async function haproxyTwoInners(dir: string, origin: string, perInner: number, queueTimeoutS: number): Promise<{ url: string; stop(): Promise<void> }> {
  const children: ChildProcess[] = [];
  const inners: number[] = [];
  try {
    for (const name of ['a', 'b']) {
      const port = await freePort();
      children.push(await haproxy(dir, `two-inner-${name}`, port, `${new URL(origin).host} maxconn ${perInner}`, [`timeout queue ${queueTimeoutS}s`]));
      inners.push(port);
    }
    const edgePort = await freePort();
    children.push(await haproxy(dir, 'two-edge', edgePort, `127.0.0.1:${inners[0]}`, ['balance leastconn', `server s2 127.0.0.1:${inners[1]}`]));
    return { url: `http://127.0.0.1:${edgePort}`, stop: async () => void (await Promise.all(children.map((child) => stopChild(child)))) };
  } catch (err) {
    await Promise.all(children.map((child) => stopChild(child)));
    throw err;
  }
}
