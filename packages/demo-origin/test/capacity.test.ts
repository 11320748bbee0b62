import test from 'ava';
import { ServiceModel } from '@overlay/demo-origin';

/** Admits `count` requests at time 0 and returns when each finished, ms. */
function finishTimes(capacity: number, count: number, serviceMs = 100, overloadPenalty = 1): number[] {
  const model = new ServiceModel<number>({ capacity, serviceMs, overloadPenalty }, 0);
  for (let job = 0; job < count; job++) model.admit(job, 0);
  const done: number[] = [];
  let now = 0;
  while (model.inService > 0) {
    now += model.nextCompletionMs()!;
    for (const job of model.advance(now)) done[job] = now;
  }
  return done;
}

const throughput = (capacity: number, count: number): number => count / Math.max(...finishTimes(capacity, count));

test('model: up to capacity every request takes serviceMs', (t) => {
  for (const count of [1, 2, 4]) t.deepEqual(finishTimes(4, count).map(Math.round), Array(count).fill(100));
});

test('model: past capacity every request slows and throughput falls', (t) => {
  const atCapacity = throughput(4, 4);
  const double = throughput(4, 8);
  const quadruple = throughput(4, 16);
  t.true(Math.min(...finishTimes(4, 8)) > 100, 'nobody finishes in serviceMs');
  t.true(Math.abs(double - atCapacity / 2) < 1e-9, 'penalty 1 halves throughput at 2x capacity');
  t.true(quadruple < double);
});

test('model: penalty 0 is a plateau, not a collapse', (t) => {
  const model = new ServiceModel<number>({ capacity: 4, serviceMs: 100, overloadPenalty: 0 }, 0);
  t.is(model.speed(8) * 8, 4);
  t.is(model.speed(40) * 40, 4);
});

test('model: no capacity (Infinity) never slows', (t) => {
  t.deepEqual(finishTimes(Infinity, 50).map(Math.round), Array(50).fill(100));
});

test('model: a request arriving later finishes serviceMs after it came when below capacity', (t) => {
  const model = new ServiceModel<string>({ capacity: 2, serviceMs: 100, overloadPenalty: 1 }, 0);
  model.admit('a', 0);
  model.admit('b', 60);
  t.deepEqual(model.advance(99), []);
  t.deepEqual(model.advance(100), ['a']);
  t.deepEqual(model.advance(160), ['b']);
});

test('model: speed changes as requests leave (piecewise), in one advance', (t) => {
  // capacity 1, two requests: both at speed 1/4 until the shorter one is done, then full speed.
  const model = new ServiceModel<string>({ capacity: 1, serviceMs: 100, overloadPenalty: 1 }, 0);
  model.admit('a', 0);
  model.cancel('nobody', 0);
  model.admit('b', 0);
  t.deepEqual(model.advance(399), []);
  t.deepEqual(model.advance(400).sort(), ['a', 'b']);
  model.admit('c', 400);
  model.admit('d', 450); // c has 50 ms of work left when d arrives
  t.deepEqual(model.advance(450 + 200), ['c']);
  t.deepEqual(model.advance(450 + 200 + 50), ['d'], 'd did 50 ms of work while sharing, 50 alone');
});

test('model: cancelling frees capacity for the rest', (t) => {
  const model = new ServiceModel<string>({ capacity: 1, serviceMs: 100, overloadPenalty: 1 }, 0);
  model.admit('a', 0);
  model.admit('b', 0);
  model.cancel('b', 0);
  t.deepEqual(model.advance(100), ['a']);
});
