import test from 'ava';
import fc from 'fast-check';
import { BodyCollector } from '@overlay/cache';
import { body, cacheWithClock, get, ok } from './helpers.js';

const fresh = { 'cache-control': 'max-age=600' };
// Bodies dwarf header and bookkeeping bytes, so three fit in the budget and four do not.
const BUDGET = 100_000;
const OBJECT = 30_000;

function storeObject(cache: ReturnType<typeof cacheWithClock>['cache'], url: string): void {
  if (!cache.store(get(url), ok(fresh), body(url[1].repeat(OBJECT)))) throw new Error(`not stored: ${url}`);
}

test('LRU: the least recently stored goes when the byte budget is exceeded', (t) => {
  const { cache } = cacheWithClock({ maxBytes: BUDGET, maxObjectBytes: BUDGET });
  for (const url of ['/a', '/b', '/c', '/d']) storeObject(cache, url);
  t.deepEqual(['/a', '/b', '/c', '/d'].map((url) => cache.lookup(get(url)).status), ['miss', 'hit', 'hit', 'hit']);
  t.true(cache.bytes <= BUDGET);
  t.true(cache.bytes > 3 * OBJECT, 'bytes count bodies');
});

test('LRU: a hit makes an entry most recently used', (t) => {
  const { cache } = cacheWithClock({ maxBytes: BUDGET, maxObjectBytes: BUDGET });
  for (const url of ['/a', '/b', '/c']) storeObject(cache, url);
  t.is(cache.lookup(get('/a')).status, 'hit');
  storeObject(cache, '/d');
  t.deepEqual(['/a', '/b', '/c', '/d'].map((url) => cache.lookup(get(url)).status), ['hit', 'miss', 'hit', 'hit']);
});

test('LRU: header bytes are charged too', (t) => {
  const { cache } = cacheWithClock({ maxBytes: BUDGET, maxObjectBytes: BUDGET });
  storeObject(cache, '/a');
  const before = cache.bytes;
  cache.store(get('/h'), ok({ ...fresh, 'x-padding': 'p'.repeat(5000) }), body(''));
  t.true(cache.bytes - before > 5000);
});

test('LRU: a large object evicts as many as it needs', (t) => {
  const { cache } = cacheWithClock({ maxBytes: BUDGET, maxObjectBytes: BUDGET });
  for (const url of ['/a', '/b', '/c']) storeObject(cache, url);
  t.true(cache.store(get('/big'), ok(fresh), body('x'.repeat(65_000))));
  t.deepEqual(['/a', '/b', '/c', '/big'].map((url) => cache.lookup(get(url)).status), ['miss', 'miss', 'hit', 'hit']);
});

test('LRU: random stores and lookups keep within budget and never serve an outdated body', (t) => {
  const urls = ['/a', '/b', '/c', '/d', '/e', '/f'];
  const op = fc.oneof(
    fc.record({ kind: fc.constant('store' as const), url: fc.constantFrom(...urls), size: fc.integer({ min: 0, max: 12_000 }), tag: fc.nat() }),
    fc.record({ kind: fc.constant('lookup' as const), url: fc.constantFrom(...urls) }),
  );
  fc.assert(
    fc.property(fc.array(op, { maxLength: 60 }), (ops) => {
      const { cache } = cacheWithClock({ maxBytes: 32_000, maxObjectBytes: 16_000 });
      const latest = new Map<string, string>();
      for (const step of ops) {
        if (step.kind === 'store') {
          const text = `${step.tag}:`.padEnd(step.size, '.');
          if (cache.store(get(step.url), ok(fresh), body(text))) latest.set(step.url, text);
          else if (step.size < 10_000) return false; // small objects always fit
        } else {
          const lookup = cache.lookup(get(step.url));
          if (lookup.status === 'hit' && lookup.response.body.toString() !== latest.get(step.url)) return false;
        }
        if (cache.bytes > 32_000 || cache.entries > urls.length) return false;
      }
      return true;
    }),
    { numRuns: 300 },
  );
  t.pass();
});

test('collector: keeps chunks under the limit and gives up past it', (t) => {
  const collector = new BodyCollector(10);
  t.true(collector.push(Buffer.from('hello')));
  t.true(collector.push(Buffer.from('world')));
  t.is(collector.body()?.toString(), 'helloworld');
  t.false(collector.push(Buffer.from('!')));
  t.true(collector.overflowed);
  t.is(collector.body(), undefined);
  t.false(collector.push(Buffer.from('more')), 'stays given up');
  t.is(collector.byteLength, 11);
});

test('collector: the cache hands out one sized to its object limit', (t) => {
  const { cache } = cacheWithClock({ maxObjectBytes: 1024, maxBytes: 4096 });
  const collector = cache.collector();
  t.true(collector.push(Buffer.alloc(1024)));
  t.false(collector.push(Buffer.alloc(1)));
});
