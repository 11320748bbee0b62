import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { startProcess, type StartedProcess } from '@overlay/common';
import { inNamespace } from './commands.js';
import { TUN_DEVICE, type LabPlan } from './plan.js';

export const FORWARDER_SCRIPT = fileURLToPath(new URL('../forwarder/delay-link.py', import.meta.url));
/** How long the forwarder may take to print its counters when asked, ms. */
const COUNTERS_TIMEOUT_MS = 5_000;

export interface DirectionCounters {
  /** Packets accepted onto the link (not counting drops). */
  packets: number;
  bytes: number;
  /** Packets dropped: bottleneck queue full (drop-tail), or refused by the stack on delivery. */
  drops: number;
  /** Packets lost at random (lossPct), not counted in `drops`. */
  losses: number;
  /** Packets on the link right now (queued or in flight). */
  queued: number;
}

/** What crossed the long leg, per direction, since the lab started. */
export interface LinkCounters {
  nearToFar: DirectionCounters;
  farToNear: DirectionCounters;
  /** Packets the TUN received that belong to neither subnet (should stay 0). */
  stray: number;
}

export interface LinkSettings {
  delayMs: number;
  jitterMs: number;
  rateMbit: number;
  queueBytes: number;
  lossPct: number;
}

export interface Forwarder {
  counters(): Promise<LinkCounters>;
  /** SIGTERM; resolves with the final counters (undefined if it died without printing them). */
  stop(): Promise<LinkCounters | undefined>;
}

/** Starts delay-link.py in the router namespace; resolves once the TUN exists. */
export async function startForwarder(plan: LabPlan, link: LinkSettings, python: string): Promise<Forwarder> {
  const args = [
    FORWARDER_SCRIPT,
    '--dev', TUN_DEVICE,
    '--near', plan.subnets.near,
    '--far', plan.subnets.far,
    '--delay-ms', String(link.delayMs),
    '--jitter-ms', String(link.jitterMs),
    '--rate-mbit', String(link.rateMbit),
    '--queue-bytes', String(link.queueBytes),
    '--loss-pct', String(link.lossPct),
  ];
  const started: StartedProcess = await startProcess('ip', inNamespace(plan.router.namespace, python, args), { readyTimeoutMs: 10_000 });
  // The counters lines come after the ready line; one listener hands each to whoever asked.
  let latest: LinkCounters | undefined;
  const waiting: Array<(counters: LinkCounters) => void> = [];
  createInterface({ input: started.child.stdout! }).on('line', (line) => {
    let parsed: { msg?: string } & LinkCounters;
    try {
      parsed = JSON.parse(line) as typeof parsed;
    } catch {
      return;
    }
    if (parsed.msg !== 'counters') return;
    latest = { nearToFar: parsed.nearToFar, farToNear: parsed.farToNear, stray: parsed.stray };
    for (const resolve of waiting.splice(0)) resolve(latest);
  });
  const closed = new Promise<void>((resolve) => started.child.once('close', () => resolve()));

  return {
    counters: () =>
      new Promise<LinkCounters>((resolve, reject) => {
        if (started.child.exitCode !== null || started.child.signalCode !== null) {
          reject(new Error('the long-leg forwarder is not running'));
          return;
        }
        const answer = (counters: LinkCounters) => {
          clearTimeout(timer);
          resolve(counters);
        };
        const timer = setTimeout(() => {
          waiting.splice(waiting.indexOf(answer), 1);
          reject(new Error(`the long-leg forwarder printed no counters within ${COUNTERS_TIMEOUT_MS} ms`));
        }, COUNTERS_TIMEOUT_MS);
        waiting.push(answer);
        started.child.kill('SIGUSR1');
      }),
    stop: async () => {
      await started.stop();
      await closed; // stdout fully read: the final counters line is in
      return latest;
    },
  };
}
