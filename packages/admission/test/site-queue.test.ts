import { getEventListeners } from 'node:events';
import test from 'ava';
import fc from 'fast-check';
import { OverlayError } from '@overlay/common';
import { OriginLimit, SiteQueue, StaticLimit, type Grant, type PickOrigin, type SampleContext } from '@overlay/admission';
import { FakeTimers, flush } from './fake-timers.js';

const OK = { latencyMs: 10, ok: true, bytes: 100 };
const first: PickOrigin = (candidates) => candidates[0];

function fixedOrigins(...limits: number[]): OriginLimit[] {
  return limits.map((limit, i) => new OriginLimit(`o${i}`, new StaticLimit(limit)));
}

function setup(limits: number[], options: ConstructorParameters<typeof SiteQueue>[1] = {}) {
  const timers = new FakeTimers();
  const origins = fixedOrigins(...limits);
  const queue = new SiteQueue(origins, { queueTimeoutMs: 1000, maxQueue: 100, ...options }, { timers });
  return { timers, origins, queue };
}

/** Records the order in which submissions get their grant. */
function track(queue: SiteQueue, count: number, pick: PickOrigin = first, granted: Array<[number, Grant]> = []) {
  const settled: Array<Promise<void>> = [];
  for (let id = 0; id < count; id++) {
    settled.push(queue.submit(pick).then((grant) => void granted.push([id, grant])));
  }
  return { granted, settled };
}

async function rejection(promise: Promise<unknown>): Promise<OverlayError> {
  const error = await promise.then(
    () => undefined,
    (err: unknown) => err,
  );
  if (!(error instanceof OverlayError)) throw new Error(`expected an OverlayError, got ${String(error)}`);
  return error;
}

test('grants at once when an origin has a free slot', async (t) => {
  const { queue, origins } = setup([2]);
  const grant = await queue.submit(first);
  t.is(grant.origin, origins[0]);
  t.is(grant.waitedMs, 0);
  t.is(origins[0]?.inFlight, 1);
  grant.release(OK);
  grant.release(OK); // a second release must not free a second slot
  t.is(origins[0]?.inFlight, 0);
});

test('FIFO under contention: one waiter dequeued per freed slot, in arrival order', async (t) => {
  const { queue, timers, origins } = setup([3]);
  const { granted } = track(queue, 12);
  await flush();
  t.deepEqual(granted.map(([id]) => id), [0, 1, 2]);
  t.is(queue.length, 9);
  // Release in a scrambled order; each release admits exactly the next in line.
  for (const index of [1, 0, 2, 4, 3, 5, 8, 6, 7]) {
    timers.advance(10);
    (granted[index] as [number, Grant])[1].release(OK);
    await flush();
    t.is(origins[0]?.inFlight, 3);
  }
  t.deepEqual(granted.map(([id]) => id), [...Array(12).keys()]);
  t.is(granted[3]?.[1].waitedMs, 10);
});

test('a newcomer does not overtake a waiter, even when a slot it could use is free', async (t) => {
  const { queue, origins } = setup([1, 1]);
  const [a, b] = origins as [OriginLimit, OriginLimit];
  const held = await queue.submit(() => a);
  const order: string[] = [];
  const waiting = queue.submit((c) => (c.includes(a) ? a : undefined)).then((g) => (order.push('wants-a'), g));
  const newcomer = queue.submit(first).then((g) => (order.push('newcomer'), g));
  await flush();
  t.is(b.inFlight, 0, 'b is free but the head of the queue waits for a');
  t.is(queue.length, 2);
  held.release(OK);
  await Promise.all([waiting, newcomer]);
  t.deepEqual(order, ['wants-a', 'newcomer']);
});

test('a waiter past queueTimeoutMs fails with ERR_QUEUE_TIMEOUT, told apart from an origin failure', async (t) => {
  const { queue, timers } = setup([1], { queueTimeoutMs: 500 });
  const held = await queue.submit(first);
  const waiting = queue.submit(first);
  timers.advance(499);
  await flush();
  t.is(queue.length, 1);
  timers.advance(1);
  const error = await rejection(waiting);
  t.is(error.code, 'ERR_QUEUE_TIMEOUT');
  t.is(error.origin, 'upstream');
  t.false(error.retryable);
  t.regex(error.message, /500 ms/);
  t.is(queue.length, 0);
  t.is(timers.pending, 0);
  held.release(OK);
});

test('past maxQueue waiters, ERR_QUEUE_FULL (retryable: nothing was sent)', async (t) => {
  const { queue } = setup([1], { maxQueue: 2 });
  await queue.submit(first);
  const waiters = [queue.submit(first), queue.submit(first)];
  const error = await rejection(queue.submit(first));
  t.is(error.code, 'ERR_QUEUE_FULL');
  t.true(error.retryable);
  t.is(queue.length, 2);
  void waiters.map((w) => w.catch(() => undefined));
});

