import test from 'ava';
import { ReleaseRanker, sizeClass } from '@overlay/backend';
import { demoOrigin, exchange, httpHead, quietHealth, sleep, startHarness } from './helpers.js';

test('size classes: one per factor 4 from 1 KiB, capped at 7', (t) => {
  t.deepEqual([0, 1023, 1024, 4095, 4096, 70_000, 1e9].map(sizeClass), [0, 0, 1, 1, 2, 4, 7]);
});

test('release by type follows the site\'s order, types left out last; by size, what the path answered last', (t) => {
  const byType = new ReleaseRanker({ by: 'type', order: ['static', 'dynamic'] });
  t.is(byType.rank({ method: 'GET', path: '/app.css' }), 0);
  t.is(byType.rank({ method: 'POST', path: '/cart' }), 1);
  t.is(byType.rank({ method: 'GET', path: '/movie.mp4' }), 2);
  const bySize = new ReleaseRanker({ by: 'size' });
  t.is(bySize.rank({ method: 'GET', path: '/bytes/10' }), 3, 'unknown: in the middle');
  bySize.answered('/bytes/10?x=1', 10);
  bySize.answered('/bytes/8000000', 8_000_000);
  t.is(bySize.rank({ method: 'GET', path: '/bytes/10' }), 0);
  t.is(bySize.rank({ method: 'GET', path: '/bytes/8000000' }), 7);
  t.is(new ReleaseRanker(undefined).rank({ method: 'GET', path: '/' }), 0, 'no order: FIFO');
});

test('a site released by size serves a queued small request before a queued download that came first', async (t) => {
  const origin = await demoOrigin(t, { id: 'o' });
  const { client } = await startHarness(t, {
    sites: { shop: { origins: [{ url: origin.url }], queueRelease: { by: 'size' } } },
    limits: { adaptive: false, initial: 1, min: 1 },
    health: quietHealth,
  });
  // What each path answers is learned from its last answer.
  await exchange(client, httpHead('shop', 'GET', '/bytes/2000000'));
  await exchange(client, httpHead('shop', 'GET', '/bytes/100'));
  const done: string[] = [];
  const holding = exchange(client, httpHead('shop', 'GET', '/slow/400'));
  await sleep(100);
  const big = exchange(client, httpHead('shop', 'GET', '/bytes/2000000')).then(() => done.push('big'));
  await sleep(50);
  const small = exchange(client, httpHead('shop', 'GET', '/bytes/100')).then(() => done.push('small'));
  await Promise.all([holding, big, small]);
  t.deepEqual(done, ['small', 'big']);
});
