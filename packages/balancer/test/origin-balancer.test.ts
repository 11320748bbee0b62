import test from 'ava';
import fc from 'fast-check';
import { HealthTracker, OriginBalancer, requestTypeOf, type OriginLoad, type RequestInfo, type RequestType } from '@overlay/balancer';
import { countBy, manualClock, seededRandom } from './support.js';

const get = (path: string): RequestInfo => ({ method: 'GET', path });

/** Picks and keeps the request in flight; returns the chosen id. */
function place(balancer: OriginBalancer, request: RequestInfo, held: Array<() => void>): string | undefined {
  const origin = balancer.pick(request);
  if (origin) held.push(balancer.track(origin.id, requestTypeOf(request)));
  return origin?.id;
}

test('least outstanding keeps each origin within its weighted quota while requests stay in flight (property)', (t) => {
  fc.assert(
    fc.property(fc.array(fc.integer({ min: 1, max: 8 }), { minLength: 2, maxLength: 6 }), fc.integer({ min: 1, max: 300 }), (weights, picks) => {
      const origins = weights.map((weight, index) => ({ id: `o${index}`, weight }));
      const balancer = new OriginBalancer({ site: { origins } });
      const held: Array<() => void> = [];
      const chosen = Array.from({ length: picks }, () => place(balancer, get('/'), held));
      const counts = countBy(chosen);
      const total = weights.reduce((a, b) => a + b, 0);
      origins.forEach(({ id, weight }) => {
        const quota = (picks * weight) / total;
        const count = counts.get(id) ?? 0;
        // The greedy rule is Jefferson's (D'Hondt) divisor apportionment: never below the floor of the quota,
        // and above it by at most (number of origins × weight share).
        const ahead = (origins.length * weight) / total;
        if (count < Math.floor(quota) || count > quota + ahead + 1e-9) {
          throw new Error(`${id} weight ${weight}: ${count} of ${picks}, quota ${quota.toFixed(2)}`);
        }
      });
    }),
    { numRuns: 200 },
  );
  t.pass();
});

test('under a simulated load with random completions, work and in-flight requests follow the weights (property)', (t) => {
  fc.assert(
    fc.property(fc.array(fc.integer({ min: 1, max: 5 }), { minLength: 2, maxLength: 4 }), fc.integer(), (weights, seed) => {
      const random = seededRandom(seed);
      const origins = weights.map((weight, index) => ({ id: `o${index}`, weight }));
      const balancer = new OriginBalancer({ site: { origins } });
      const inFlight: Array<{ id: string; release: () => void }> = [];
      const sent = new Map<string, number>();
      const send = (): void => {
        const origin = balancer.pick(get('/'));
        if (!origin) throw new Error('no origin picked');
        sent.set(origin.id, (sent.get(origin.id) ?? 0) + 1);
        inFlight.push({ id: origin.id, release: balancer.track(origin.id, 'other') });
      };
      for (let i = 0; i < 200; i++) send();
      sent.clear();
      for (let step = 0; step < 4000; step++) {
        // Any request may finish next: an origin holding more requests finishes more of them.
        const done = inFlight.splice(Math.floor(random() * inFlight.length), 1)[0];
        done.release();
        send();
      }
      const total = weights.reduce((a, b) => a + b, 0);
      const holding = countBy(inFlight.map((entry) => entry.id));
      origins.forEach(({ id, weight }) => {
        const expected = weight / total;
        const sentShare = (sent.get(id) ?? 0) / 4000;
        const heldShare = (holding.get(id) ?? 0) / inFlight.length;
        if (Math.abs(sentShare - expected) > 0.04 || Math.abs(heldShare - expected) > 0.02) {
          throw new Error(`${id} weight ${weight}: sent ${sentShare.toFixed(3)}, held ${heldShare.toFixed(3)}, expected ${expected.toFixed(3)}`);
        }
      });
    }),
    { numRuns: 25 },
  );
  t.pass();
});

test('equal origins with nothing outstanding take turns', (t) => {
  const balancer = new OriginBalancer({ site: { origins: [{ id: 'a' }, { id: 'b' }, { id: 'c' }] } });
  const order = Array.from({ length: 7 }, () => balancer.pick(get('/'))?.id);
  t.deepEqual(order, ['a', 'b', 'c', 'a', 'b', 'c', 'a']);
});