test('maxQueue 0 means no waiting at all', async (t) => {
  const { queue } = setup([1], { maxQueue: 0 });
  await queue.submit(first);
  t.is((await rejection(queue.submit(first))).code, 'ERR_QUEUE_FULL');
});

test('ERR_NO_ORIGIN without a healthy origin, and queued work fails when the last one goes', async (t) => {
  const timers = new FakeTimers();
  const empty = new SiteQueue([], {}, { timers });
  t.is((await rejection(empty.submit(first))).code, 'ERR_NO_ORIGIN');

  const origins = fixedOrigins(1);
  let healthy = true;
  const queue = new SiteQueue(origins, {}, { timers, healthy: () => healthy });
  const held = await queue.submit(first);
  const waiting = queue.submit(first);
  healthy = false;
  queue.dispatch();
  const error = await rejection(waiting);
  t.is(error.code, 'ERR_NO_ORIGIN');
  t.true(error.retryable);
  t.is(timers.pending, 0);
  t.is((await rejection(queue.submit(first))).code, 'ERR_NO_ORIGIN');
  held.release(OK);
});

test('unhealthy origins are never offered to pick', async (t) => {
  const origins = fixedOrigins(5, 5);
  const queue = new SiteQueue(origins, {}, { timers: new FakeTimers(), healthy: (o) => o.id === 'o1' });
  const seen: string[][] = [];
  await queue.submit((c) => (seen.push(c.map((o) => o.id)), c[0]));
  t.deepEqual(seen, [['o1']]);
});

test('abort removes the waiter: no timer, no listener, no slot taken', async (t) => {
  const { queue, timers, origins } = setup([1]);
  const held = await queue.submit(first);
  const controller = new AbortController();
  const aborted = queue.submit(first, { signal: controller.signal });
  const next = queue.submit(first);
  t.is(getEventListeners(controller.signal, 'abort').length, 1);
  controller.abort(new Error('client went away'));
  const error = await rejection(aborted);
  t.is(error.code, 'ERR_ABORTED');
  t.is(error.origin, 'downstream');
  t.is(queue.length, 1);
  t.is(timers.pending, 1, 'only the other waiter still has a timer');
  t.is(getEventListeners(controller.signal, 'abort').length, 0);
  held.release(OK);
  const grant = await next;
  t.is(origins[0]?.inFlight, 1);
  grant.release(OK);
  t.is(timers.pending, 0);
});

test('a granted request drops its abort listener; an already aborted signal never queues', async (t) => {
  const { queue } = setup([1]);
  const controller = new AbortController();
  const held = await queue.submit(first);
  const waiting = queue.submit(first, { signal: controller.signal });
  held.release(OK);
  await waiting;
  t.is(getEventListeners(controller.signal, 'abort').length, 0);
  controller.abort();
  t.is((await rejection(queue.submit(first, { signal: controller.signal }))).code, 'ERR_ABORTED');
  t.is(queue.length, 0);
});

test('lowering a limit cancels nothing; grants resume once in-flight work drops below it', async (t) => {
  const timers = new FakeTimers();
  const limit = new StaticLimit(4);
  const origin = new OriginLimit('o', limit);
  const queue = new SiteQueue([origin], {}, { timers });
  const grants = await Promise.all([0, 1, 2, 3].map(() => queue.submit(first)));
  limit.set(2);
  const waiting = queue.submit(first);
  t.is(origin.inFlight, 4);
  for (const grant of grants.slice(0, 2)) grant.release(OK);
  await flush();
  t.is(queue.length, 1, 'still at the new limit');
  grants[2]?.release(OK);
  await waiting;
  t.is(origin.inFlight, 2);
});

test('a pick that throws fails only its own request', async (t) => {
  const { queue } = setup([1]);
  const held = await queue.submit(first);
  const broken = queue.submit(() => {
    throw new Error('bad pick');
  });
  const good = queue.submit(first);
  held.release(OK);
  await t.throwsAsync(broken, { message: 'bad pick' });
  await t.notThrowsAsync(good);
});

test('a pick that returns a busy origin is a programming error', async (t) => {
  const { queue, origins } = setup([1, 1]);
  await queue.submit(() => origins[0]);
  await t.throwsAsync(queue.submit(() => origins[0]), { instanceOf: TypeError });
});

test('raising a limit by hand and calling dispatch() serves waiters', async (t) => {
  const limit = new StaticLimit(1);
  const queue = new SiteQueue([new OriginLimit('o', limit)], {}, { timers: new FakeTimers() });
  await queue.submit(first);
  const waiting = queue.submit(first);
  limit.set(2);
  queue.dispatch();
  await t.notThrowsAsync(waiting);
});

