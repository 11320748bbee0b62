import test from 'ava';
import { body, cacheWithClock, get, ok } from './helpers.js';

const varyEncoding = { 'cache-control': 'max-age=60', vary: 'Accept-Encoding' };

function hitBody(lookup: ReturnType<ReturnType<typeof cacheWithClock>['cache']['lookup']>): string | undefined {
  return lookup.status === 'hit' ? lookup.response.body.toString() : undefined;
}

test('Vary: each value of the named request field is its own variant', (t) => {
  const { cache } = cacheWithClock();
  cache.store(get('/a', { 'accept-encoding': 'gzip' }), ok(varyEncoding), body('gzip body'));
  cache.store(get('/a', { 'accept-encoding': 'br' }), ok(varyEncoding), body('br body'));
  cache.store(get('/a'), ok(varyEncoding), body('identity body'));
  t.is(cache.entries, 3);
  t.is(hitBody(cache.lookup(get('/a', { 'accept-encoding': 'gzip' }))), 'gzip body');
  t.is(hitBody(cache.lookup(get('/a', { 'accept-encoding': 'br' }))), 'br body');
  t.is(hitBody(cache.lookup(get('/a'))), 'identity body', 'an absent field is a value of its own');
  t.is(cache.lookup(get('/a', { 'accept-encoding': 'deflate' })).status, 'miss');
  t.is(cache.lookup(get('/a', { 'accept-encoding': '' })).status, 'miss', 'empty is not absent');
});

test('Vary: blanks around commas and repeated lines do not make a new variant', (t) => {
  const { cache } = cacheWithClock();
  cache.store(get('/a', { 'accept-encoding': 'gzip, br' }), ok(varyEncoding), body('v'));
  t.is(hitBody(cache.lookup(get('/a', { 'accept-encoding': 'gzip,br' }))), 'v');
  t.is(hitBody(cache.lookup(get('/a', { 'accept-encoding': ['gzip', 'br'] }))), 'v');
  t.is(cache.lookup(get('/a', { 'accept-encoding': 'br, gzip' })).status, 'miss', 'order is significant');
});

test('Vary: several fields must all match', (t) => {
  const { cache } = cacheWithClock();
  const headers = { 'cache-control': 'max-age=60', vary: 'accept-language, x-device' };
  cache.store(get('/a', { 'accept-language': 'fr', 'x-device': 'mobile' }), ok(headers), body('fr mobile'));
  t.is(hitBody(cache.lookup(get('/a', { 'accept-language': 'fr', 'x-device': 'mobile' }))), 'fr mobile');
  t.is(cache.lookup(get('/a', { 'accept-language': 'fr', 'x-device': 'desktop' })).status, 'miss');
  t.is(cache.lookup(get('/a', { 'accept-language': 'fr' })).status, 'miss');
  t.is(hitBody(cache.lookup(get('/a', { 'accept-language': 'fr', 'x-device': 'mobile', other: 'x' }))), 'fr mobile', 'fields not named do not matter');
});

test('Vary: storing the same variant again replaces it', (t) => {
  const { cache } = cacheWithClock();
  cache.store(get('/a', { 'accept-encoding': 'gzip' }), ok(varyEncoding), body('old'));
  cache.store(get('/a', { 'accept-encoding': 'gzip' }), ok(varyEncoding), body('new'));
  t.is(cache.entries, 1);
  t.is(hitBody(cache.lookup(get('/a', { 'accept-encoding': 'gzip' }))), 'new');
});

test('Vary: a response without Vary replaces the one stored before it', (t) => {
  const { cache } = cacheWithClock();
  cache.store(get('/a'), ok({ 'cache-control': 'max-age=60' }), body('old'));
  cache.store(get('/a', { 'x-any': '1' }), ok({ 'cache-control': 'max-age=60' }), body('new'));
  t.is(cache.entries, 1);
  t.is(hitBody(cache.lookup(get('/a'))), 'new');
});

test('Vary: variants per URL are bounded, the oldest goes first', (t) => {
  const { cache } = cacheWithClock({ maxVariantsPerKey: 3 });
  for (const encoding of ['a', 'b', 'c', 'd']) cache.store(get('/x', { 'accept-encoding': encoding }), ok(varyEncoding), body(encoding));
  t.is(cache.entries, 3);
  t.is(cache.lookup(get('/x', { 'accept-encoding': 'a' })).status, 'miss');
  for (const encoding of ['b', 'c', 'd']) t.is(hitBody(cache.lookup(get('/x', { 'accept-encoding': encoding }))), encoding);
});
