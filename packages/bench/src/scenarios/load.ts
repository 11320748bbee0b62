/** What the loading and seed-003 scenarios share: the origin that collapses under overload, and plumbing. */
import { fileURLToPath } from 'node:url';
import type { Peer } from '../measure.js';
import { metricSamples } from '../tools.js';
import { closedLoop, type ClosedLoopResult } from './closed-loop.js';

export const ORIGIN_PEER = fileURLToPath(new URL('../peers/origin-peer.js', import.meta.url));

/**
 * The demo origin's capacity model (packages/demo-origin capacity.ts): 8 requests at full speed, 20 ms of
 * work each, so at most 400 req/s; past 8 in service throughput falls as 8 / (1 + (k − 8) / 8) per 20 ms:
 * 160 req/s at 20, 64 at 50, 32 at 100. With penalty 1 the fall matches the shape of seed 003's single
 * 1 KB server (Table 2: 82 req/s at 5 sessions, 35 at 20, 28 at 25).
 */
export const COLLAPSING_ORIGIN = Object.freeze({ capacity: 8, serviceMs: 20, overloadPenalty: 1 });

/** 1 KiB answered through the capacity model (`/work/{n}` always goes through it). */
export const WORK_PATH = '/work/1024';

/** Starts collapsing origins with these ids in the origin peer; returns their URLs in order. */
export async function startCollapsingOrigins(origins: Peer, ids: string[]): Promise<string[]> {
  const urls: string[] = [];
  for (const id of ids) urls.push(await origins.call<string>('start', { id, options: COLLAPSING_ORIGIN }));
  return urls;
}


/** The back-end's concurrency limit per origin id and its limit changes per reason, from its /metrics. */
export async function limitState(backEndAdmin: string): Promise<{ limits: Record<string, number>; changes: Record<string, number> }> {
  const text = await (await fetch(`http://${backEndAdmin}/metrics`)).text();
  const limits: Record<string, number> = {};
  for (const { labels, value } of metricSamples(text, 'overlay_backend_origin_limit')) if (labels.origin) limits[labels.origin] = value;
  const changes: Record<string, number> = {};
  for (const { labels, value } of metricSamples(text, 'overlay_backend_origin_limit_changes_total')) {
    if (labels.reason) changes[labels.reason] = (changes[labels.reason] ?? 0) + value;
  }
  return { limits, changes };
}

/** Samples the sum of the back-end's origin limits every `everyMs` until stopped: mean, least and most. */
export function watchLimits(backEndAdmin: string, everyMs = 250): { stop(): Promise<{ mean: number; min: number; max: number }> } {
  const seen = { count: 0, total: 0, min: Infinity, max: -Infinity };
  let pending = Promise.resolve();
  const timer = setInterval(() => {
    pending = limitState(backEndAdmin).then(({ limits }) => {
      const sum = Object.values(limits).reduce((a, b) => a + b, 0);
      seen.count++;
      seen.total += sum;
      seen.min = Math.min(seen.min, sum);
      seen.max = Math.max(seen.max, sum);
    }, () => undefined);
  }, everyMs);
  return {
    async stop() {
      clearInterval(timer);
      await pending;
      return { mean: seen.total / seen.count, min: seen.min, max: seen.max };
    },
  };
}

/** Gateways just started run slow until the JIT has compiled their hot paths: load them once, untimed. */
export const PRIME_MS = 3_000;

export async function prime(url: string, host: string, connections: number): Promise<void> {
  await closedLoop({ url, host, connections, warmupMs: 0, durationMs: PRIME_MS, deadlineMs: PRIME_MS });
}


/** One progress line for a measured point. */
export function describe(name: string, r: ClosedLoopResult): string {
  return `${name}: ${r.goodput.toFixed(1)} 2xx/s, p99 ${r.p99.toFixed(1)} ms; not goodput: ${r.refused} non-2xx, ${r.errors} errors, ${r.late} given up`;
}