test('primary-first: the primary takes all work until its limit, then secondaries share the overflow', (t) => {
  const held: Array<() => void> = [];
  const limits: Record<string, number> = { main: 3, mirror1: 10, mirror2: 10 };
  const balancer: OriginBalancer = new OriginBalancer({
    site: { origins: [{ id: 'mirror1' }, { id: 'main', primary: true }, { id: 'mirror2' }] },
    load: (id): OriginLoad => ({ inFlight: balancer.pendingOf(id).other, limit: limits[id] }),
  });
  const first = Array.from({ length: 3 }, () => place(balancer, get('/'), held));
  t.deepEqual(first, ['main', 'main', 'main']);
  const spill = Array.from({ length: 4 }, () => place(balancer, get('/'), held));
  t.deepEqual(spill.sort(), ['mirror1', 'mirror1', 'mirror2', 'mirror2']);
  // A slot frees on the primary: the next request goes back to it.
  held[0]();
  t.is(place(balancer, get('/'), held), 'main');
  t.is(balancer.pick(get('/'), ['main'])?.id, undefined, 'a full primary is never picked even when asked for');
});

test('primary-first: a down primary sends work to the secondaries', (t) => {
  const clock = manualClock();
  const health = new HealthTracker({ origins: ['main', 'mirror'], clock: clock.now, options: { fall: 1 } });
  const balancer = new OriginBalancer({ site: { origins: [{ id: 'main', primary: true }, { id: 'mirror' }] }, health });
  t.is(balancer.pick(get('/'))?.id, 'main');
  health.probeResult('main', false);
  t.deepEqual([1, 2, 3].map(() => balancer.pick(get('/'))?.id), ['mirror', 'mirror', 'mirror']);
  health.probeResult('mirror', false);
  t.is(balancer.pick(get('/')), undefined, 'nothing available: the caller queues or refuses');
});

test('candidates restrict the choice, and an origin at its limit is skipped', (t) => {
  const balancer = new OriginBalancer({
    site: { origins: [{ id: 'a' }, { id: 'b' }, { id: 'c' }] },
    load: (id) => ({ inFlight: id === 'a' ? 5 : 0, limit: 5 }),
  });
  t.is(balancer.pick(get('/'), ['a', 'c'])?.id, 'c');
  t.is(balancer.pick(get('/'), ['a']), undefined);
  t.not(balancer.pick(get('/'))?.id, 'a');
});

test('path routes: the longest matching prefix picks the origins, else the site origins', (t) => {
  const balancer = new OriginBalancer({
    site: {
      origins: [{ id: 'site' }],
      routes: [
        { pathPrefix: '/api', origins: [{ id: 'api' }] },
        { pathPrefix: '/api/v2/', origins: [{ id: 'api-v2' }] },
        { pathPrefix: '/static/', origins: [{ id: 'cdn1' }, { id: 'cdn2' }] },
      ],
    },
  });
  const table: Array<[string, string[]]> = [
    ['/api/v2/users', ['api-v2']],
    ['/api/v2', ['api']],
    ['/api/v1/users', ['api']],
    ['/apis', ['api']],
    ['/static/a.png?v=1', ['cdn1', 'cdn2']],
    ['/static', ['site']],
    ['/x?next=/api/v2/', ['site']],
    ['/', ['site']],
  ];
  for (const [path, expected] of table) {
    t.deepEqual(balancer.originsFor(path).map((origin) => origin.id), expected, path);
    t.true(expected.includes(balancer.pick(get(path))?.id ?? ''), `pick ${path}`);
  }
});

test('a config push replaces routes and keeps counts of origins that remain', (t) => {
  const balancer = new OriginBalancer({ site: { origins: [{ id: 'a' }, { id: 'b' }] } });
  const release = balancer.track('a', 'static');
  balancer.track('b', 'static');
  balancer.setSite({ origins: [{ id: 'a' }, { id: 'c' }] });
  t.is(balancer.pendingOf('a').static, 1);
  t.is(balancer.pendingOf('b').static, 0, 'a removed origin is forgotten');
  t.is(balancer.pick(get('/'))?.id, 'c', 'c has nothing outstanding');
  release();
  release();
  t.is(balancer.pendingOf('a').static, 0, 'release is idempotent');
});

test('bad site config is refused with the field named', (t) => {
  t.throws(() => new OriginBalancer({ site: { origins: [{ id: 'a', weight: 0 }] } }), { message: /origins\[0\]\.weight/ });
  t.throws(() => new OriginBalancer({ site: { origins: [{ id: 'a' }, { id: 'a' }] } }), { message: /appears twice/ });
  t.throws(() => new OriginBalancer({ site: { origins: [], routes: [{ pathPrefix: 'api', origins: [] }] } }), { message: /pathPrefix/ });
});

