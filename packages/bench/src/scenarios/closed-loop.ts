import { Agent, request } from 'node:http';
import { createHistogram } from 'node:perf_hooks';

/**
 * A closed-loop HTTP load: `connections` clients, each with exactly one request outstanding on its own
 * keep-alive connection, sending the next as soon as the last is answered. Offered load therefore follows
 * the server's speed (no coordinated-omission correction), as with wrk. Unlike wrk it tells 2xx answers,
 * other statuses, connection errors and requests given up at a deadline apart, exactly.
 */
export interface ClosedLoopOptions {
  /** Full URL, path included. */
  url: string;
  /** Host header, for gateways that route by it. */
  host?: string;
  /** Concurrent clients = requests outstanding at once. */
  connections: number;
  /** Load before counting starts (connections, JIT, pools and adaptive limits settle), ms. */
  warmupMs: number;
  /** Counting window, ms. */
  durationMs: number;
  /** A request unanswered after this is given up: its connection is closed and it counts as late, ms. */
  deadlineMs: number;
}

export interface ClosedLoopResult {
  /** 2xx answers per second of the counting window. */
  goodput: number;
  /** Counted in the window: 2xx answers, other statuses, connection errors, requests given up. */
  ok: number;
  refused: number;
  errors: number;
  late: number;
  /** Latency over every answered request (2xx and other statuses), ms; NaN when none was answered. */
  p50: number;
  p99: number;
}

type Outcome = { kind: 'answered'; status: number } | { kind: 'error' } | { kind: 'late' };

export async function closedLoop(options: ClosedLoopOptions): Promise<ClosedLoopResult> {
  const { url, host, connections, warmupMs, durationMs, deadlineMs } = options;
  const agent = new Agent({ keepAlive: true, maxSockets: connections });
  const latencyUs = createHistogram();
  const counts = { ok: 0, refused: 0, errors: 0, late: 0 };
  const countFrom = performance.now() + warmupMs;
  const countUntil = countFrom + durationMs;
  let stopped = false;

  function once(): Promise<Outcome> {
    return new Promise((resolve) => {
      let late = false;
      let settled = false;
      const settle = (outcome: Outcome): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve(outcome);
      };
      const failed = (): void => settle(late ? { kind: 'late' } : { kind: 'error' });
      const req = request(url, { agent, headers: host ? { host } : {} }, (res) => {
        res.on('end', () => settle({ kind: 'answered', status: res.statusCode ?? 0 }));
        res.on('error', failed); // cut mid-body
        res.resume();
      });
      const timer = setTimeout(() => {
        late = true;
        req.destroy();
      }, deadlineMs);
      req.on('error', failed);
      req.on('close', failed); // after 'end' when answered; the last word however the request died
      req.end();
    });
  }

  async function client(): Promise<void> {
    while (!stopped) {
      const started = performance.now();
      const outcome = await once();
      const now = performance.now();
      if (stopped || now < countFrom || now >= countUntil) continue;
      if (outcome.kind === 'answered') {
        latencyUs.record(Math.max(1, Math.round((now - started) * 1000)));
        if (outcome.status >= 200 && outcome.status < 300) counts.ok++;
        else counts.refused++;
      } else if (outcome.kind === 'late') {
        counts.late++;
      } else {
        counts.errors++;
      }
    }
  }

  const clients = Array.from({ length: connections }, client);
  // Requests still outstanding at the end are cut off, not waited for: the window is over.
  await new Promise((resolve) => setTimeout(resolve, countUntil - performance.now()));
  stopped = true;
  agent.destroy();
  await Promise.all(clients);
  const answered = counts.ok + counts.refused;
  return {
    goodput: counts.ok / (durationMs / 1000),
    ...counts,
    p50: answered ? latencyUs.percentile(50) / 1000 : NaN,
    p99: answered ? latencyUs.percentile(99) / 1000 : NaN,
  };
}

/** Requests counted in the window that were not goodput: other statuses, connection errors, given up. */
export function failures(r: ClosedLoopResult): number {
  return r.refused + r.errors + r.late;
}
