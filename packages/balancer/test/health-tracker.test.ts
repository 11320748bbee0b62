import test from 'ava';
import fc from 'fast-check';
import { HealthTracker, type HealthChange, type HealthOptions } from '@overlay/balancer';
import { manualClock } from './support.js';

function tracker(options: Partial<HealthOptions> = {}): { health: HealthTracker; changes: HealthChange[]; clock: ReturnType<typeof manualClock> } {
  const clock = manualClock(1_000);
  const health = new HealthTracker({ origins: ['o'], clock: clock.now, options });
  const changes: HealthChange[] = [];
  health.onChange((change) => changes.push(change));
  return { health, changes, clock };
}

test('fall consecutive probe failures take an origin down; rise consecutive successes bring it back', (t) => {
  const { health, changes } = tracker({ rise: 2, fall: 3 });
  health.probeResult('o', false);
  health.probeResult('o', false);
  health.probeResult('o', true);
  health.probeResult('o', false);
  health.probeResult('o', false);
  t.true(health.isAvailable('o'), 'a success in between restarts the count');
  health.probeResult('o', false, 'connect ECONNREFUSED');
  t.false(health.isAvailable('o'));
  t.like(changes[0], { id: 'o', state: 'down', previous: 'up', reason: 'probe-failures', at: 1_000, detail: 'connect ECONNREFUSED' });
  health.probeResult('o', true);
  health.probeResult('o', false);
  health.probeResult('o', true);
  t.false(health.isAvailable('o'), 'a failure in between restarts the count');
  health.probeResult('o', true);
  t.true(health.isAvailable('o'));
  t.like(changes[1], { state: 'up', previous: 'down', reason: 'probe-recovered' });
  t.is(changes.length, 2);
});

test('state changes only after rise or fall consecutive results, so alternating results never flap (property)', (t) => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 5 }),
      fc.integer({ min: 1, max: 5 }),
      fc.array(fc.boolean(), { maxLength: 200 }),
      (rise, fall, results) => {
        const { health, changes } = tracker({ rise, fall });
        let run = { ok: true, length: 0 };
        results.forEach((ok, index) => {
          run = run.ok === ok ? { ok, length: run.length + 1 } : { ok, length: 1 };
          const before = changes.length;
          health.probeResult('o', ok);
          if (changes.length === before) return;
          const change = changes[changes.length - 1];
          const needed = change.state === 'down' ? fall : rise;
          if (change.state !== (ok ? 'up' : 'down') || run.length < needed) {
            throw new Error(`step ${index}: ${change.state} after a run of ${run.length} (needs ${needed})`);
          }
          // The count starts again from the change.
          run = { ok, length: 0 };
        });
        const alternating = results.map((_, index) => index % 2 === 0);
        const steady = tracker({ rise: Math.max(2, rise), fall: Math.max(2, fall) });
        alternating.forEach((ok) => steady.health.probeResult('o', ok));
        if (steady.changes.length > 0) throw new Error('alternating results changed the state');
      },
    ),
    { numRuns: 300 },
  );
  t.pass();
});

test('consecutive failed requests take an origin down; a good answer or a cancel in between does not count', (t) => {
  const { health, changes } = tracker({ passiveFailures: 3 });
  const fail = (outcome: 'error' | 'timeout'): void => {
    health.requestStarted('o');
    health.requestEnded('o', outcome, `origin ${outcome}`);
  };
  fail('error');
  fail('timeout');
  health.requestStarted('o');
  health.requestEnded('o', 'ok');
  fail('error');
  health.requestStarted('o');
  health.requestEnded('o', 'cancelled');
  fail('error');
  t.true(health.isAvailable('o'));
  fail('timeout');
  t.false(health.isAvailable('o'));
  t.like(changes[0], { state: 'down', reason: 'request-failures', detail: 'origin timeout' });
});

