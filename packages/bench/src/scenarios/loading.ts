import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { result, round, type BenchResult, type Chart, type Scenario } from '../harness.js';
import { Peer } from '../measure.js';
import { freePort, requireTool, stopChild } from '../tools.js';
import { closedLoop, failures, type ClosedLoopResult } from './closed-loop.js';
import { haproxy, overlay, SITE } from './gateway.js';
import { COLLAPSING_ORIGIN, describe, ORIGIN_PEER, limitState, prime, PRIME_MS, startCollapsingOrigins, watchLimits, WORK_PATH } from './load.js';
import { haproxyTwoInners, overlayTwoBackEnds } from './two-back-ends.js';

/** Offered load as multiples of the origin's capacity: closed-loop clients = multiple × capacity. */
const MULTIPLES = [1, 2, 5, 10];
const WARMUP_MS = 2_000;
const MEASURE_MS = 4_000;
/** Both the back-end and the tuned HAProxy give up on queued requests after this (the back-end's default), ms. */
const QUEUE_TIMEOUT_MS = 5_000;
/** Longer than any queue timeout: the client never gives up before a gateway answers. */
const CLIENT_DEADLINE_MS = 15_000;

const OVERLAY = 'overlay';
const UNTUNED = 'HAProxy two-tier without maxconn';
const TUNED = `HAProxy two-tier, maxconn ${COLLAPSING_ORIGIN.capacity} + timeout queue ${QUEUE_TIMEOUT_MS / 1000}s (hand-tuned)`;
const TARGETS = [OVERLAY, UNTUNED, TUNED] as const;
type Target = (typeof TARGETS)[number];

/** The two-back-end case: offered load, × capacity, at which it is measured. */
const TWO_MULTIPLE = 10;
/** Odd, so the median is a round's own figure (of two, the median picked the worse one). */
const TWO_ROUNDS = 3;
const OVERLAY_TWO = `overlay, two back-ends sharing maxConcurrency ${COLLAPSING_ORIGIN.capacity}`;
const TUNED_TWO = `HAProxy edge → two inner HAProxies, maxconn ${COLLAPSING_ORIGIN.capacity / 2} each (summed ${COLLAPSING_ORIGIN.capacity}) + timeout queue ${QUEUE_TIMEOUT_MS / 1000}s (hand-tuned)`;

