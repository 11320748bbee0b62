import test from 'ava';
import fc from 'fast-check';
import {
  LimitController, defaultLimitControllerOptions, modelThroughputPerSec,
  type LimitControllerOptions, type OriginModel,
} from '@overlay/admission';
import { meanLimitBetween, simulate, throughputBetween } from './simulation.js';

/** Drives a controller by hand: one window of identical samples, spread over windowMs. */
function harness(options: Partial<LimitControllerOptions> = {}) {
  let now = 0;
  const reasons: string[] = [];
  const controller = new LimitController(options, { now: () => now, random: () => 0.5, onAdjust: (a) => reasons.push(a.reason) });
  const { windowMs, minSamples, probeSamples } = controller.options;
  return {
    controller,
    reasons,
    probe(latencyMs: number) {
      for (let i = 0; i < probeSamples; i++) {
        now += 1;
        controller.onSample({ latencyMs, ok: true, bytes: 100 }, { inFlight: 1, queued: 0 });
      }
    },
    advance(ms: number) {
      now += ms;
    },
    window(latencyMs: number, queued: number, { count = minSamples, failed = 0, inFlight = undefined as number | undefined } = {}) {
      for (let i = 0; i < count; i++) {
        now += windowMs / count;
        const ok = i >= failed;
        controller.onSample({ latencyMs, ok, bytes: 100 }, { inFlight: inFlight ?? controller.limit, queued });
      }
    },
  };
}

test('starts by probing the baseline at probeLimit, then applies initialLimit', (t) => {
  const h = harness();
  t.is(h.controller.limit, defaultLimitControllerOptions.probeLimit);
  t.is(h.controller.snapshot.phase, 'probing');
  h.probe(10);
  t.is(h.controller.limit, defaultLimitControllerOptions.initialLimit);
  t.is(h.controller.snapshot.baselineMs, 10);
  t.is(h.controller.snapshot.phase, 'adapting');
});

test('grows by ⌈√limit⌉ when latency is near the baseline and work is queued, not when nothing waits', (t) => {
  const h = harness({ initialLimit: 9 });
  h.probe(10);
  h.window(10, 0); // the window right after a probe never grows
  h.window(10, 0);
  t.is(h.controller.limit, 9, 'nothing queued: no growth');
  h.window(10, 5);
  t.is(h.controller.limit, 12);
  h.window(10, 5); // goodput is judged by completions/s: same count in the same time is no gain
  t.is(h.controller.limit, 9);
  t.deepEqual(h.reasons.slice(-2), ['grow', 'goodput-plateau']);
});

test('an increase that raised goodput is kept and the next one follows', (t) => {
  const h = harness({ initialLimit: 9 });
  h.probe(10);
  h.window(10, 0);
  h.window(10, 5);
  t.is(h.controller.limit, 12);
  h.window(10, 5, { count: 40 }); // twice the completions per window
  t.is(h.controller.limit, 16);
});

test('shrinks multiplicatively by the gradient past the band, floored at decreaseFloor', (t) => {
  const h = harness({ initialLimit: 40 });
  h.probe(10);
  h.window(20, 5); // gradient = 10 × 1.5 / 20 = 0.75
  t.is(h.controller.limit, 30);
  h.window(100, 5); // gradient 0.15, floored at 0.5
  t.is(h.controller.limit, 15);
  t.deepEqual(h.reasons.slice(-2), ['congested', 'congested']);
});

test('a latency decrease that cost goodput in proportion is undone, and latency decreases wait a while', (t) => {
  const h = harness({ initialLimit: 8, holdWindows: 3 });
  h.probe(10);
  h.window(10, 50); // the window after a probe only holds
  h.window(30, 50, { count: 40 }); // slow, yet 40 done: gradient 0.5
  t.is(h.controller.limit, 4);
  h.window(30, 50, { count: 20 }); // half the limit, half the completions: the limit was the bottleneck
  t.is(h.controller.limit, 8);
  t.is(h.reasons.at(-1), 'goodput-loss');
  h.window(30, 50, { count: 40 });
  h.window(30, 50, { count: 40 });
  t.is(h.controller.limit, 8, 'held: latency alone does not cut again at once');
});

test('a latency decrease that kept goodput stays (a congested origin serves as much with fewer)', (t) => {
  const h = harness({ initialLimit: 8 });
  h.probe(10);
  h.window(10, 50);
  h.window(30, 50, { count: 40 });
  t.is(h.controller.limit, 4);
  h.window(14, 50, { count: 40 });
  t.is(h.controller.limit, 4);
  t.false(h.reasons.includes('goodput-loss'));
});

