import test from 'ava';
import fc from 'fast-check';
import { BackendSelector, type BackendRoute } from '@overlay/balancer';
import { countBy } from './support.js';

function route(id: string, fields: Partial<BackendRoute> = {}): BackendRoute {
  return { id, connected: true, healthy: true, rttMs: 20, jitterMs: 1, lossRate: 0, inFlight: 0, highWater: 100, ...fields };
}

function shares(selector: BackendSelector, picks: number): Map<string | undefined, number> {
  return countBy(Array.from({ length: picks }, () => selector.pick()?.id));
}

const arbitraryRoute = fc.record({
  connected: fc.boolean(),
  healthy: fc.boolean(),
  rttMs: fc.option(fc.double({ min: 0, max: 2_000, noNaN: true }), { nil: undefined }),
  jitterMs: fc.option(fc.double({ min: 0, max: 200, noNaN: true }), { nil: undefined }),
  lossRate: fc.option(fc.double({ min: 0, max: 1, noNaN: true }), { nil: undefined }),
  peerLoad: fc.option(fc.double({ min: 0, max: 1, noNaN: true }), { nil: undefined }),
  inFlight: fc.integer({ min: 0, max: 20 }),
  highWater: fc.integer({ min: 0, max: 20 }),
});

test('never picks a route that is disconnected, unhealthy, full or excluded, and finds one whenever one is usable (property)', (t) => {
  fc.assert(
    fc.property(fc.array(arbitraryRoute, { maxLength: 8 }), fc.array(fc.nat({ max: 7 }), { maxLength: 3 }), (fields, excludedIndexes) => {
      const routes = fields.map((field, index) => ({ id: `b${index}`, ...field }));
      const selector = new BackendSelector(() => routes);
      const excluded = new Set(excludedIndexes.map((index) => `b${index}`));
      const usable = (r: BackendRoute, skip: Set<string>): boolean => r.connected && r.healthy && r.inFlight < r.highWater && !skip.has(r.id);
      for (const [chosen, skip] of [[selector.pick(), new Set<string>()], [selector.alternate(excluded), excluded]] as const) {
        if (chosen && !usable(chosen, skip)) throw new Error(`picked unusable ${JSON.stringify(chosen)}`);
        if (!chosen && routes.some((r) => usable(r, skip))) throw new Error('a usable route was left unused');
      }
    }),
    { numRuns: 500 },
  );
  t.pass();
});

test('near-equal routes share the work', (t) => {
  const routes = [route('a', { rttMs: 20 }), route('b', { rttMs: 22 }), route('c', { rttMs: 21, lossRate: undefined })];
  const counts = shares(new BackendSelector(() => routes), 3_000);
  for (const id of ['a', 'b', 'c']) {
    const share = (counts.get(id) ?? 0) / 3_000;
    t.true(share > 0.25 && share < 0.42, `${id}: ${share}`);
  }
});

test('held requests raise a route score, so load spreads even when one route is slightly better', (t) => {
  const routes = [route('fast', { rttMs: 10, highWater: 200 }), route('slow', { rttMs: 14, highWater: 200 })];
  const selector = new BackendSelector(() => routes);
  for (let i = 0; i < 120; i++) {
    const chosen = selector.pick();
    if (!chosen) break;
    chosen.inFlight++;
  }
  t.true(routes[0].inFlight > routes[1].inFlight, 'the better route carries more');
  t.true(routes[1].inFlight >= 20, `the other route is used too (${routes[1].inFlight})`);
  t.is(routes[0].inFlight + routes[1].inFlight, 120);
});

test('a route at its high-water mark takes nothing until it drains; the alternates take the rest', (t) => {
  const routes = [route('a', { inFlight: 5, highWater: 5 }), route('b', { rttMs: 80 })];
  const selector = new BackendSelector(() => routes);
  t.deepEqual([...shares(selector, 100).keys()], ['b']);
  routes[0].inFlight = 0;
  t.true((shares(selector, 100).get('a') ?? 0) > 90);
});

test('moves away from a route whose RTT degrades and comes back when it recovers', (t) => {
  const routes = [route('a', { rttMs: 20 }), route('b', { rttMs: 20 })];
  const selector = new BackendSelector(() => routes);
  t.true((shares(selector, 1_000).get('b') ?? 0) > 400);
  routes[1].jitterMs = 10;
  t.is(shares(selector, 1_000).get('b') ?? 0, 0, 'jitter alone makes a route worse');
  routes[1].rttMs = 60;
  t.is(shares(selector, 1_000).get('b') ?? 0, 0);
  routes[1].rttMs = 21;
  routes[1].jitterMs = 1;
  t.true((shares(selector, 1_000).get('b') ?? 0) > 400);
});

