import test from 'ava';
import fc from 'fast-check';
import { modelServiceTimeMs, modelThroughputPerSec, type OriginModel } from '@overlay/admission';

test('service time is constant up to capacity, then grows', (t) => {
  const model: OriginModel = { capacity: 10, serviceTimeMs: 40, collapseFactor: 1 };
  t.is(modelServiceTimeMs(model, 1), 40);
  t.is(modelServiceTimeMs(model, 10), 40);
  t.is(modelServiceTimeMs(model, 20), 40 * 2 * 2);
  t.is(modelThroughputPerSec(model, 10), 250);
  t.is(modelThroughputPerSec(model, 20), 125, 'at 2 × capacity throughput is 1 / (1 + collapseFactor) of the peak');
  t.is(modelThroughputPerSec(model, 0), 0);
});

test('throughput peaks at capacity: flat past it without collapse, falling with it', (t) => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 500 }),
      fc.double({ min: 0.1, max: 1000, noNaN: true }),
      fc.integer({ min: 0, max: 50 }).map((tenths) => tenths / 10),
      fc.integer({ min: 1, max: 2000 }),
      (capacity, serviceTimeMs, collapseFactor, concurrency) => {
        const model = { capacity, serviceTimeMs, collapseFactor };
        const peak = modelThroughputPerSec(model, capacity);
        const got = modelThroughputPerSec(model, concurrency);
        if (got > peak * (1 + 1e-9)) return false;
        if (concurrency > capacity && collapseFactor === 0) return Math.abs(got - peak) <= peak * 1e-9;
        return concurrency <= capacity || collapseFactor === 0 || got < peak;
      },
    ),
  );
  t.pass();
});