test('inside the band it tries one more while work waits, undone when goodput does not follow, and gives back one when nothing waits', (t) => {
  const h = harness({ initialLimit: 20 });
  h.probe(10);
  h.window(13, 5); // 1.3 × baseline: between growthTolerance and tolerance; the window after a probe only holds
  t.is(h.controller.limit, 20);
  h.window(13, 5);
  t.is(h.controller.limit, 21);
  t.is(h.reasons.at(-1), 'band-trial');
  h.window(13, 5); // same completions per window: the one more bought nothing
  t.is(h.controller.limit, 20);
  t.is(h.reasons.at(-1), 'goodput-plateau');
  h.window(13, 5);
  t.is(h.controller.limit, 20, 'held after the undo');
  h.window(13, 0);
  t.is(h.controller.limit, 19);
  t.is(h.reasons.at(-1), 'idle-latency');
});

test('inside the band, trials that raise goodput are kept: the limit climbs', (t) => {
  const h = harness({ initialLimit: 8 });
  h.probe(10);
  h.window(13, 5);
  h.window(13, 5, { count: 20 });
  t.is(h.controller.limit, 9);
  h.window(13, 5, { count: 25 }); // +25 % for +12.5 % concurrency
  t.is(h.controller.limit, 10);
  t.deepEqual(h.reasons.slice(-2), ['band-trial', 'band-trial']);
});

test('a pause with nothing in flight does not count against an increase: goodput is judged on busy time', (t) => {
  let now = 0;
  const reasons: string[] = [];
  const controller = new LimitController({}, { now: () => now, random: () => 0.5, onAdjust: (a) => reasons.push(a.reason) });
  const sample = (queued: number, inFlight = controller.limit) => controller.onSample({ latencyMs: 10, ok: true, bytes: 100 }, { inFlight, queued });
  for (let i = 0; i < controller.options.probeSamples; i++) (now += 1, sample(0, 1));
  for (let i = 0; i < 40; i++) (now += 50, sample(5)); // 20/s with work queued: the second window grows
  t.is(controller.limit, 11);
  for (let i = 0; i < 10; i++) (now += 50, sample(5));
  sample(0, 1); // the queue drained and the last request finished: the origin goes quiet
  now += 10_000;
  for (let i = 0; i < 30; i++) (now += 33, sample(5)); // busy again at 30/s, more than the 8 → 11 step asks
  t.false(reasons.includes('goodput-plateau'), reasons.join(' '));
  t.true(controller.limit >= 11);
});

test('failures past maxErrorRatio cut the limit by decreaseFloor', (t) => {
  const h = harness({ initialLimit: 20 });
  h.probe(10);
  h.window(10, 5, { failed: 10 });
  t.is(h.controller.limit, 10);
  t.is(h.reasons.at(-1), 'errors');
});

test('a window faster than the baseline lowers the baseline', (t) => {
  const h = harness();
  h.probe(10);
  h.window(6, 0);
  t.is(h.controller.snapshot.baselineMs, 6);
});

test('probe ignores completions of work sent before it, still at high concurrency', (t) => {
  const controller = new LimitController({ probeSamples: 3 }, { now: () => 0 });
  for (let i = 0; i < 5; i++) controller.onSample({ latencyMs: 500, ok: true, bytes: 0 }, { inFlight: 40 - i, queued: 9 });
  t.is(controller.snapshot.phase, 'probing');
  for (let i = 0; i < 3; i++) controller.onSample({ latencyMs: 20, ok: true, bytes: 0 }, { inFlight: 2, queued: 9 });
  t.is(controller.snapshot.baselineMs, 20);
});

test('rejects options outside their ranges', (t) => {
  t.throws(() => new LimitController({ minLimit: 10, maxLimit: 5 }), { instanceOf: RangeError });
  t.throws(() => new LimitController({ initialLimit: 500 }), { instanceOf: RangeError });
  t.throws(() => new LimitController({ tolerance: 1.1, growthTolerance: 1.2 }), { instanceOf: RangeError });
  t.throws(() => new LimitController({ decreaseFloor: 1 }), { instanceOf: RangeError });
  t.throws(() => new LimitController({ percentile: 2 }), { instanceOf: RangeError });
});

test('raises the limit to maxLimit for an origin whose latency stays flat as concurrency grows', (t) => {
  const model: OriginModel = { capacity: 100_000, serviceTimeMs: 100, collapseFactor: 0 };
  const run = simulate({ model, limit: { maxLimit: 100 }, durationMs: 60_000 });
  const reachedAt = run.trace.find(([, limit]) => limit === 100)?.[0];
  t.truthy(reachedAt !== undefined && reachedAt < 30_000, `reached maxLimit at ${reachedAt} ms`);
  t.true(meanLimitBetween(run, 30_000, 60_000) > 90);
  t.true(run.adjustments.every((a) => a.reason === 'grow' || a.reason.startsWith('probe')));
  t.true(throughputBetween(run, 30_000, 60_000) > 900, 'about 100 in flight / 100 ms');
});

