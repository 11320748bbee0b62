/**
 * The priority scenario's share test, run inside the lab's client host: optionally a burst of short
 * requests first (which makes the tunnel stripe over more connections, as a burst does in production),
 * then downloads at the given priorities (and optionally one straight from the origin, beside the
 * tunnel), counting what each receives.
 *
 * Input: a SharesPlan as the only argument (JSON). Output: one JSON line on stdout,
 * `{"event":"result", ...SharesResult}`, then the process exits.
 */
import { Agent, request } from 'node:http';
import { performance } from 'node:perf_hooks';

export interface SharesPlan {
  url: string;
  site: string;
  classHeader: string;
  /** Concurrent short requests before the downloads (0 for none). */
  burst: number;
  burstPath: string;
  /** The downloads' class names, one download each (the front-end's rules give their priorities). */
  classes: string[];
  /** Plain downloads straight from the origin (competing TCP flows on the long leg), counted after the classes. */
  direct?: string[];
  path: string;
  /** Instants (ms after the downloads start) at which the bytes received so far are recorded. */
  marksMs: number[];
}

export interface SharesResult {
  /** Per mark, bytes each class had received by then. */
  marks: number[][];
  errors: string[];
}

const plan = JSON.parse(process.argv[2] ?? '{}') as SharesPlan;
const errors: string[] = [];
const agent = new Agent({ keepAlive: false, maxSockets: Infinity });

function get(path: string, cls: string, onData?: (bytes: number) => void, url = `${plan.url}${path}`): Promise<void> {
  return new Promise((resolve) => {
    const req = request(url, { agent, headers: { host: plan.site, [plan.classHeader]: cls } }, (res) => {
      if (res.statusCode !== 200 && errors.length < 20) errors.push(`${cls}: status ${res.statusCode}`);
      res.on('data', (chunk: Buffer) => onData?.(chunk.length));
      res.on('end', resolve);
      res.on('error', () => resolve());
    });
    req.on('error', (err) => {
      if (errors.length < 20) errors.push(`${cls}: ${err.message}`);
      resolve();
    });
    req.end();
  });
}

await Promise.all(Array.from({ length: plan.burst }, () => get(plan.burstPath, plan.classes[0])));
const direct = plan.direct ?? [];
const received = [...plan.classes, ...direct].map(() => 0);
const started = performance.now();
plan.classes.forEach((cls, i) => void get(plan.path, cls, (bytes) => (received[i] += bytes)));
direct.forEach((url, i) => void get('', 'direct', (bytes) => (received[plan.classes.length + i] += bytes), url));
const marks: number[][] = [];
for (const at of plan.marksMs) {
  await new Promise((resolve) => setTimeout(resolve, Math.max(0, started + at - performance.now())));
  marks.push([...received]);
}
const result: SharesResult = { marks, errors };
process.stdout.write(`${JSON.stringify({ event: 'result', ...result })}\n`);
process.exit(0);
