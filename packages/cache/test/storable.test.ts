import test from 'ava';
import type { HeaderMap } from '@overlay/cache';
import { body, cacheWithClock, get, httpDate, ok, T0 } from './helpers.js';

type Row = [title: string, request: ReturnType<typeof get>, status: number, headers: HeaderMap, stored: boolean];

const fresh = { 'cache-control': 'max-age=60' };

const rows: Row[] = [
  ['GET 200 with max-age', get(), 200, fresh, true],
  ...[200, 203, 204, 300, 301, 404, 410].map((status): Row => [`status ${status}`, get(), status, fresh, true]),
  ...[201, 206, 302, 303, 307, 400, 403, 500, 502, 503].map((status): Row => [`status ${status}`, get(), status, fresh, false]),
  ['HEAD is never stored (it has no body)', get('/a', {}, 'HEAD'), 200, fresh, false],
  ['POST', get('/a', {}, 'POST'), 200, fresh, false],
  ['response private', get(), 200, { 'cache-control': 'private, max-age=60' }, false],
  ['response private with field names', get(), 200, { 'cache-control': 'max-age=60, private="set-cookie"' }, false],
  ['response no-store', get(), 200, { 'cache-control': 'no-store, max-age=60' }, false],
  ['response NO-STORE in capitals', get(), 200, { 'cache-control': 'NO-STORE, max-age=60' }, false],
  ['request no-store', get('/a', { 'cache-control': 'no-store' }), 200, fresh, false],
  ['Authorization without permission', get('/a', { authorization: 'Bearer x' }), 200, fresh, false],
  ['Authorization with public', get('/a', { authorization: 'Bearer x' }), 200, { 'cache-control': 'public, max-age=60' }, true],
  ['Authorization with s-maxage', get('/a', { authorization: 'Bearer x' }), 200, { 'cache-control': 's-maxage=60' }, true],
  ['Authorization with must-revalidate', get('/a', { authorization: 'Bearer x' }), 200, { 'cache-control': 'max-age=60, must-revalidate' }, true],
  ['Set-Cookie', get(), 200, { ...fresh, 'set-cookie': ['id=1'] }, false],
  ['Vary: *', get(), 200, { ...fresh, vary: '*' }, false],
  ['Vary containing *', get(), 200, { ...fresh, vary: 'accept-encoding, *' }, false],
  ['no freshness and no validator (heuristics are off)', get(), 200, {}, false],
  ['no freshness but an ETag: kept for revalidation', get(), 200, { etag: '"v1"' }, true],
  ['no freshness but Last-Modified', get(), 200, { 'last-modified': httpDate(T0 - 3_600_000) }, true],
  ['max-age=0 and no validator', get(), 200, { 'cache-control': 'max-age=0' }, false],
  ['invalid Expires and no validator', get(), 200, { expires: '0' }, false],
  ['Expires in the future', get(), 200, { date: httpDate(T0), expires: httpDate(T0 + 60_000) }, true],
  ['response no-cache without a validator', get(), 200, { 'cache-control': 'no-cache, max-age=60' }, false],
  ['response no-cache with an ETag', get(), 200, { 'cache-control': 'no-cache', etag: '"v1"' }, true],
  ['declared Content-Length over the object limit', get(), 200, { ...fresh, 'content-length': String(10_000) }, false],
];

for (const [title, request, status, headers, stored] of rows) {
  test(`store: ${title}`, (t) => {
    const { cache } = cacheWithClock({ maxObjectBytes: 4096, maxBytes: 65536 });
    const response = ok(headers, status);
    t.is(cache.unstorableReason(request, response) === undefined, stored, 'pre-check agrees');
    t.is(cache.store(request, response, body()), stored);
    t.is(cache.entries, stored ? 1 : 0);
    // A later plain GET finds it (fresh or needing revalidation) only when it was stored.
    const lookup = cache.lookup(get());
    t.is(lookup.status === 'miss', !stored);
  });
}

test('store: a body that does not match its Content-Length (cut short upstream) is refused', (t) => {
  const { cache } = cacheWithClock();
  t.false(cache.store(get(), ok({ ...fresh, 'content-length': '10' }), body('short')));
  t.true(cache.store(get(), ok({ ...fresh, 'content-length': '5' }), body('right')));
});

test('store: header bytes count toward the object limit', (t) => {
  const { cache } = cacheWithClock({ maxObjectBytes: 4096, maxBytes: 65536 });
  t.true(cache.store(get('/small'), ok(fresh), body('x'.repeat(1000))));
  t.false(cache.store(get('/big-headers'), ok({ ...fresh, 'x-padding': 'p'.repeat(4000) }), body('x'.repeat(1000))));
});

test('store: hop-by-hop fields are not kept, Content-Length is the body length', (t) => {
  const { cache } = cacheWithClock();
  const headers = { ...fresh, connection: 'x-private-hop', 'x-private-hop': '1', 'keep-alive': 'timeout=5', 'transfer-encoding': 'chunked', 'x-kept': 'yes' };
  t.true(cache.store(get(), ok(headers), body('12345')));
  const lookup = cache.lookup(get());
  if (lookup.status !== 'hit') return t.fail(lookup.status);
  t.deepEqual(Object.keys(lookup.response.headers).sort(), ['age', 'cache-control', 'content-length', 'x-kept']);
  t.is(lookup.response.headers['content-length'], '5');
});

test('lookup: what bypasses the cache', (t) => {
  const { cache } = cacheWithClock();
  cache.store(get(), ok(fresh), body());
  t.like(cache.lookup(get('/a', {}, 'POST')), { status: 'bypass', reason: 'method' });
  t.like(cache.lookup(get('/a', { 'cache-control': 'no-store' })), { status: 'bypass', reason: 'request no-store' });
  t.like(cache.lookup(get('/a', { authorization: 'Basic eDp5' })), { status: 'bypass', reason: 'authorization' });
  t.like(cache.lookup(get('/a')), { status: 'hit' });
});

test('invalidate: a successful unsafe request drops every stored variant of its URL', (t) => {
  const { cache } = cacheWithClock();
  cache.store(get('/a', { 'accept-encoding': 'gzip' }), ok({ ...fresh, vary: 'accept-encoding' }), body('gz'));
  cache.store(get('/a', { 'accept-encoding': 'br' }), ok({ ...fresh, vary: 'accept-encoding' }), body('br'));
  cache.store(get('/b'), ok(fresh), body());
  t.is(cache.invalidate(get('/a', {}, 'POST'), 500), 0, 'a failed POST changes nothing');
  t.is(cache.invalidate(get('/a', {}, 'GET'), 200), 0, 'a safe method changes nothing');
  t.is(cache.invalidate(get('/a', {}, 'DELETE'), 204), 2);
  t.is(cache.lookup(get('/a', { 'accept-encoding': 'gzip' })).status, 'miss');
  t.is(cache.lookup(get('/b')).status, 'hit');
});