export const loadingScenario: Scenario = {
  name: 'loading',
  description:
    `An origin that collapses past ${COLLAPSING_ORIGIN.capacity} concurrent requests (${COLLAPSING_ORIGIN.serviceMs} ms each, ` +
    `${(COLLAPSING_ORIGIN.capacity * 1000) / COLLAPSING_ORIGIN.serviceMs} req/s at best, half that at 2× its capacity); closed-loop clients ` +
    `(each one request outstanding) at ${MULTIPLES.join('×, ')}× its capacity, ${WARMUP_MS / 1000} s warm-up then ${MEASURE_MS / 1000} s per level, ` +
    `levels interleaved over the three paths, the fresh overlay first primed for ${PRIME_MS / 1000} s: ` +
    `goodput (2xx/s; non-2xx, errors and given-up requests counted apart) and p99 over all answers, through the overlay ` +
    `(back-end's default adaptive origin limit, no tuning) vs ${UNTUNED} vs ${TUNED}. Seed 000: limiting concurrency gave nearly 3× the request rate.`,
  async run(progress) {
    await requireTool('haproxy', 'haproxy');
    await requireTool('curl', 'curl');
    const dir = await mkdtemp(join(tmpdir(), 'overlay-bench-loading-'));
    const origins = await Peer.start(ORIGIN_PEER);
    const stops: Array<() => Promise<unknown>> = [];
    try {
      // One origin per path, so requests one path left in service never slow the next one's measurement.
      const [forOverlay, forUntuned, forTuned] = await startCollapsingOrigins(origins, ['origin-overlay', 'origin-untuned', 'origin-tuned']);
      const urls = new Map<Target, string>();
      const chains = [
        { target: UNTUNED, name: 'untuned', origin: forUntuned, serverOptions: '', backendLines: [] },
        { target: TUNED, name: 'tuned', origin: forTuned, serverOptions: ` maxconn ${COLLAPSING_ORIGIN.capacity}`, backendLines: [`timeout queue ${QUEUE_TIMEOUT_MS / 1000}s`] },
      ];
      for (const { target, name, origin, serverOptions, backendLines } of chains) {
        const [edgePort, innerPort] = [await freePort(), await freePort()];
        const inner = await haproxy(dir, `${name}-inner`, innerPort, `${new URL(origin).host}${serverOptions}`, backendLines);
        stops.push(() => stopChild(inner));
        const edge = await haproxy(dir, `${name}-edge`, edgePort, `127.0.0.1:${innerPort}`);
        stops.push(() => stopChild(edge));
        urls.set(target, `http://127.0.0.1:${edgePort}${WORK_PATH}`);
      }
      progress('starting overlay back-end and front-end (default adaptive origin limit)');
      const gateways = await overlay(dir, [forOverlay]);
      stops.push(() => Promise.all(gateways.processes.map((p) => p.stop())));
      urls.set(OVERLAY, `${gateways.url}${WORK_PATH}`);
      await prime(urls.get(OVERLAY)!, SITE, COLLAPSING_ORIGIN.capacity);

      const measured = new Map<Target, ClosedLoopResult[]>(TARGETS.map((target) => [target, []]));
      const limits: number[] = [];
      for (const multiple of MULTIPLES) {
        const connections = multiple * COLLAPSING_ORIGIN.capacity;
        // Interleaved per level, so a noisy neighbour spreads over all three paths alike.
        for (const target of TARGETS) {
          const watch = target === OVERLAY ? watchLimits(gateways.backEndAdmin) : undefined;
          const r = await closedLoop({ url: urls.get(target)!, host: SITE, connections, warmupMs: WARMUP_MS, durationMs: MEASURE_MS, deadlineMs: CLIENT_DEADLINE_MS });
          measured.get(target)!.push(r);
          progress(describe(`${multiple}× (${connections} clients) ${target}`, r));
          if (!watch) continue;
          const limit = await watch.stop();
          limits.push(limit.mean);
          progress(`${multiple}×: overlay's adaptive origin limit ${limit.min}–${limit.max}, mean ${limit.mean.toFixed(1)} (origin capacity ${COLLAPSING_ORIGIN.capacity})`);
        }
      }
      progress(`overlay's limit changes by reason: ${JSON.stringify((await limitState(gateways.backEndAdmin)).changes)}`);
      const two = await twoBackEnds(dir, origins, stops, progress);
      return { results: [...results(measured, limits), ...two], charts: charts(measured) };
    } finally {
      for (const stop of stops.reverse()) await stop().catch(() => {});
      await origins.call('stop').catch(() => {});
      await origins.stop();
      await rm(dir, { recursive: true, force: true });
    }
  },
};

/**
 * One origin served by two back-ends (the budget split by the manager) vs HAProxy's static split of
 * maxconn over two inner proxies, at TWO_MULTIPLE× capacity; rounds interleaved, the median goodput kept.
 */
