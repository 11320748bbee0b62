import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { result, round, type BenchResult, type Chart, type Scenario } from '../harness.js';
import { Peer } from '../measure.js';
import { requireTool } from '../tools.js';
import { closedLoop, failures, type ClosedLoopResult } from './closed-loop.js';
import { overlay, SITE } from './gateway.js';
import { COLLAPSING_ORIGIN, describe, ORIGIN_PEER, prime, PRIME_MS, startCollapsingOrigins, watchLimits, WORK_PATH } from './load.js';
import { overlayTwoBackEnds } from './two-back-ends.js';

/** Concurrent sessions: keep-alive client connections, one request outstanding on each. */
const SESSIONS = [1, 5, 20, 50, 100];
const WARMUP_MS = 2_000;
const MEASURE_MS = 4_000;
/** A request unanswered after this is given up (wrk's default timeout); any given up = the level did not finish, ms. */
const GIVE_UP_MS = 2_000;

const OVERLAY = 'overlay, two origins behind one back-end';
const DIRECT = 'one origin directly';
const TWO = `overlay, two origins behind two back-ends (each origin's maxConcurrency ${COLLAPSING_ORIGIN.capacity} shared)`;
/** Sessions at which the two-back-end path is measured too. */
const TWO_SESSIONS = [20, 100];

/** Seed 003 Table 2, 1 KB file, requests/s: sessions → [single server, depot with two servers]; at 100 the single server could not finish. */
const SEED_TABLE_2: Array<[sessions: number, single: number, depot: number]> = [
  [1, 55.16, 46.95],
  [5, 82.19, 46.88],
  [10, 78.31, 82.55],
  [15, 54.03, 84.21],
  [20, 34.87, 92.29],
  [25, 27.55, 97.23],
];

export const seed003Scenario: Scenario = {
  name: 'seed-003',
  description:
    `The shape of seed 003's Table 2 (1 KB file, requests/s; at 20 sessions two servers behind the depot 92.29 vs one server 34.87 = 2.65×, ` +
    `and at 100 the single server could not finish): ${SESSIONS.join(', ')} closed-loop sessions (keep-alive, one request outstanding each; ` +
    `${WARMUP_MS / 1000} s warm-up then ${MEASURE_MS / 1000} s, the fresh overlay first primed for ${PRIME_MS / 1000} s) ` +
    `asking for 1 KiB from origins that collapse past ${COLLAPSING_ORIGIN.capacity} concurrent requests (the loading scenario's model): ${OVERLAY} (default adaptive limits, least-outstanding balancing) vs ${DIRECT}. ` +
    `Requests unanswered after ${GIVE_UP_MS / 1000} s are given up; a side that gave any up "did not finish" that level, as the seed's X. ` +
    `At ${TWO_SESSIONS.join(' and ')} sessions also ${TWO}, against the same direct origin.`,
  async run(progress) {
    await requireTool('curl', 'curl'); // the overlay's start-up check
    const dir = await mkdtemp(join(tmpdir(), 'overlay-bench-seed-003-'));
    const origins = await Peer.start(ORIGIN_PEER);
    const stops: Array<() => Promise<unknown>> = [];
    try {
      // The direct origin is apart from the overlay's two, so neither path's leftovers slow the other.
      const [direct, first, second, ...twoPair] = await startCollapsingOrigins(origins, ['origin-direct', 'origin-1', 'origin-2', 'origin-3', 'origin-4']);
      const pair = [first, second];
      progress('starting overlay back-end and front-end (two origins, default adaptive origin limits)');
      const gateways = await overlay(dir, pair);
      stops.push(() => Promise.all(gateways.processes.map((p) => p.stop())));
      await prime(`${gateways.url}${WORK_PATH}`, SITE, 2 * COLLAPSING_ORIGIN.capacity);
      progress('starting a manager, two back-ends and a front-end for the two-back-end row');
      const two = await overlayTwoBackEnds(dir, twoPair, COLLAPSING_ORIGIN.capacity);
      stops.push(() => Promise.all(two.processes.map((p) => p.stop())));
      await prime(`${two.url}${WORK_PATH}`, SITE, 2 * COLLAPSING_ORIGIN.capacity);
      const twoRows: BenchResult[] = [];

      const measured = { [OVERLAY]: [] as ClosedLoopResult[], [DIRECT]: [] as ClosedLoopResult[] };
      for (const connections of SESSIONS) {
        const load = { host: SITE, connections, warmupMs: WARMUP_MS, durationMs: MEASURE_MS, deadlineMs: GIVE_UP_MS };
        const alone = await closedLoop({ ...load, url: `${direct}${WORK_PATH}` });
        measured[DIRECT].push(alone);
        progress(describe(`${connections} sessions, ${DIRECT}`, alone));
        const watch = watchLimits(gateways.backEndAdmin);
        const behind = await closedLoop({ ...load, url: `${gateways.url}${WORK_PATH}` });
        const limit = await watch.stop();
        measured[OVERLAY].push(behind);
        progress(`${describe(`${connections} sessions, ${OVERLAY}`, behind)}; sum of origin limits ${limit.min}–${limit.max}, mean ${limit.mean.toFixed(1)}`);
        if (!TWO_SESSIONS.includes(connections)) continue;
        const spread = await closedLoop({ ...load, url: `${two.url}${WORK_PATH}` });
        progress(describe(`${connections} sessions, ${TWO}`, spread));
        const unfinished = failures(alone) > 0 ? ' (did not finish)' : '';
        twoRows.push(result(`1 KiB req/s at ${connections} sessions, two back-ends`, 'req/s', spread.goodput, `${DIRECT}${unfinished}`, alone.goodput));
        if (failures(spread) + failures(alone) > 0) {
          twoRows.push(result(`requests given up or failed at ${connections} sessions, two back-ends`, 'requests', failures(spread), DIRECT, failures(alone)));
        }
      }
      return { results: [...results(measured[OVERLAY], measured[DIRECT]), ...twoRows], charts: charts(measured[OVERLAY], measured[DIRECT]) };
    } finally {
      for (const stop of stops.reverse()) await stop().catch(() => {});
      await origins.call('stop').catch(() => {});
      await origins.stop();
      await rm(dir, { recursive: true, force: true });
    }
  },
};