const knees: Array<[string, OriginModel]> = [
  ['thrashing origin', { capacity: 20, serviceTimeMs: 50, collapseFactor: 1 }],
  ['processor-sharing origin (flat throughput past N)', { capacity: 30, serviceTimeMs: 40, collapseFactor: 0 }],
  ['slow origin that collapses hard', { capacity: 8, serviceTimeMs: 200, collapseFactor: 3 }],
];

for (const [name, model] of knees) {
  test(`finds and holds the knee: ${name}`, (t) => {
    const durationMs = 240_000;
    const adaptive = simulate({ model, limit: {}, durationMs, clients: 300 });
    const unlimited = simulate({ model, limit: { fixed: 256 }, durationMs, clients: 300 });
    const N = model.capacity;
    const mean = meanLimitBetween(adaptive, 60_000, durationMs);
    t.true(mean >= 0.75 * N && mean <= 1.35 * N, `mean limit ${mean.toFixed(1)} for knee ${N}`);
    const late = adaptive.trace.filter(([at]) => at >= 60_000);
    const above = late.filter(([, limit]) => limit > 1.5 * N).length / late.length;
    t.true(above < 0.02, `above 1.5 N ${(above * 100).toFixed(1)} % of the time`);
    const peak = modelThroughputPerSec(model, N);
    const got = throughputBetween(adaptive, 60_000, durationMs);
    t.true(got >= 0.85 * peak, `throughput ${got.toFixed(1)}/s of peak ${peak.toFixed(1)}/s`);
    if (model.collapseFactor > 0) {
      const plain = throughputBetween(unlimited, 60_000, durationMs);
      t.true(got >= 3 * plain, `limited ${got.toFixed(1)}/s vs unlimited ${plain.toFixed(1)}/s`);
    }
  });
}

test('a gateway host that adds latency to every request (inside the band) does not hold the limit below the knee until the next probe', (t) => {
  const model: OriginModel = { capacity: 20, serviceTimeMs: 50, collapseFactor: 1 };
  // The baseline is probed before the host slows: every later sample is 1.4 × it, inside the band.
  const run = simulate({ model, limit: {}, durationMs: 40_000, clients: 300, hostDelayMs: (at) => (at < 2_000 ? 0 : 20) });
  const mean = meanLimitBetween(run, 20_000, 40_000);
  t.true(mean >= 0.75 * model.capacity && mean <= 1.35 * model.capacity, `mean limit ${mean.toFixed(1)} for knee ${model.capacity}`);
  t.true(run.adjustments.some((a) => a.reason === 'band-trial'));
});

test('undoes increases that did not raise goodput (flat throughput past the knee)', (t) => {
  const model: OriginModel = { capacity: 30, serviceTimeMs: 40, collapseFactor: 0 };
  const run = simulate({ model, limit: {}, durationMs: 120_000, clients: 300 });
  const undone = run.adjustments.filter((a) => a.reason === 'goodput-plateau');
  t.true(undone.length >= 3);
  t.true(undone.every((a) => a.to < a.from && a.from > model.capacity));
  t.true(meanLimitBetween(run, 30_000, 120_000) <= 1.2 * model.capacity);
});

test('keeps the knee after the origin slows down for good', (t) => {
  const model = (at: number): OriginModel => ({ capacity: 20, serviceTimeMs: at < 60_000 ? 20 : 80, collapseFactor: 1 });
  const run = simulate({ model, limit: {}, durationMs: 240_000, clients: 300 });
  // The old baseline makes every window look congested (the probe waits: work is always queued), but a
  // cut below the knee loses goodput in proportion and is undone.
  t.true(run.adjustments.some((a) => a.at > 60_000 && a.reason === 'goodput-loss'));
  const mean = meanLimitBetween(run, 150_000, 240_000);
  t.true(mean >= 15 && mean <= 27, `mean limit ${mean.toFixed(1)}`);
  t.true(throughputBetween(run, 150_000, 240_000) >= 0.85 * modelThroughputPerSec(model(100_000), 20));
});

test('does not grow an origin nobody queues for', (t) => {
  const run = simulate({ model: { capacity: 100, serviceTimeMs: 50, collapseFactor: 1 }, limit: {}, durationMs: 60_000, clients: 5 });
  t.true(run.trace.every(([, limit]) => limit <= defaultLimitControllerOptions.initialLimit));
});

test('shrinks to minLimit when most requests fail', (t) => {
  const run = simulate({ model: { capacity: 20, serviceTimeMs: 50, collapseFactor: 1 }, limit: { minLimit: 3, probeLimit: 3 }, durationMs: 30_000, failureRatio: 0.5 });
  t.is(run.trace.at(-1)?.[1], 3);
});