async function twoBackEnds(dir: string, origins: Peer, stops: Array<() => Promise<unknown>>, progress: (line: string) => void): Promise<BenchResult[]> {
  const [forOverlay, forTuned] = await startCollapsingOrigins(origins, ['origin-two-overlay', 'origin-two-tuned']);
  progress('starting a manager, two back-ends and a front-end sharing one origin budget; HAProxy edge over two inners');
  const gateways = await overlayTwoBackEnds(dir, [forOverlay], COLLAPSING_ORIGIN.capacity);
  stops.push(() => Promise.all(gateways.processes.map((p) => p.stop())));
  const tuned = await haproxyTwoInners(dir, forTuned, COLLAPSING_ORIGIN.capacity / 2, QUEUE_TIMEOUT_MS / 1000);
  stops.push(() => tuned.stop());
  await prime(`${gateways.url}${WORK_PATH}`, SITE, COLLAPSING_ORIGIN.capacity);
  const connections = TWO_MULTIPLE * COLLAPSING_ORIGIN.capacity;
  const runs: Record<string, ClosedLoopResult[]> = { [OVERLAY_TWO]: [], [TUNED_TWO]: [] };
  for (let round = 0; round < TWO_ROUNDS; round++) {
    for (const [name, url] of [[OVERLAY_TWO, gateways.url], [TUNED_TWO, tuned.url]] as const) {
      const watch = name === OVERLAY_TWO ? gateways.backEndAdmins.map((admin) => watchLimits(admin)) : [];
      const r = await closedLoop({ url: `${url}${WORK_PATH}`, host: SITE, connections, warmupMs: WARMUP_MS, durationMs: MEASURE_MS, deadlineMs: CLIENT_DEADLINE_MS });
      runs[name].push(r);
      progress(describe(`${TWO_MULTIPLE}× (${connections} clients) round ${round + 1} ${name}`, r));
      if (watch.length === 0) continue;
      const seen = await Promise.all(watch.map((w) => w.stop()));
      progress(`two back-ends' limits (each capped by its share): max ${seen.map((limit) => limit.max).join(' + ')}, mean ${seen.map((limit) => limit.mean.toFixed(1)).join(' + ')}`);
    }
  }
  const total = (measured: ClosedLoopResult[]) => measured.reduce((sum, r) => sum + failures(r), 0);
  const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
  const pick = (name: string, field: 'goodput' | 'p99') => median(runs[name].map((r) => r[field]));
  const level = `at ${TWO_MULTIPLE}× capacity, two back-ends`;
  return [
    result(`goodput ${level}`, '2xx/s', pick(OVERLAY_TWO, 'goodput'), TUNED_TWO, pick(TUNED_TWO, 'goodput')),
    result(`p99 latency ${level}`, 'ms', pick(OVERLAY_TWO, 'p99'), TUNED_TWO, pick(TUNED_TWO, 'p99')),
    result(`requests not goodput ${level}, all rounds`, 'requests', total(runs[OVERLAY_TWO]), TUNED_TWO, total(runs[TUNED_TWO])),
  ];
}

function results(measured: Map<Target, ClosedLoopResult[]>, limits: number[]): BenchResult[] {
  const rows: BenchResult[] = [];
  MULTIPLES.forEach((multiple, i) => {
    const [through, untuned, tuned] = TARGETS.map((target) => measured.get(target)![i]);
    const level = `at ${multiple}× capacity`;
    rows.push(
      result(`goodput ${level}`, '2xx/s', through.goodput, UNTUNED, untuned.goodput),
      result(`goodput ${level}`, '2xx/s', through.goodput, TUNED, tuned.goodput),
      result(`p99 latency ${level}`, 'ms', through.p99, UNTUNED, untuned.p99),
      result(`p99 latency ${level}`, 'ms', through.p99, TUNED, tuned.p99),
      result(`overlay's adaptive origin limit ${level} (mean while loaded)`, 'requests', limits[i], 'origin capacity', COLLAPSING_ORIGIN.capacity),
    );
    // Only levels where something was refused, failed or given up get these rows.
    if ([through, untuned, tuned].some((r) => failures(r) > 0)) {
      rows.push(
        result(`requests not goodput ${level}`, 'requests', failures(through), UNTUNED, failures(untuned)),
        result(`requests not goodput ${level}`, 'requests', failures(through), TUNED, failures(tuned)),
      );
    }
  });
  return rows;
}

function charts(measured: Map<Target, ClosedLoopResult[]>): Chart[] {
  const x = `offered load, × origin capacity (closed loop: ${COLLAPSING_ORIGIN.capacity} clients per ×)`;
  const series = (pick: (r: ClosedLoopResult) => number) =>
    TARGETS.map((target) => ({ name: target, points: measured.get(target)!.map((r, i): [number, number] => [MULTIPLES[i], round(pick(r))]) }));
  return [
    { title: 'Goodput vs offered load', x, y: 'goodput, 2xx/s', series: series((r) => r.goodput) },
    { title: 'p99 latency vs offered load', x, y: 'p99 latency, ms', series: series((r) => r.p99) },
  ];
}