test('request types from method, path and extension', (t) => {
  const table: Array<[string, string, RequestType]> = [
    ['GET', '/index.html', 'static'],
    ['HEAD', '/img/Logo.PNG', 'static'],
    ['GET', '/video/intro.mp4', 'media'],
    ['GET', '/live/stream.m3u8?token=1', 'media'],
    ['POST', '/upload.mp4', 'dynamic'],
    ['POST', '/echo', 'dynamic'],
    ['GET', '/search?q=x', 'dynamic'],
    ['GET', '/cart.php', 'dynamic'],
    ['GET', '/', 'other'],
    ['GET', '/bytes/1000', 'other'],
    ['GET', '/v1.2/items', 'other'],
  ];
  for (const [method, path, expected] of table) t.is(requestTypeOf({ method, path }), expected, `${method} ${path}`);
  t.is(requestTypeOf({ method: 'GET', path: '/', type: 'media' }), 'media', 'a type given by the caller wins');
});

test('type awareness: with loads tied, the origin with fewer pending of that type wins', (t) => {
  const balancer = new OriginBalancer({ site: { origins: [{ id: 'a' }, { id: 'b' }] } });
  balancer.track('a', 'media');
  balancer.track('b', 'static');
  for (let i = 0; i < 3; i++) {
    t.is(balancer.pick(get('/movie.mp4'))?.id, 'b');
    t.is(balancer.pick(get('/page.html'))?.id, 'a');
  }
});

test('type awareness: an origin with no pending media is favoured over one with a pending media request and less load (seed 001)', (t) => {
  const setUp = (typeSlackRequests: number): OriginBalancer => {
    const balancer = new OriginBalancer({ site: { origins: [{ id: 'a' }, { id: 'b' }] }, options: { typeSlackRequests } });
    balancer.track('a', 'media');
    balancer.track('b', 'static');
    balancer.track('b', 'static');
    return balancer;
  };
  t.is(setUp(1).pick(get('/movie.mp4'))?.id, 'b', 'one request more is within the slack');
  t.is(setUp(0).pick(get('/movie.mp4'))?.id, 'a', 'without slack the lighter origin wins');
  const farApart = setUp(1);
  farApart.track('b', 'static');
  farApart.track('b', 'static');
  t.is(farApart.pick(get('/movie.mp4'))?.id, 'a', 'load far apart outweighs type');
});

test('slow start: a recovered origin gets a growing share of the work', (t) => {
  const clock = manualClock();
  const health = new HealthTracker({ origins: ['old', 'back'], clock: clock.now, options: { fall: 1, rise: 1, slowStartMs: 10_000, slowStartFraction: 0.1 } });
  const balancer = new OriginBalancer({ site: { origins: [{ id: 'old' }, { id: 'back' }] }, health });
  health.probeResult('back', false);
  health.probeResult('back', true);
  const shareOfBack = (): number => {
    const held: Array<() => void> = [];
    const picks = Array.from({ length: 110 }, () => place(balancer, get('/'), held));
    held.forEach((release) => release());
    return (countBy(picks).get('back') ?? 0) / picks.length;
  };
  const early = shareOfBack();
  clock.advance(5_000);
  const middle = shareOfBack();
  clock.advance(5_000);
  const full = shareOfBack();
  t.true(Math.abs(early - 0.1 / 1.1) < 0.02, `early share ${early}`);
  t.true(Math.abs(middle - 0.55 / 1.55) < 0.02, `middle share ${middle}`);
  t.true(Math.abs(full - 0.5) < 0.02, `full share ${full}`);
});

/** A health view with injected availability and freshness (s), the way the back-end's probes fill them. */
function freshnessView(freshness: Record<string, number | undefined>, down: Set<string> = new Set()) {
  return {
    isAvailable: (id: string) => !down.has(id),
    weightFactor: () => 1,
    freshness: (id: string) => freshness[id],
  };
}

test('freshness: a mirror older than the freshest by more than maxLagS gets work only when every fresh one is saturated', (t) => {
  const held: Array<() => void> = [];
  const limits: Record<string, number> = { fresh1: 2, fresh2: 2, stale: 10 };
  const balancer: OriginBalancer = new OriginBalancer({
    site: { origins: [{ id: 'stale' }, { id: 'fresh1' }, { id: 'fresh2' }] },
    load: (id): OriginLoad => ({ inFlight: balancer.pendingOf(id).other, limit: limits[id] }),
    // fresh2 lags fresh1 by 60 s: within the default maxLagS, still fresh. stale lags by 61 s.
    health: freshnessView({ fresh1: 1_000, fresh2: 940, stale: 939 }),
  });
  const first = Array.from({ length: 4 }, () => place(balancer, get('/'), held));
  t.deepEqual(first.sort(), ['fresh1', 'fresh1', 'fresh2', 'fresh2']);
  t.deepEqual([1, 2].map(() => place(balancer, get('/'), held)), ['stale', 'stale'], 'fresh ones full: the stale one takes the overflow');
  held[0]();
  t.is(place(balancer, get('/'), held), 'fresh1', 'a fresh slot frees: work goes back to it');
});

