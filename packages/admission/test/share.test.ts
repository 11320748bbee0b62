import test from 'ava';
import { LimitController, OriginLimit, SiteQueue, StaticLimit, type Grant } from '@overlay/admission';
import { FakeTimers, flush } from './fake-timers.js';

const OK = { latencyMs: 10, ok: true, bytes: 100 };



test('an OriginLimit never grants past its share; raising the share hands slots to waiters at once', async (t) => {
  const timers = new FakeTimers();
  const origin = new OriginLimit('o', new StaticLimit(8));
  origin.setCeiling(0);
  const queue = new SiteQueue([origin], { queueTimeoutMs: 10_000, maxQueue: 100 }, { timers });
  const grants: Grant[] = [];
  for (let i = 0; i < 5; i++) void queue.submit((candidates) => candidates[0]).then((grant) => grants.push(grant));
  await flush();
  t.is(grants.length, 0, 'a share of 0 sends nothing');
  t.is(origin.waiting, 5);
  origin.setCeiling(3);
  await flush();
  t.is(grants.length, 3);
  t.is(origin.inFlight, 3);
  origin.setCeiling(1);
  grants[0].release(OK);
  await flush();
  t.is(grants.length, 3, 'above the lowered share: a freed slot is not reused');
  grants[1].release(OK);
  grants[2].release(OK);
  await flush();
  t.is(grants.length, 4);
  t.is(origin.inFlight, 1);
  t.throws(() => origin.setCeiling(-1), { instanceOf: RangeError });
});




test('a new share is reported held at once when no more is in service, else once enough requests finished', (t) => {
  let held = 0;
  const origin = new OriginLimit('o', new StaticLimit(8), () => held++);
  origin.setCeiling(4);
  t.is(held, 1, 'nothing in service: held at once');
  for (let i = 0; i < 4; i++) t.true(origin.acquire());
  origin.setCeiling(4);
  t.is(held, 1, 'the same share again is no news');
  origin.setCeiling(2);
  t.is(held, 1, '4 in service above a share of 2');
  origin.release(OK);
  t.is(held, 1);
  origin.release(OK);
  t.is(held, 2, 'down to 2: the share holds');
  origin.release(OK);
  t.is(held, 2);
});

test('long-lived connections are judged by accept latency with every slot still held (no probe)', (t) => {
  let now = 0;
  const controller = new LimitController({ probing: false, initialLimit: 12, minSamples: 5, windowMs: 100 }, { now: () => now });
  t.is(controller.snapshot.phase, 'adapting');
  const origin = new OriginLimit('tcp', controller);
  const connect = (latencyMs: number) => {
    if (!origin.acquire()) return false;
    now += 25;
    origin.observe({ latencyMs, ok: true, bytes: 0 });
    return true;
  };
  for (let i = 0; i < 10; i++) t.true(connect(2), 'connections open up to the limit without any having closed');
  t.is(origin.limit, 12);
  t.is(origin.inFlight, 10);
  for (let i = 0; i < 10; i++) origin.release(undefined);
  // Accept latency 10× the fastest window's with most of the limit open: the origin is struggling.
  for (let i = 0; i < 10; i++) connect(20);
  t.true(origin.limit < 12, `limit ${origin.limit}`);
});

test('ranked release: a waiter goes before every waiter of a higher rank, FIFO within a rank', async (t) => {
  const timers = new FakeTimers();
  const origin = new OriginLimit('o', new StaticLimit(1));
  const queue = new SiteQueue([origin], { queueTimeoutMs: 10_000, maxQueue: 100 }, { timers });
  const order: string[] = [];
  const first = await queue.submit((candidates) => candidates[0]);
  const grants: Grant[] = [];
  for (const [name, rank] of [['big-1', 5], ['small-1', 0], ['mid', 2], ['small-2', 0], ['big-2', 5]] as const) {
    void queue.submit((candidates) => candidates[0], { rank }).then((grant) => {
      order.push(name);
      grants.push(grant);
    });
  }
  first.release(OK);
  for (let i = 0; i < 5; i++) {
    await flush();
    grants.shift()?.release(OK);
  }
  await flush();
  t.deepEqual(order, ['small-1', 'small-2', 'mid', 'big-1', 'big-2']);
});
