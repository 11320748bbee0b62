import test from 'ava';
import { ConfigError } from '@overlay/common';
import { countingProxy, demoOrigin, exchange, header, httpHead, quietHealth, sleep, startHarness } from './helpers.js';

test('the longest matching path prefix picks the origin list', async (t) => {
  const [a, b, c] = await Promise.all(['a', 'b', 'c'].map((id) => demoOrigin(t, { id })));
  const { client } = await startHarness(t, {
    sites: {
      shop: {
        origins: [{ url: a.url, id: 'a' }],
        routes: [
          { pathPrefix: '/api/', origins: [{ url: b.url, id: 'b' }] },
          { pathPrefix: '/api/v2/', origins: [{ url: c.url, id: 'c' }] },
        ],
      },
    },
    health: quietHealth,
  });
  const served = async (target: string) => {
    const answer = await exchange(client, httpHead('shop', 'GET', target));
    t.is(answer.head.origin, header(answer.head, 'x-origin'));
    return answer.head.origin;
  };
  t.is(await served('/'), 'a');
  t.is(await served('/api'), 'a');
  t.is(await served('/api/items?x=1'), 'b');
  t.is(await served('/api/v2/items'), 'c');
  t.is(await served('/api/v3/items'), 'b');
});

test('primaries get the work until they are saturated, then the others', async (t) => {
  const [primary, spare] = await Promise.all(['primary', 'spare'].map((id) => demoOrigin(t, { id })));
  const { client } = await startHarness(t, {
    sites: { shop: { origins: [{ url: spare.url, id: 'spare' }, { url: primary.url, id: 'primary', primary: true }] } },
    limits: { adaptive: false, initial: 2, min: 1 },
    health: quietHealth,
  });
  for (let i = 0; i < 5; i++) t.is((await exchange(client, httpHead('shop', 'GET', '/bytes/10'))).head.origin, 'primary');
  const answers = await Promise.all(Array.from({ length: 4 }, () => exchange(client, httpHead('shop', 'GET', '/slow/300'))));
  const counts = { primary: 0, spare: 0 };
  for (const answer of answers) counts[answer.head.origin as 'primary' | 'spare']++;
  t.deepEqual(counts, { primary: 2, spare: 2 });
});

test('the origin gets the client\'s Host and the forwarding headers the front-end set', async (t) => {
  const origin = await demoOrigin(t, { id: 'o1' });
  const proxy = await countingProxy(t, origin);
  const { client } = await startHarness(t, { sites: { shop: { origins: [{ url: proxy.url }] } }, health: quietHealth });
  const head = httpHead('shop', 'GET', '/bytes/10?q=1');
  head.headers.push(['host', 'shop.test'], ['accept', 'application/octet-stream'], ['expect', '100-continue']);
  const answer = await exchange(client, head);
  t.is(answer.head.status, 200);
  t.is(answer.head.origin, new URL(proxy.url).host, 'an origin without an id is named host:port');
  const seen = proxy.stats.seen.at(-1);
  t.is(seen?.path, '/bytes/10?q=1');
  t.is(seen?.host, 'shop.test', 'name-based virtual hosts at the origin see the name the client asked for');
  t.is(seen?.headers['x-forwarded-for'], '10.1.2.3');
  t.is(seen?.headers['x-forwarded-host'], 'shop.test');
  t.is(seen?.headers['x-forwarded-proto'], 'http');
  t.is(seen?.headers.via, '1.1 fe-test');
  t.is(seen?.headers.accept, 'application/octet-stream');
  t.is(seen?.headers.expect, undefined);
});

test('a site\'s originHost replaces the client\'s Host; without any client Host the origin\'s address is sent', async (t) => {
  const origin = await demoOrigin(t, { id: 'o1' });
  const proxy = await countingProxy(t, origin);
  const { client } = await startHarness(t, { sites: { shop: { origins: [{ url: proxy.url }], originHost: 'backstage.example:8080' }, bare: { origins: [{ url: proxy.url }] } }, health: quietHealth });
  const head = httpHead('shop', 'GET', '/bytes/10');
  head.headers.push(['host', 'shop.test']);
  t.is((await exchange(client, head)).head.status, 200);
  t.is(proxy.stats.seen.at(-1)?.host, 'backstage.example:8080');
  const bare = httpHead('bare', 'GET', '/bytes/10');
  t.is((await exchange(client, bare)).head.status, 200);
  t.is(proxy.stats.seen.at(-1)?.host, 'shop.test', 'X-Forwarded-Host stands in for a missing Host');
  bare.headers = bare.headers.filter(([name]) => name !== 'x-forwarded-host');
  t.is((await exchange(client, bare)).head.status, 200);
  t.is(proxy.stats.seen.at(-1)?.host, new URL(proxy.url).host);
});

test('update() adds and removes origins live; requests in flight finish', async (t) => {
  const [a, b] = await Promise.all(['a', 'b'].map((id) => demoOrigin(t, { id })));
  const { client, backEnd } = await startHarness(t, {
    sites: { shop: { origins: [{ url: a.url, id: 'a' }] } },
    limits: { adaptive: false, initial: 3, min: 1 },
    health: quietHealth,
  });
  const inFlight = exchange(client, httpHead('shop', 'GET', '/slow/400'));
  // The update must come while the request is at origin a, however slow this machine is right now.
  while (backEnd.status().origins[0]?.inFlight !== 1) await sleep(5);

  // Only sites, as a manager pushes them: the tunables in force stay.
  backEnd.update({ sites: { shop: { origins: [{ url: b.url, id: 'b' }] } } });
  t.is(backEnd.status().origins[0]?.limit, 3);
  for (let i = 0; i < 3; i++) t.is((await exchange(client, httpHead('shop', 'GET', '/bytes/10'))).head.origin, 'b');
  const finished = await inFlight;
  t.is(finished.head.status, 200);
  t.is(finished.head.origin, 'a');
  t.deepEqual(backEnd.status().origins.map((origin) => origin.id), ['b']);

  backEnd.update({ sites: { shop: { origins: [{ url: a.url, id: 'a' }, { url: b.url, id: 'b' }] } } });
  const answers = await Promise.all(Array.from({ length: 6 }, () => exchange(client, httpHead('shop', 'GET', '/slow/100'))));
  t.deepEqual(new Set(answers.map((answer) => answer.head.origin)), new Set(['a', 'b']));

  const error = t.throws(() => backEnd.update({ sites: { shop: { origins: [{ url: 'ftp://x' }] } } }));
  t.true(error instanceof ConfigError);
  t.regex(error?.message ?? '', /sites\.shop\.origins\[0\]\.url/);
  t.is(backEnd.status().origins.length, 2, 'a rejected update leaves the state as it was');
});

test('the same origin named by two sites shares one limit', async (t) => {
  const origin = await demoOrigin(t, { id: 'shared' });
  const { client, backEnd } = await startHarness(t, {
    sites: { one: { origins: [{ url: origin.url, id: 'shared' }] }, two: { origins: [{ url: origin.url, id: 'shared' }] } },
    limits: { adaptive: false, initial: 1, min: 1 },
    health: quietHealth,
  });
  const started = performance.now();
  const answers = await Promise.all([exchange(client, httpHead('one', 'GET', '/slow/200')), exchange(client, httpHead('two', 'GET', '/slow/200'))]);
  t.true(answers.every((answer) => answer.head.status === 200));
  t.true(performance.now() - started >= 390, 'the second site waited for the first one\'s slot');
  t.is(backEnd.status().origins.length, 1);
});
