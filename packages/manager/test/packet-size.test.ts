import test from 'ava';
import { DEFAULT_RING_WEIGHTS, subscribe, type ManagerState } from '@overlay/manager';
import { api, startTestManager, TOKEN, waitFor } from './helpers/manager.js';

test('the tunnel packet size is set with PUT /v1/rings, pushed on the feed and kept across a restart', async (t) => {
  const manager = await startTestManager();
  let latest: ManagerState | undefined;
  const gateway = subscribe({ url: manager.url, token: TOKEN, hello: { role: 'front-end', id: 'fe-packet' }, onState: (state) => (latest = state) });
  t.teardown(() => gateway.close());
  await waitFor('the first state', () => latest);
  t.is(latest?.rings.packetSize, undefined, 'unset: gateways keep their built-in packet size');

  const bad = await api(manager.url, 'PUT', '/v1/rings', { weights: [...DEFAULT_RING_WEIGHTS], packetSize: 100 });
  t.is(bad.status, 400);
  t.regex(bad.body.error.message, /packetSize/);

  const put = await api(manager.url, 'PUT', '/v1/rings', { weights: [...DEFAULT_RING_WEIGHTS], packetSize: 4096 });
  t.is(put.status, 200);
  t.deepEqual(put.body, { weights: [...DEFAULT_RING_WEIGHTS], packetSize: 4096 });
  await waitFor('the packet size on the feed', () => latest?.rings.packetSize === 4096);

  await gateway.close();
  await manager.close();
  const again = await startTestManager({ dataDir: manager.dataDir });
  t.teardown(() => again.close());
  t.deepEqual((await api(again.url, 'GET', '/v1/rings')).body, { weights: [...DEFAULT_RING_WEIGHTS], packetSize: 4096 });
  const weightsOnly = await api(again.url, 'PUT', '/v1/rings', { weights: [...DEFAULT_RING_WEIGHTS] });
  t.deepEqual(weightsOnly.body, { weights: [...DEFAULT_RING_WEIGHTS] }, 'a PUT without it goes back to the gateways\' own');
});
