/**
 * What the priority scenario reads from inside the lab's hosts: the back-end's per-ring byte counters, the
 * kernel's view of its tunnel socket (`ss`), and the client load's JSON lines.
 */
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { pollUntil } from '@overlay/common';
import type { Lab } from '@overlay/lab';
import { metricSamples } from '../tools.js';
import type { LoadPlan, LoadResult } from './priority-load.js';
import type { SharesPlan, SharesResult } from './priority-shares.js';

const LOAD_SCRIPT = fileURLToPath(new URL('./priority-load.js', import.meta.url));
const SHARES_SCRIPT = fileURLToPath(new URL('./priority-shares.js', import.meta.url));

/** Bytes per ring from a Prometheus text page: `name{…ring="N"…} value`, summed over other labels. */
function ringBytes(metrics: string, name: string): number[] {
  const rings: number[] = [];
  for (const { labels, value } of metricSamples(metrics, name)) {
    if (labels.ring === undefined) continue;
    const ring = Number(labels.ring);
    rings[ring] = (rings[ring] ?? 0) + value;
  }
  return Array.from(rings, (bytes) => bytes ?? 0);
}

export async function backEndRingBytes(lab: Lab, admin: string): Promise<number[]> {
  const { stdout } = await lab.exec('back-end', 'curl', ['-sf', `http://${admin}/metrics`], { timeoutMs: 5_000 });
  return ringBytes(stdout, 'overlay_backend_ring_bytes_total');
}

/** One TCP socket as `ss -tmi` sees it. */
export interface SocketSample {
  /** Bytes written and not yet acknowledged (sent or not). */
  sendQueue: number;
  /** Of those, bytes the kernel has not sent yet: they sit ahead of anything written later. */
  notSent: number;
  /** The socket's send buffer size (autotuned), bytes. */
  sendBuffer: number;
  cwnd: number;
  rttMs: number;
  /** Segments retransmitted since the connection began. */
  retransmits: number;
}

/** The established sockets with local port `port` in `host`'s namespace (the back-end's tunnel connections). */
export async function tunnelSockets(lab: Lab, host: string, port: number): Promise<SocketSample[]> {
  const { stdout } = await lab.exec(host, 'ss', ['-tmiHn', 'state', 'established', 'sport', '=', `:${port}`], { timeoutMs: 5_000 });
  const samples: SocketSample[] = [];
  let current: SocketSample | undefined;
  for (const line of stdout.split('\n')) {
    const columns = line.trim().split(/\s+/);
    if (/^\d+$/.test(columns[0] ?? '') && /^\d+$/.test(columns[1] ?? '') && !line.startsWith('\t')) {
      current = { sendQueue: Number(columns[1]), notSent: 0, sendBuffer: 0, cwnd: 0, rttMs: 0, retransmits: 0 };
      samples.push(current);
    } else if (current) {
      const field = (pattern: RegExp) => Number(pattern.exec(line)?.[1] ?? 0);
      current.notSent ||= field(/notsent:(\d+)/);
      current.sendBuffer ||= field(/\btb(\d+)/);
      current.cwnd ||= field(/\bcwnd:(\d+)/);
      current.rttMs ||= field(/\brtt:([\d.]+)/);
      current.retransmits ||= field(/\bretrans:\d+\/(\d+)/);
    }
  }
  return samples;
}

/** Waits until the back-end's tunnel sockets hold less than `bytes` unacknowledged, at most `timeoutMs`. */
export async function waitForDrain(lab: Lab, port: number, bytes: number, timeoutMs: number): Promise<void> {
  await pollUntil(async () => (await tunnelSockets(lab, 'back-end', port)).every((s) => s.sendQueue < bytes), { timeoutMs });
}

/**
 * Runs the client load in the lab's client host. `mark` is called when its measured window starts and
 * again when it ends; the load keeps running until the second mark resolves (then its stdin is closed),
 * so counters read there bracket the window.
 */
export async function runLoad(lab: Lab, plan: LoadPlan, mark: (at: 'start' | 'end') => Promise<void>): Promise<LoadResult> {
  const child = lab.spawn('client', process.execPath, [LOAD_SCRIPT, JSON.stringify(plan)], { stdio: ['pipe', 'pipe', 'pipe'] });
  const stderr: string[] = [];
  createInterface({ input: child.stderr! }).on('line', (line) => stderr.length < 20 && stderr.push(line));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const timeout = setTimeout(() => child.kill('SIGKILL'), plan.warmupMs + plan.measureMs + 30_000);
  try {
    const marks: Array<Promise<void>> = [];
    let markFailure: unknown;
    const track = (marked: Promise<void>) => marks.push(marked.catch((err: unknown) => void (markFailure ??= err)));
    let outcome: LoadResult | undefined;
    for await (const line of createInterface({ input: child.stdout! })) {
      const event = JSON.parse(line) as { event: string } & LoadResult;
      if (event.event === 'measuring') track(mark('start'));
      if (event.event === 'result') {
        outcome = event;
        track(mark('end').finally(() => child.stdin?.end()));
      }
    }
    const code = await exited;
    await Promise.all(marks);
    if (markFailure) throw markFailure;
    if (!outcome) throw new Error(`client load exited (${code}) without a result:\n${stderr.join('\n')}`);
    return outcome;
  } finally {
    clearTimeout(timeout);
    if (child.exitCode === null) child.kill('SIGKILL');
  }
}

/** Runs the share test (priority-shares.ts) in the lab's client host; resolves with its result line. */
export async function runShares(lab: Lab, plan: SharesPlan): Promise<SharesResult> {
  const timeoutMs = Math.max(...plan.marksMs) + 60_000;
  const { stdout } = await lab.exec('client', process.execPath, [SHARES_SCRIPT, JSON.stringify(plan)], { timeoutMs });
  const line = stdout.split('\n').find((text) => text.includes('"event":"result"'));
  if (!line) throw new Error(`share test printed no result: ${stdout.slice(0, 500)}`);
  return JSON.parse(line) as SharesResult;
}

/** Connections the front-end's tunnel uses now (`overlay_frontend_tunnel_connections`, summed over back-ends). */
export async function tunnelConnections(lab: Lab, admin: string): Promise<number> {
  const { stdout } = await lab.exec('pop-a', 'curl', ['-sf', `http://${admin}/metrics`], { timeoutMs: 5_000 });
  return metricSamples(stdout, 'overlay_frontend_tunnel_connections').reduce((sum, { value }) => sum + value, 0);
}