function results(behind: ClosedLoopResult[], alone: ClosedLoopResult[]): BenchResult[] {
  const rows: BenchResult[] = [];
  SESSIONS.forEach((sessions, i) => {
    const unfinished = failures(alone[i]) > 0 ? ' (did not finish)' : '';
    rows.push(result(`1 KiB req/s at ${sessions} sessions`, 'req/s', behind[i].goodput, `${DIRECT}${unfinished}`, alone[i].goodput));
    // Only levels where a side gave up or lost requests get this row.
    if (failures(behind[i]) + failures(alone[i]) > 0) {
      rows.push(result(`requests given up or failed at ${sessions} sessions`, 'requests', failures(behind[i]), DIRECT, failures(alone[i])));
    }
  });
  return rows;
}

function charts(behind: ClosedLoopResult[], alone: ClosedLoopResult[]): Chart[] {
  const x = 'concurrent sessions';
  const curve = (measured: ClosedLoopResult[]) => measured.map((r, i): [number, number] => [SESSIONS[i], r.goodput]);
  // A level the single origin did not finish has no speed-up, as the seed's X.
  const speedUp = SESSIONS.flatMap((sessions, i): Array<[number, number]> =>
    alone[i].goodput > 0 && failures(alone[i]) === 0 ? [[sessions, round(behind[i].goodput / alone[i].goodput)]] : []);
  return [
    { title: 'Requests/s vs concurrent sessions (1 KiB)', x, y: 'requests/s', series: [{ name: OVERLAY, points: curve(behind) }, { name: DIRECT, points: curve(alone) }] },
    {
      title: 'Speed-up over one origin vs concurrent sessions',
      x,
      y: 'requests/s ÷ one origin\'s',
      series: [
        { name: 'this run: overlay with two origins ÷ one origin', points: speedUp },
        { name: 'seed 003 Table 2 (1 KB): depot with two servers ÷ one server', points: SEED_TABLE_2.map(([sessions, single, depot]) => [sessions, round(depot / single)]) },
      ],
    },
  ];
}
