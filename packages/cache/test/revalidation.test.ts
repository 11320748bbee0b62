import test from 'ava';
import type { LookupResult } from '@overlay/cache';
import { body, cacheWithClock, get, httpDate, ok, T0 } from './helpers.js';

const lastModified = httpDate(T0 - 86_400_000);

function staleEntry(lookup: LookupResult) {
  if (lookup.status !== 'stale') throw new Error(`expected stale, got ${lookup.status}`);
  return lookup;
}

test('stale: conditional headers come from the stored validators', (t) => {
  for (const [headers, expected] of [
    [{ etag: '"v1"' }, { 'if-none-match': '"v1"' }],
    [{ 'last-modified': lastModified }, { 'if-modified-since': lastModified }],
    [{ etag: 'W/"v1"', 'last-modified': lastModified }, { 'if-none-match': 'W/"v1"', 'if-modified-since': lastModified }],
  ] as const) {
    const { cache, advance } = cacheWithClock();
    cache.store(get(), ok({ 'cache-control': 'max-age=10', ...headers }), body());
    advance(11);
    t.deepEqual(staleEntry(cache.lookup(get())).conditionalHeaders, expected);
  }
});

test('refresh: a 304 makes the entry fresh again, with its updated fields and the stored body', (t) => {
  const { cache, advance } = cacheWithClock();
  cache.store(get(), ok({ 'cache-control': 'max-age=10', etag: '"v1"', 'x-version': '1' }), body('payload'));
  advance(30);
  const { entry } = staleEntry(cache.lookup(get()));
  const served = cache.refresh(entry, { status: 304, headers: { 'cache-control': 'max-age=100', etag: '"v1"', 'x-version': '2', 'content-length': '0' } });
  t.like(served, { status: 200, headers: { age: '0', 'x-version': '2', 'content-length': '7', 'cache-control': 'max-age=100' } });
  t.is(served?.body.toString(), 'payload');
  advance(99);
  const lookup = cache.lookup(get());
  t.like(lookup, { status: 'hit', response: { headers: { age: '99', 'x-version': '2' } } });
  t.is(cache.entries, 1);
});

test('refresh: the 304 Age and Date count toward the new age', (t) => {
  const { cache, advance, now } = cacheWithClock();
  cache.store(get(), ok({ 'cache-control': 'max-age=60', etag: '"v1"' }), body());
  advance(61);
  const { entry } = staleEntry(cache.lookup(get()));
  const served = cache.refresh(entry, { status: 304, headers: { age: '20', date: httpDate(now()) } });
  t.is(served?.headers.age, '20');
  advance(41);
  t.is(cache.lookup(get()).status, 'stale');
});

test('refresh: a 304 with a different ETag is refused and the entry dropped', (t) => {
  const { cache, advance } = cacheWithClock();
  cache.store(get(), ok({ 'cache-control': 'max-age=10', etag: '"v1"' }), body());
  advance(11);
  const { entry } = staleEntry(cache.lookup(get()));
  t.is(cache.refresh(entry, { status: 304, headers: { etag: '"v2"' } }), undefined);
  t.is(cache.lookup(get()).status, 'miss');
});

test('refresh: a weak form of the same ETag is accepted', (t) => {
  const { cache, advance } = cacheWithClock();
  cache.store(get(), ok({ 'cache-control': 'max-age=10', etag: '"v1"' }), body());
  advance(11);
  const { entry } = staleEntry(cache.lookup(get()));
  t.truthy(cache.refresh(entry, { status: 304, headers: { etag: 'W/"v1"', 'cache-control': 'max-age=10' } }));
});

test('refresh: a 304 that now forbids storing is served once and the entry dropped', (t) => {
  const { cache, advance } = cacheWithClock();
  cache.store(get(), ok({ 'cache-control': 'max-age=10', etag: '"v1"' }), body('once'));
  advance(11);
  const { entry } = staleEntry(cache.lookup(get()));
  const served = cache.refresh(entry, { status: 304, headers: { 'cache-control': 'no-store' } });
  t.is(served?.body.toString(), 'once');
  t.is(cache.entries, 0);
  t.is(cache.lookup(get()).status, 'miss');
});

test('refresh: an entry evicted while revalidating is stored again', (t) => {
  const { cache, advance } = cacheWithClock({ maxBytes: 4000, maxObjectBytes: 4000 });
  cache.store(get('/a'), ok({ 'cache-control': 'max-age=10', etag: '"a"' }), body('a'.repeat(2000)));
  advance(11);
  const { entry } = staleEntry(cache.lookup(get('/a')));
  cache.store(get('/b'), ok({ 'cache-control': 'max-age=10' }), body('b'.repeat(2000)));
  t.is(cache.lookup(get('/a')).status, 'miss', 'evicted by /b');
  t.truthy(cache.refresh(entry, { status: 304, headers: { 'cache-control': 'max-age=10' } }));
  t.is(cache.lookup(get('/a')).status, 'hit');
});

test('refresh: only 304 responses', (t) => {
  const { cache, advance } = cacheWithClock();
  cache.store(get(), ok({ 'cache-control': 'max-age=10', etag: '"v1"' }), body());
  advance(11);
  const { entry } = staleEntry(cache.lookup(get()));
  t.throws(() => cache.refresh(entry, { status: 200, headers: {} }), { instanceOf: TypeError });
});

test('a full response after a stale lookup replaces the entry', (t) => {
  const { cache, advance } = cacheWithClock();
  cache.store(get(), ok({ 'cache-control': 'max-age=10', etag: '"v1"' }), body('v1'));
  advance(11);
  staleEntry(cache.lookup(get()));
  cache.store(get(), ok({ 'cache-control': 'max-age=10', etag: '"v2"' }), body('v2'));
  const lookup = cache.lookup(get());
  t.is(lookup.status === 'hit' ? lookup.response.body.toString() : lookup.status, 'v2');
  t.is(cache.entries, 1);
});

test('refresh: the Age the first response came with does not carry over to the refreshed entry', (t) => {
  const { cache, advance } = cacheWithClock();
  cache.store(get(), ok({ 'cache-control': 'max-age=60', age: '55', etag: '"v1"' }), body());
  advance(6);
  const { entry } = staleEntry(cache.lookup(get()));
  t.is(cache.refresh(entry, { status: 304, headers: {} })?.headers.age, '0');
  advance(30);
  t.like(cache.lookup(get()), { status: 'hit', response: { headers: { age: '30' } } });
});