test('freshness: with every fresh origin full, the stale ones are ranked by freshness among themselves', (t) => {
  const held: Array<() => void> = [];
  const limits: Record<string, number> = { fresh: 1, stale: 1, staler: 10 };
  const balancer: OriginBalancer = new OriginBalancer({
    site: { origins: [{ id: 'staler' }, { id: 'stale' }, { id: 'fresh' }] },
    load: (id): OriginLoad => ({ inFlight: balancer.pendingOf(id).other, limit: limits[id] }),
    // stale lags fresh by 100 s, staler by 1000 s: both stale, but stale is the fresher mirror.
    health: freshnessView({ fresh: 5_000, stale: 4_900, staler: 4_000 }),
  });
  t.deepEqual([1, 2, 3, 4].map(() => place(balancer, get('/'), held)), ['fresh', 'stale', 'staler', 'staler']);
  held[1]();
  t.is(place(balancer, get('/'), held), 'stale', 'the fresher stale mirror frees a slot: the overflow goes back to it');
});

test('freshness: a down fresh origin leaves the stale one serving, and is no reference while down', (t) => {
  const down = new Set<string>();
  const balancer = new OriginBalancer({ site: { origins: [{ id: 'fresh' }, { id: 'stale' }, { id: 'staler' }] }, health: freshnessView({ fresh: 5_000, stale: 4_000, staler: 3_000 }, down) });
  t.deepEqual([1, 2, 3].map(() => balancer.pick(get('/'))?.id), ['fresh', 'fresh', 'fresh']);
  down.add('fresh');
  // Measured against the freshest that is up (stale), staler is 1000 s behind: stale alone serves.
  t.deepEqual([1, 2, 3].map(() => balancer.pick(get('/'))?.id), ['stale', 'stale', 'stale']);
});

test('freshness: unknown is neither rewarded nor punished, and maxLagS comes from the options', (t) => {
  const health = freshnessView({ dated: 100, newer: 150, unknown: undefined });
  const balancer = new OriginBalancer({ site: { origins: [{ id: 'dated' }, { id: 'newer' }, { id: 'unknown' }] }, health });
  t.deepEqual(countBy(Array.from({ length: 6 }, () => balancer.pick(get('/'))?.id)), new Map([['dated', 2], ['newer', 2], ['unknown', 2]]), '50 s lag is within the default 60');
  balancer.setOptions({ maxLagS: 10 });
  t.deepEqual(countBy(Array.from({ length: 6 }, () => balancer.pick(get('/'))?.id)), new Map([['newer', 3], ['unknown', 3]]));
  const noneKnown = new OriginBalancer({ site: { origins: [{ id: 'a' }, { id: 'b' }] }, health: freshnessView({}) });
  t.deepEqual(countBy(Array.from({ length: 4 }, () => noneKnown.pick(get('/'))?.id)), new Map([['a', 2], ['b', 2]]));
});

test('freshness comes before primary: a stale primary yields to a fresh mirror', (t) => {
  const balancer = new OriginBalancer({
    site: { origins: [{ id: 'main', primary: true }, { id: 'mirror' }] },
    health: freshnessView({ main: 0, mirror: 3_600 }),
  });
  t.is(balancer.pick(get('/'))?.id, 'mirror');
  t.is(balancer.pick(get('/'), ['main'])?.id, 'main', 'the stale primary still serves when the fresh mirror has no slot');
});

test('bad maxLagS is refused with the field named, and a refused setOptions keeps the old options', (t) => {
  t.throws(() => new OriginBalancer({ site: { origins: [{ id: 'a' }] }, options: { maxLagS: -1 } }), { message: /^maxLagS: / });
  const balancer = new OriginBalancer({ site: { origins: [{ id: 'a' }] }, options: { maxLagS: 5 } });
  t.throws(() => balancer.setOptions({ maxLagS: Number.NaN }), { message: /^maxLagS: / });
  t.is(balancer.options.maxLagS, 5);
});