test('moves away from a lossy route even when its RTT is lower, and uses it only if nothing acceptable is left', (t) => {
  const routes = [route('a', { rttMs: 30 }), route('b', { rttMs: 10, lossRate: 0 })];
  const selector = new BackendSelector(() => routes);
  t.true((shares(selector, 500).get('b') ?? 0) > 450);
  routes[1].lossRate = 0.07;
  t.is(shares(selector, 500).get('b') ?? 0, 0, 'above the acceptable loss the route is degraded');
  t.is(selector.evaluate().find((e) => e.route.id === 'b')?.verdict, 'degraded');
  routes[0].connected = false;
  t.is(selector.pick()?.id, 'b', 'a degraded route beats none');
  routes[0].connected = true;
  routes[1].lossRate = 0.001;
  t.true((shares(selector, 500).get('b') ?? 0) > 450, 'back once the loss is gone');
});

test('loss below the degraded threshold still moves work away from a route', (t) => {
  const routes = [route('a'), route('b', { lossRate: 0.04 })];
  const selector = new BackendSelector(() => routes);
  t.is(selector.evaluate().find((e) => e.route.id === 'b')?.verdict, 'acceptable');
  t.is(shares(selector, 500).get('b') ?? 0, 0);
  routes[1].lossRate = 0.005;
  t.true((shares(selector, 500).get('b') ?? 0) > 150);
});

test('a back-end reporting itself loaded gets less work', (t) => {
  const routes = [route('a', { peerLoad: 0.1 }), route('b', { peerLoad: 0.9 })];
  const counts = shares(new BackendSelector(() => routes), 500);
  t.is(counts.get('b') ?? 0, 0);
  routes[1].peerLoad = 0.15;
  t.true((shares(new BackendSelector(() => routes), 500).get('b') ?? 0) > 150);
});

test('alternate skips the routes that failed; evaluate says why routes are out', (t) => {
  const routes = [route('a'), route('b', { rttMs: 500 }), route('c', { connected: false }), route('d', { healthy: false })];
  const selector = new BackendSelector(() => routes);
  t.is(selector.pick()?.id, 'a');
  t.is(selector.alternate(['a'])?.id, 'b');
  t.is(selector.alternate(['a', 'b']), undefined);
  t.deepEqual(
    selector.evaluate(['a']).map((e) => [e.route.id, e.verdict]),
    [['a', 'excluded'], ['b', 'acceptable'], ['c', 'disconnected'], ['d', 'unhealthy']],
  );
});

test('bad options are refused', (t) => {
  t.throws(() => new BackendSelector(() => [], { options: { tolerance: -1 } }), { message: /tolerance/ });
  t.throws(() => new BackendSelector(() => [], { options: { acceptableLossRate: 2 } }), { message: /acceptableLossRate/ });
});

test('40 concurrent requests over two equal routes split evenly, whatever order they finish in', (t) => {
  const routes = [route('a', { rttMs: 2 }), route('b', { rttMs: 2 })];
  const selector = new BackendSelector(() => routes);
  const assigned: BackendRoute[] = [];
  let state = 7;
  for (let step = 0; step < 400; step++) {
    // Keep 40 in flight; a random one finishes now and then (timing is not ours to choose).
    while (assigned.length < 40) {
      const chosen = selector.pick();
      if (!chosen) break;
      chosen.inFlight++;
      assigned.push(chosen);
    }
    t.true(Math.abs(routes[0].inFlight - routes[1].inFlight) <= 1, `${routes[0].inFlight} / ${routes[1].inFlight}`);
    state = (state * 1103515245 + 12345) % 2 ** 31;
    const done = assigned.splice(state % assigned.length, 1)[0];
    done.inFlight--;
  }
});

test('a route out of congestion gets traffic again at its first fast sample, though its smoothed RTT and jitter remember the episode', (t) => {
  const routes = [route('a', { rttMs: 2, jitterMs: 0.5 }), route('b', { rttMs: 57, jitterMs: 40 })];
  const selector = new BackendSelector(() => routes);
  const load = () => {
    for (const r of routes) r.inFlight = 0;
    for (let i = 0; i < 40; i++) {
      const chosen = selector.pick();
      if (chosen) chosen.inFlight++;
    }
    return routes[1].inFlight;
  };
  t.true(load() <= 1, 'congested: b carries (almost) nothing');
  routes[1].rttRecentMs = 57;
  t.true(load() <= 1, 'a recent sample as slow as the smoothed RTT changes nothing');
  routes[1].rttRecentMs = 4;
  const recovered = load();
  t.true(recovered >= 5, `recovered: b carries ${recovered} of 40`);
  t.true(recovered < 20, 'still less than the 2 ms route');
});
