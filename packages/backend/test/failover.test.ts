import { once } from 'node:events';
import { createServer, type AddressInfo } from 'node:net';
import test from 'ava';
import { BackEndErrorCode } from '@overlay/backend';
import { startDemoOrigin, type DemoOrigin } from '@overlay/demo-origin';
import { demoOrigin, exchange, httpHead, quietHealth, startHarness, waitFor } from './helpers.js';

test('killing one of two origins mid-load: in-flight fail 502, new ones go to the other, it is probed back in', async (t) => {
  let a: DemoOrigin = await startDemoOrigin({ id: 'a', host: '127.0.0.1', port: 0 });
  t.teardown(() => a.close());
  const b = await demoOrigin(t, { id: 'b' });
  const { client, backEnd } = await startHarness(t, {
    sites: { shop: { origins: [{ url: a.url, id: 'a' }, { url: b.url, id: 'b' }] } },
    limits: { adaptive: false, initial: 8 },
    health: { intervalMs: 100, timeoutMs: 200, rise: 2, fall: 2, slowStartMs: 0, passiveHoldMs: 200 },
  });
  const stateOf = (id: string) => backEnd.status().origins.find((origin) => origin.id === id)?.state;

  const load = Array.from({ length: 8 }, () => exchange(client, httpHead('shop', 'GET', '/slow/600')));
  await waitFor(() => backEnd.status().origins.every((origin) => origin.inFlight === 4), 'the load to spread over both origins');
  await a.close();

  // Right away, before any probe could notice: new requests are served by b.
  const fresh = await Promise.all(Array.from({ length: 6 }, () => exchange(client, httpHead('shop', 'GET', '/bytes/10'))));
  t.deepEqual(fresh.map((answer) => [answer.head.status, answer.head.origin]), Array.from({ length: 6 }, () => [200, 'b']));

  const settled = await Promise.all(load);
  const byOrigin = (id: string) => settled.filter((answer) => answer.head.origin === id);
  t.is(byOrigin('b').length, 4);
  t.true(byOrigin('b').every((answer) => answer.head.status === 200));
  t.is(byOrigin('a').length, 4);
  for (const answer of byOrigin('a')) {
    t.is(answer.head.status, 502);
    t.deepEqual(answer.head.error, { code: BackEndErrorCode.originFailed, retryable: false });
  }

  await waitFor(() => stateOf('a') === 'down', 'the probes to take a down');
  a = await startDemoOrigin({ id: 'a', host: '127.0.0.1', port: a.port });
  await waitFor(() => stateOf('a') === 'up', 'the probes to bring a back');
  const after = await Promise.all(Array.from({ length: 6 }, () => exchange(client, httpHead('shop', 'GET', '/slow/100'))));
  t.true(after.every((answer) => answer.head.status === 200));
  t.true(after.some((answer) => answer.head.origin === 'a'), 'a takes work again');
});

test('a connect failure is retried on another origin of the list; repeated ones take the origin down', async (t) => {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  const good = await demoOrigin(t, { id: 'good' });
  const { client, backEnd } = await startHarness(t, {
    sites: { shop: { origins: [{ url: `http://127.0.0.1:${port}`, id: 'gone' }, { url: good.url, id: 'good' }] } },
    health: { ...quietHealth, passiveFailures: 3 },
  });
  for (let i = 0; i < 8; i++) {
    const answer = await exchange(client, httpHead('shop', 'GET', '/bytes/10'));
    t.is(answer.head.status, 200);
    t.is(answer.head.origin, 'good');
  }
  const gone = backEnd.status().origins.find((origin) => origin.id === 'gone');
  t.is(gone?.state, 'down');
  t.is(gone?.reason, 'request-failures');
});