test('queues sharing an origin: a slot freed through one serves the other, and both count as demand', async (t) => {
  const timers = new FakeTimers();
  const contexts: SampleContext[] = [];
  const shared = new OriginLimit('shared', { limit: 1, onSample: (_sample, context) => void contexts.push(context) });
  const api = new SiteQueue([shared], {}, { timers });
  const site = new SiteQueue([shared, ...fixedOrigins(1)], {}, { timers });
  const held = await api.submit(first);
  const busy = await site.submit((c) => c.find((o) => o !== shared));
  const granted: string[] = [];
  const waiters = [
    api.submit(first).then((g) => (granted.push('api'), g)),
    site.submit((c) => (c.includes(shared) ? shared : undefined)).then((g) => (granted.push('site'), g)),
  ];
  await flush();
  held.release(OK);
  const firstGrant = await Promise.race(waiters);
  t.is(firstGrant.origin, shared);
  t.deepEqual(contexts, [{ inFlight: 1, queued: 2 }]);
  firstGrant.release(OK);
  const both = await Promise.all(waiters);
  t.deepEqual([...granted].sort(), ['api', 'site']);
  both[1 - both.indexOf(firstGrant)]?.release(OK);
  busy.release(OK);
  t.is(shared.inFlight, 0);
});

test('setOrigins([]) retires a queue: waiters fail ERR_NO_ORIGIN and origins forget it', async (t) => {
  const timers = new FakeTimers();
  const [origin] = fixedOrigins(1) as [OriginLimit];
  const retired = new SiteQueue([origin], {}, { timers });
  const kept = new SiteQueue([origin], {}, { timers });
  const held = await kept.submit(first);
  const waiter = retired.submit(first);
  retired.setOrigins([]);
  t.is((await rejection(waiter)).code, 'ERR_NO_ORIGIN');
  t.is(timers.pending, 0);
  const next = kept.submit(first);
  held.release(OK);
  await t.notThrowsAsync(next);
});

type Op =
  | { kind: 'submit'; prefer: number; abortable: boolean }
  | { kind: 'release'; index: number }
  | { kind: 'advance'; ms: number }
  | { kind: 'abort'; index: number }
  | { kind: 'limit'; origin: number; limit: number };

const opArbitrary: fc.Arbitrary<Op> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('submit' as const), prefer: fc.nat(3), abortable: fc.boolean() }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('release' as const), index: fc.nat() }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 400 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('abort' as const), index: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('limit' as const), origin: fc.nat(2), limit: fc.integer({ min: 1, max: 4 }) }) },
);

test('property: random arrivals, completions, aborts and limit changes keep every invariant', async (t) => {
  await fc.assert(
    fc.asyncProperty(fc.array(opArbitrary, { minLength: 10, maxLength: 150, size: 'max' }), async (ops) => {
      const timers = new FakeTimers();
      const limits = [new StaticLimit(1), new StaticLimit(2), new StaticLimit(3)];
      const origins = limits.map((limit, i) => new OriginLimit(`o${i}`, limit));
      const queue = new SiteQueue(origins, { maxQueue: 8, queueTimeoutMs: 1000 }, { timers });
      const held: Grant[] = [];
      const aborters: AbortController[] = [];
      const grantOrder: number[] = [];
      const errors: string[] = [];
      let nextId = 0;

      for (const op of ops) {
        const grantsBefore = grantOrder.length;
        if (op.kind === 'submit') {
          const id = nextId++;
          const controller = new AbortController();
          if (op.abortable) aborters.push(controller);
          const pick: PickOrigin = (c) => c.find((o) => o.id === `o${op.prefer}`) ?? c[0];
          queue.submit(pick, { signal: op.abortable ? controller.signal : undefined }).then(
            (grant) => {
              grantOrder.push(id);
              held.push(grant);
            },
            (err: unknown) => errors.push((err as OverlayError).code),
          );
        } else if (op.kind === 'release' && held.length > 0) {
          held.splice(op.index % held.length, 1)[0]?.release(OK);
        } else if (op.kind === 'advance') {
          timers.advance(op.ms);
        } else if (op.kind === 'abort' && aborters.length > 0) {
          aborters.splice(op.index % aborters.length, 1)[0]?.abort();
        } else if (op.kind === 'limit') {
          limits[op.origin]?.set(op.limit);
          queue.dispatch();
        }
        await flush();

        // A grant never takes an origin past its limit (a lowered limit may leave it above until work ends).
        const granted = new Set(held.slice(held.length - (grantOrder.length - grantsBefore)).map((g) => g.origin));
        for (const origin of granted) if (origin.inFlight > origin.limit) return false;
        // Work-conserving: nobody waits while an origin has a free slot.
        if (queue.length > 0 && origins.some((o) => o.available)) return false;
        // Strict FIFO: grants come in submission order.
        for (let i = 1; i < grantOrder.length; i++) if ((grantOrder[i] as number) < (grantOrder[i - 1] as number)) return false;
        // Bounded, and nothing leaks: one timer per waiter.
        if (queue.length > 8 || timers.pending !== queue.length) return false;
        if (origins.reduce((sum, o) => sum + o.inFlight, 0) !== held.length) return false;
      }
      return errors.every((code) => ['ERR_QUEUE_FULL', 'ERR_QUEUE_TIMEOUT', 'ERR_ABORTED'].includes(code));
    }),
    { numRuns: 100 },
  );
  t.pass();
});