test('property: the limit never leaves [minLimit, maxLimit] and no request is sent past it', (t) => {
  fc.assert(
    fc.property(
      fc.record({
        capacity: fc.integer({ min: 1, max: 150 }),
        serviceTimeMs: fc.integer({ min: 1, max: 500 }),
        collapseFactor: fc.double({ min: 0, max: 4, noNaN: true }),
      }),
      fc.integer({ min: 1, max: 20 }),
      fc.integer({ min: 0, max: 200 }),
      fc.double({ min: 0, max: 0.6, noNaN: true }),
      fc.integer({ min: 1, max: 400 }),
      fc.integer(),
      (model, minLimit, span, failureRatio, clients, seed) => {
        const maxLimit = minLimit + span;
        const options = { minLimit, maxLimit, initialLimit: minLimit + (span >> 1), probeLimit: minLimit, windowMs: 200, minSamples: 5 };
        const run = simulate({ model, limit: options, durationMs: 120_000, clients, failureRatio, seed, maxCompletions: 8000 });
        for (const a of run.adjustments) if (a.to < minLimit || a.to > maxLimit || !Number.isInteger(a.to)) return false;
        for (const [, limit, inFlight] of run.trace) if (limit < minLimit || limit > maxLimit || inFlight > Math.max(limit, maxLimit)) return false;
        return run.worstGrant.inFlight <= run.worstGrant.limit;
      },
    ),
    { numRuns: 60 },
  );
  t.pass();
});

test('a ceiling caps the adaptive law: the limit drops to it at once and grows no further', (t) => {
  const h = harness({ initialLimit: 9 });
  h.probe(10);
  h.controller.setCeiling(6);
  t.is(h.controller.limit, 6);
  t.is(h.reasons.at(-1), 'share');
  for (let i = 0; i < 10; i++) h.window(10, 50);
  t.is(h.controller.limit, 6, 'work queued and latency flat, yet the share holds it');
  h.controller.setCeiling(Infinity);
  h.window(10, 50);
  t.true(h.controller.limit > 6, 'without the cap the law grows again');
});

test('a share that dips and comes back restores the limit the law had reached', (t) => {
  const h = harness({ initialLimit: 9 });
  h.probe(10);
  h.controller.setCeiling(1);
  t.is(h.controller.limit, 1, 'below minLimit: a share of 1 is obeyed');
  for (let i = 0; i < 8; i++) h.window(10, 50);
  t.is(h.controller.snapshot.phase, 'adapting', 'held at the minimum by the share: no early probe');
  h.controller.setCeiling(6);
  t.is(h.controller.limit, 6, 'back up to the new share at once, not regrown from 1');
  h.controller.setCeiling(Infinity);
  t.is(h.controller.limit, 9, 'and to the law\'s own limit once uncapped');
  h.controller.setCeiling(4);
  h.window(100, 50); // congested at the capped limit: the law's verdict replaces what it had
  h.controller.setCeiling(Infinity);
  t.is(h.controller.limit, 2);
});

test('a due probe waits while work is queued, and runs once the queue empties', (t) => {
  const h = harness({ initialLimit: 16, probeIntervalMs: 5_000, probeMaxDeferMs: 60_000 });
  h.probe(10);
  h.advance(10_000);
  for (let i = 0; i < 5; i++) h.window(11, 20);
  t.is(h.controller.snapshot.phase, 'adapting', 'loaded: no probe');
  t.false(h.reasons.includes('probe-start'));
  t.true(h.controller.limit >= 16);
  h.window(11, 0);
  t.is(h.controller.snapshot.phase, 'probing', 'nothing queued: the probe runs');
});

test('a probe deferred for probeMaxDeferMs runs even under load', (t) => {
  const h = harness({ initialLimit: 16, probeIntervalMs: 5_000, probeMaxDeferMs: 20_000 });
  h.probe(10);
  h.advance(10_000);
  h.window(11, 20);
  t.is(h.controller.snapshot.phase, 'adapting');
  h.advance(20_000);
  h.window(11, 20);
  t.is(h.controller.snapshot.phase, 'probing');
});

test('slow requests on a quiet origin do not drag its limit down', (t) => {
  const h = harness({ initialLimit: 16 });
  h.probe(10);
  for (let i = 0; i < 10; i++) h.window(500, 0, { inFlight: 2 }); // 2 in flight of 16, 50× the baseline
  t.is(h.controller.limit, 16);
  h.window(500, 0, { inFlight: 12 }); // the same latency with most of the limit in use is congestion
  t.true(h.controller.limit < 16);
});
