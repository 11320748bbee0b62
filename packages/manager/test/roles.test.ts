import test from 'ava';
import { subscribe, type ManagerState } from '@overlay/manager';
import { api, report, siteBody, startTestManager, TOKEN, waitFor } from './helpers/manager.js';

test('a front-end manager keeps front-end fields only and refuses back-end questions with 409', async (t) => {
  const manager = await startTestManager({ role: 'front-end' });
  t.teardown(() => manager.close());
  const put = await api(manager.url, 'PUT', '/v1/sites/shop', siteBody({ qosTarget: { maxLoad: 0.9 } }));
  t.is(put.status, 201);
  t.deepEqual(put.body.frontEnds, ['pop-a-1']);
  t.deepEqual(put.body.origins, [], 'origins belong to the back-end manager');
  t.deepEqual(put.body.routes, []);
  t.deepEqual(put.body.backEnds, []);
  t.deepEqual(put.body.qosTarget, { maxLoad: 0.9 });
  t.is((await api(manager.url, 'PUT', '/v1/sites/shop/priorities', { rules: [] })).status, 200);
  t.is((await api(manager.url, 'GET', '/v1/rings')).status, 200);
  t.is((await api(manager.url, 'GET', '/v1/front-ends')).status, 200);
  const backEnds = await api(manager.url, 'GET', '/v1/back-ends');
  t.is(backEnds.status, 409);
  t.is(backEnds.body.error.code, 'wrong_role');
});

test('a back-end manager keeps back-end fields only; priorities and rings are 409 wrong_role', async (t) => {
  const manager = await startTestManager({ role: 'back-end' });
  t.teardown(() => manager.close());
  const put = await api(manager.url, 'PUT', '/v1/sites/shop', siteBody());
  t.is(put.status, 201);
  t.deepEqual(put.body.frontEnds, []);
  t.is(put.body.origins.length, 2);
  t.deepEqual(put.body.backEnds, ['be-1']);
  for (const [method, path, body] of [
    ['PUT', '/v1/sites/shop/priorities', { rules: [] }],
    ['GET', '/v1/sites/shop/priorities', undefined],
    ['PUT', '/v1/rings', { weights: [1, 1, 1, 1, 1] }],
    ['GET', '/v1/rings', undefined],
    ['GET', '/v1/front-ends', undefined],
  ] as const) {
    const answer = await api(manager.url, method, path, body);
    t.is(answer.status, 409, `${method} ${path}`);
    t.is(answer.body.error.code, 'wrong_role');
  }
  t.is((await api(manager.url, 'GET', '/v1/back-ends')).status, 200);
});

test('a back-end manager serves front-ends the feed but does not register them', async (t) => {
  const manager = await startTestManager({ role: 'back-end' });
  t.teardown(() => manager.close());
  await api(manager.url, 'PUT', '/v1/sites/shop', siteBody());
  let latest: ManagerState | undefined;
  const frontEnd = subscribe({ url: manager.url, token: TOKEN, hello: { role: 'front-end', id: 'pop-a-1' }, onState: (state) => (latest = state) });
  const backEnd = subscribe({ url: manager.url, token: TOKEN, hello: { role: 'back-end', id: 'be-1', addresses: { tunnel: '127.0.0.1:7000' } }, onState: () => undefined });
  t.teardown(() => Promise.all([frontEnd.close(), backEnd.close()]));
  await waitFor('both connected', () => frontEnd.connected && backEnd.connected);
  frontEnd.report(report());
  backEnd.report(report({ load: 0.5 }));
  const state = await waitFor('the back-end in the pushed state', () => latest?.backEnds['be-1']?.lastReport !== null && latest?.backEnds['be-1'] ? latest : undefined);
  t.is(state.role, 'back-end');
  t.deepEqual(state.frontEnds, {}, 'front-ends are the front-end manager\'s');
  t.deepEqual(state.sites.shop?.backEnds, ['be-1']);
  t.is(state.backEnds['be-1']?.load, 0.5);
});