test('after passive failures only probes bring the origin back, not before its hold ends; repeated ejections hold longer', (t) => {
  const { health, changes, clock } = tracker({ passiveFailures: 1, rise: 2, passiveHoldMs: 5_000, passiveHoldMaxMs: 60_000 });
  const eject = (): void => {
    health.requestStarted('o');
    health.requestEnded('o', 'error');
  };
  eject();
  t.false(health.isAvailable('o'));
  eject();
  t.is(changes.length, 1, 'failures while down change nothing');
  health.requestStarted('o');
  health.requestEnded('o', 'ok');
  t.false(health.isAvailable('o'), 'a straggling good answer is not a recovery');
  health.probeResult('o', true);
  health.probeResult('o', true);
  t.false(health.isAvailable('o'), 'probes pass but the hold has not ended');
  clock.advance(4_999);
  health.tick();
  t.false(health.isAvailable('o'));
  clock.advance(1);
  health.tick();
  t.true(health.isAvailable('o'));
  t.like(changes[1], { state: 'up', reason: 'probe-recovered' });

  eject();
  health.probeResult('o', true);
  health.probeResult('o', true);
  clock.advance(5_000);
  health.tick();
  t.false(health.isAvailable('o'), 'the second ejection within a minute holds 10 s');
  clock.advance(5_000);
  health.tick();
  t.true(health.isAvailable('o'));

  clock.advance(60_000);
  eject();
  health.probeResult('o', true);
  health.probeResult('o', true);
  clock.advance(5_000);
  health.tick();
  t.true(health.isAvailable('o'), 'after a minute up the hold starts again from 5 s');
});

test('an origin silent for silenceMs with requests outstanding goes down; any answer restarts the wait', (t) => {
  const { health, changes, clock } = tracker({ silenceMs: 10_000 });
  health.tick();
  clock.advance(20_000);
  health.tick();
  t.true(health.isAvailable('o'), 'idle is not silent');
  health.requestStarted('o');
  health.requestStarted('o');
  clock.advance(8_000);
  health.requestEnded('o', 'ok');
  clock.advance(9_999);
  health.tick();
  t.true(health.isAvailable('o'));
  clock.advance(1);
  health.tick();
  t.false(health.isAvailable('o'));
  t.like(changes[0], { state: 'down', reason: 'no-response' });
  t.is(health.status('o')?.outstanding, 1);
});

test('slow start: weight factor ramps linearly from the fraction to 1 after recovery', (t) => {
  const { health, clock } = tracker({ fall: 1, rise: 1, slowStartMs: 10_000, slowStartFraction: 0.2 });
  t.is(health.weightFactor('o'), 1, 'no ramp for an origin that never went down');
  health.probeResult('o', false);
  health.probeResult('o', true);
  const near = (expected: number): boolean => Math.abs(health.weightFactor('o') - expected) < 1e-9;
  t.true(near(0.2));
  clock.advance(2_500);
  t.true(near(0.4));
  clock.advance(5_000);
  t.true(near(0.8));
  clock.advance(2_500);
  t.is(health.weightFactor('o'), 1);
  t.is(health.status('o')?.weightFactor, 1);
});

test('origins follow the configured set; unknown ids are ignored and count as available', (t) => {
  const { health, changes } = tracker({ fall: 1 });
  health.setOrigins(['o', 'p']);
  health.probeResult('p', false);
  t.false(health.isAvailable('p'));
  health.setOrigins(['o']);
  t.is(health.status('p'), undefined);
  health.probeResult('ghost', false);
  t.true(health.isAvailable('ghost'));
  t.deepEqual([...health.ids()], ['o']);
  t.is(changes.length, 1);
});

test('listeners can unsubscribe, and bad options are refused', (t) => {
  const { health } = tracker({ fall: 1, rise: 1 });
  const seen: string[] = [];
  const stop = health.onChange((change) => seen.push(change.state));
  health.probeResult('o', false);
  stop();
  health.probeResult('o', true);
  t.deepEqual(seen, ['down']);
  t.throws(() => new HealthTracker({ options: { rise: 0 } }), { message: /rise/ });
  t.throws(() => new HealthTracker({ options: { slowStartFraction: 0 } }), { message: /slowStartFraction/ });
});
