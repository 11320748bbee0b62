/**
 * The priority scenario's clients, run inside the lab's client host: bulk downloads that keep the long leg
 * saturated, and one probe that times small requests back to back on one keep-alive connection.
 *
 * Input: a LoadPlan as the only argument (JSON). Output, one JSON line each on stdout:
 * `{"event":"measuring"}` when the warm-up ends, then `{"event":"result", ...LoadResult}`. The load runs
 * on until stdin closes (the scenario reads its counters meanwhile), then the process exits.
 */
import { Agent, request, type IncomingMessage } from 'node:http';
import { performance } from 'node:perf_hooks';

export interface LoadClass {
  /** Sent as the class header's value; the front-end's priority rules match it. */
  name: string;
  /** Priority the front-end must answer with (`x-overlay-priority`); anything else is an error. */
  priority: number;
}

export interface LoadPlan {
  /** The front-end's HTTP base URL. */
  url: string;
  /** Host header: picks the site, and with it the priority rules. */
  site: string;
  classHeader: string;
  /** Concurrent downloads per bulk class, each fetching `bulkPath` again when it ends. */
  bulk: Array<LoadClass & { streams: number }>;
  bulkPath: string;
  probe: LoadClass & { path: string; bytes: number };
  /** Load runs this long before measuring starts, so queues and congestion windows settle, ms. */
  warmupMs: number;
  measureMs: number;
}

export interface LoadResult {
  /** Each probe's time from sending the request to its last body byte, ms, in order. */
  probesMs: number[];
  /** Body bytes each bulk class received while measuring. */
  bulkBytes: Record<string, number>;
  /** Problems seen: wrong priority, failed requests, short bodies (at most 20 kept). */
  errors: string[];
}

const MAX_ERRORS = 20;

const plan = JSON.parse(process.argv[2] ?? '{}') as LoadPlan;
const errors: string[] = [];
const bulkBytes: Record<string, number> = Object.fromEntries(plan.bulk.map((c) => [c.name, 0]));
let measuring = false;
let stopping = false;

function note(error: string): void {
  if (!stopping && errors.length < MAX_ERRORS) errors.push(error);
}

/** One GET; resolves with the response once its head arrived, after checking the priority applied. */
function get(agent: Agent, path: string, cls: LoadClass): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const req = request(`${plan.url}${path}`, { agent, headers: { host: plan.site, [plan.classHeader]: cls.name } }, (res) => {
      const applied = Number(res.headers['x-overlay-priority']);
      if (res.statusCode !== 200) note(`${cls.name}: status ${res.statusCode} ${String(res.headers['x-overlay-error'] ?? '')}`);
      if (applied !== cls.priority) note(`${cls.name}: front-end applied priority ${applied}, expected ${cls.priority}`);
      resolve(res);
    });
    req.on('error', reject);
    req.end();
  });
}

async function bulkLoop(agent: Agent, cls: LoadClass): Promise<void> {
  while (!stopping) {
    try {
      const res = await get(agent, plan.bulkPath, cls);
      res.on('data', (chunk: Buffer) => {
        if (measuring) bulkBytes[cls.name] += chunk.length;
      });
      await new Promise<void>((resolve, reject) => res.on('end', resolve).on('error', reject).on('aborted', () => reject(new Error('aborted'))));
    } catch (err) {
      note(`${cls.name}: ${(err as Error).message}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

async function probeOnce(agent: Agent): Promise<number> {
  const started = performance.now();
  const res = await get(agent, plan.probe.path, plan.probe);
  let bytes = 0;
  res.on('data', (chunk: Buffer) => (bytes += chunk.length));
  await new Promise<void>((resolve, reject) => res.on('end', resolve).on('error', reject));
  if (bytes !== plan.probe.bytes) note(`${plan.probe.name}: body of ${bytes} bytes, expected ${plan.probe.bytes}`);
  return performance.now() - started;
}

async function main(): Promise<void> {
  const bulkAgent = new Agent({ keepAlive: true, maxSockets: Infinity });
  // One keep-alive connection: every probe pays the tunnel's scheduling, none a TCP handshake.
  const probeAgent = new Agent({ keepAlive: true, maxSockets: 1 });
  const loops = plan.bulk.flatMap((cls) => Array.from({ length: cls.streams }, () => bulkLoop(bulkAgent, cls)));
  // Warm the probe's connection (and the JIT) before anything is timed.
  await probeOnce(probeAgent).catch((err: Error) => note(`probe warm-up: ${err.message}`));
  await new Promise((resolve) => setTimeout(resolve, plan.warmupMs));
  measuring = true;
  process.stdout.write(`${JSON.stringify({ event: 'measuring' })}\n`);
  const probesMs: number[] = [];
  const end = performance.now() + plan.measureMs;
  while (performance.now() < end) {
    try {
      probesMs.push(await probeOnce(probeAgent));
    } catch (err) {
      note(`${plan.probe.name}: ${(err as Error).message}`);
    }
  }
  measuring = false;
  const result: LoadResult = { probesMs, bulkBytes, errors };
  process.stdout.write(`${JSON.stringify({ event: 'result', ...result })}\n`);
  process.stdin.resume();
  await new Promise((resolve) => process.stdin.once('close', resolve).once('end', resolve));
  stopping = true;
  bulkAgent.destroy();
  probeAgent.destroy();
  void Promise.allSettled(loops);
  process.exit(0);
}

await main();
