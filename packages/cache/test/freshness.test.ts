import test from 'ava';
import type { HeaderMap } from '@overlay/cache';
import { body, cacheWithClock, get, httpDate, ok, T0 } from './helpers.js';

type Row = [title: string, headers: HeaderMap, secondsLater: number, expected: 'hit' | 'stale', age?: string];

const etag = { etag: '"v1"' };
const rows: Row[] = [
  ['max-age, just before expiry', { 'cache-control': 'max-age=60' }, 59, 'hit', '59'],
  ['max-age, at expiry', { ...etag, 'cache-control': 'max-age=60' }, 60, 'stale'],
  ['s-maxage wins over max-age (shorter)', { ...etag, 'cache-control': 'max-age=100, s-maxage=10' }, 11, 'stale'],
  ['s-maxage wins over max-age (longer)', { 'cache-control': 'max-age=10, s-maxage=100' }, 50, 'hit', '50'],
  ['max-age wins over Expires', { 'cache-control': 'max-age=100', date: httpDate(T0), expires: httpDate(T0 + 5_000) }, 50, 'hit', '50'],
  ['Expires minus Date, before', { date: httpDate(T0), expires: httpDate(T0 + 30_000) }, 29, 'hit', '29'],
  ['Expires minus Date, after', { ...etag, date: httpDate(T0), expires: httpDate(T0 + 30_000) }, 31, 'stale'],
  ['Expires counted from Date, not arrival', { ...etag, date: httpDate(T0 - 20_000), expires: httpDate(T0 + 30_000) }, 31, 'stale'],
  ['Expires without Date counts from arrival', { expires: httpDate(T0 + 30_000) }, 29, 'hit', '29'],
  ['Expires in RFC 850 form', { date: httpDate(T0), expires: 'Saturday, 01-Mar-25 12:00:30 GMT' }, 29, 'hit', '29'],
  ['invalid Expires means already expired', { ...etag, expires: '3600' }, 0, 'stale'],
  ['invalid max-age means stale', { ...etag, 'cache-control': 'max-age=abc' }, 0, 'stale'],
  ['quoted max-age is read', { 'cache-control': 'max-age="60"' }, 30, 'hit', '30'],
  ['first of two max-age directives wins', { 'cache-control': 'max-age=60, max-age=5' }, 30, 'hit', '30'],
  ['upstream Age adds to the age', { 'cache-control': 'max-age=60', age: '50' }, 9, 'hit', '59'],
  ['upstream Age makes it stale sooner', { ...etag, 'cache-control': 'max-age=60', age: '50' }, 11, 'stale'],
  ['a Date in the past makes it older (apparent age)', { ...etag, 'cache-control': 'max-age=60', date: httpDate(T0 - 20_000) }, 41, 'stale'],
  ['a Date in the future does not make it younger', { 'cache-control': 'max-age=60', date: httpDate(T0 + 20_000) }, 10, 'hit', '10'],
  ['response no-cache is stale even when fresh', { ...etag, 'cache-control': 'no-cache, max-age=600' }, 1, 'stale'],
];

for (const [title, headers, secondsLater, expected, age] of rows) {
  test(`freshness: ${title}`, (t) => {
    const { cache, advance } = cacheWithClock();
    t.true(cache.store(get(), ok(headers), body()));
    advance(secondsLater);
    const lookup = cache.lookup(get());
    t.is(lookup.status, expected);
    if (lookup.status === 'hit') {
      t.is(lookup.response.headers.age as string | undefined, age);
      t.is(lookup.response.body.toString(), 'hello');
    }
  });
}

test('freshness: time the request spent in flight counts toward the age', (t) => {
  const { cache, now } = cacheWithClock();
  cache.store(get(), ok({ 'cache-control': 'max-age=60' }), body(), { requestTime: now() - 5_000 });
  const lookup = cache.lookup(get());
  t.like(lookup, { status: 'hit', response: { headers: { age: '5' } } });
});

test('freshness: stale without a validator is dropped and reported as a miss', (t) => {
  const { cache, advance } = cacheWithClock();
  cache.store(get(), ok({ 'cache-control': 'max-age=10' }), body());
  advance(11);
  t.is(cache.lookup(get()).status, 'miss');
  t.is(cache.entries, 0);
});

type RequestRow = [title: string, requestHeaders: HeaderMap, entryHeaders: HeaderMap, secondsLater: number, expected: 'hit' | 'stale' | 'miss'];

const requestRows: RequestRow[] = [
  ['no-cache on a fresh entry revalidates', { 'cache-control': 'no-cache' }, { ...etag, 'cache-control': 'max-age=600' }, 1, 'stale'],
  ['max-age=0 revalidates even a brand-new entry', { 'cache-control': 'max-age=0' }, { ...etag, 'cache-control': 'max-age=600' }, 0, 'stale'],
  ['max-age=30 on an entry 40 s old revalidates', { 'cache-control': 'max-age=30' }, { ...etag, 'cache-control': 'max-age=600' }, 40, 'stale'],
  ['max-age=30 on an entry 20 s old is a hit', { 'cache-control': 'max-age=30' }, { ...etag, 'cache-control': 'max-age=600' }, 20, 'hit'],
  ['no-cache without a validator is a miss', { 'cache-control': 'no-cache' }, { 'cache-control': 'max-age=600' }, 1, 'miss'],
];

for (const [title, requestHeaders, entryHeaders, secondsLater, expected] of requestRows) {
  test(`request: ${title}`, (t) => {
    const { cache, advance } = cacheWithClock();
    cache.store(get(), ok(entryHeaders), body());
    advance(secondsLater);
    t.is(cache.lookup(get('/a', requestHeaders)).status, expected);
    t.is(cache.lookup(get()).status, 'hit', 'the entry stays for clients that accept it');
  });
}

test('HEAD is answered from the stored GET response', (t) => {
  const { cache } = cacheWithClock();
  cache.store(get(), ok({ 'cache-control': 'max-age=60' }), body('12345'));
  t.like(cache.lookup(get('/a', {}, 'HEAD')), { status: 'hit', response: { status: 200, headers: { 'content-length': '5' } } });
});

test('the key is Host plus the request target', (t) => {
  const { cache } = cacheWithClock();
  cache.store(get('/a?x=1'), ok({ 'cache-control': 'max-age=60' }), body());
  t.is(cache.lookup(get('/a?x=1')).status, 'hit');
  t.is(cache.lookup(get('/a?x=2')).status, 'miss');
  t.is(cache.lookup(get('/a')).status, 'miss');
  t.is(cache.lookup({ method: 'GET', url: '/a?x=1', headers: { host: 'SHOP.demo.test' } }).status, 'hit', 'host is case-insensitive');
  t.is(cache.lookup({ method: 'GET', url: '/a?x=1', headers: { host: 'other.test' } }).status, 'miss');
});
