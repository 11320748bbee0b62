import test from 'ava';
import { subscribe, type ManagerState, type Subscription } from '@overlay/manager';
import { api, report, siteBody, startTestManager, TOKEN, waitFor } from './helpers/manager.js';

test('an overloaded site gets another front-end, visible in the API and the feed, and loses it when load subsides', async (t) => {
  const manager = await startTestManager({
    reportTimeoutMs: 2000,
    capacity: { intervalMs: 50, raiseAfterMs: 300, releaseAfterMs: 400, releaseBelow: 0.5, maxAutoPerSite: 2 },
    feed: { reportPushDelayMs: 20 },
  });
  t.teardown(() => manager.close());
  const loads: Record<string, number> = { 'fe-1': 0.95, 'fe-2': 0.3, 'fe-3': 0.1 };
  const gateways: Subscription[] = Object.keys(loads).map((id) =>
    subscribe({ url: manager.url, token: TOKEN, hello: { role: 'front-end', id, pop: 'pop-a' }, onState: () => undefined }),
  );
  let latest: ManagerState | undefined;
  const redirector = subscribe({ url: manager.url, token: TOKEN, hello: { role: 'redirector', id: 'dns' }, onState: (state) => (latest = state) });
  const reporting = setInterval(() => gateways.forEach((gateway, index) => gateway.report(report({ load: loads[`fe-${index + 1}`], tunnels: [] }))), 50);
  t.teardown(async () => {
    clearInterval(reporting);
    await Promise.all([...gateways, redirector].map((subscription) => subscription.close()));
  });
  // Every candidate has reported before the site asks for capacity, so the choice is deterministic.
  await waitFor('all front-ends reporting', async () => {
    const listed = (await api(manager.url, 'GET', '/v1/front-ends')).body.frontEnds;
    return Object.keys(loads).every((id) => listed[id]?.load === loads[id]);
  });
  t.is((await api(manager.url, 'PUT', '/v1/sites/shop', siteBody({ frontEnds: ['fe-1'], backEnds: [], qosTarget: { maxLoad: 0.7 } }))).status, 201);

  const grown = await waitFor('an added front-end in the pushed state', () => (latest?.sites.shop?.frontEnds.length === 2 ? latest : undefined), 5000);
  t.deepEqual(grown.sites.shop?.frontEnds, ['fe-1', 'fe-3'], 'the least-loaded free front-end');
  const site = await api(manager.url, 'GET', '/v1/sites/shop');
  t.deepEqual(site.body.frontEnds, ['fe-1'], 'the configured list is unchanged');
  t.deepEqual(site.body.autoAssigned.frontEnds, ['fe-3']);
  t.deepEqual((await api(manager.url, 'GET', '/v1/front-ends/fe-3')).body.sites, ['shop']);
  const decisions = (await api(manager.url, 'GET', '/v1/decisions')).body.decisions;
  t.like(decisions[0], { site: 'shop', kind: 'frontEnds', action: 'assign', gateway: 'fe-3' });
  t.regex(decisions[0].reason, /mean load .* above 0\.7/);
  t.false(Number.isNaN(Date.parse(decisions[0].time)));

  // fe-1 + fe-3 now average 0.525 < 0.7: no more are added. Then load subsides and the added one goes.
  loads['fe-1'] = 0.2;
  loads['fe-3'] = 0.1;
  const shrunk = await waitFor('the added front-end released', () => (latest?.sites.shop?.frontEnds.length === 1 ? latest : undefined), 5000);
  t.deepEqual(shrunk.sites.shop?.frontEnds, ['fe-1']);
  const after = (await api(manager.url, 'GET', '/v1/decisions')).body.decisions;
  t.deepEqual(after.map((d: { action: string; gateway: string }) => `${d.action} ${d.gateway}`), ['assign fe-3', 'release fe-3']);
  t.deepEqual((await api(manager.url, 'GET', '/v1/sites/shop')).body.autoAssigned.frontEnds, []);
});

test('added gateways are stored: they are still assigned after a restart', async (t) => {
  const manager = await startTestManager({ capacity: { intervalMs: 50, raiseAfterMs: 0 } });
  await api(manager.url, 'PUT', '/v1/sites/shop', siteBody({ frontEnds: [], backEnds: [], qosTarget: { maxLoad: 0.9 } }));
  const gateway = subscribe({ url: manager.url, token: TOKEN, hello: { role: 'back-end', id: 'be-7' }, onState: () => undefined });
  await waitFor('a back-end added to a site without one', async () => (await api(manager.url, 'GET', '/v1/sites/shop')).body.autoAssigned.backEnds.length === 1);
  await gateway.close();
  await manager.close();
  const again = await startTestManager({ dataDir: manager.dataDir, capacity: { enabled: false } });
  t.teardown(() => again.close());
  t.deepEqual((await api(again.url, 'GET', '/v1/sites/shop')).body.autoAssigned.backEnds, ['be-7']);
});
