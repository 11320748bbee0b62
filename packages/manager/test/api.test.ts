import test from 'ava';
import { DEFAULT_RING_WEIGHTS } from '@overlay/manager';
import { api, READ_TOKEN, siteBody, startTestManager, TOKEN } from './helpers/manager.js';

type Manager = Awaited<ReturnType<typeof startTestManager>>;
let manager: Manager;

test.before(async () => {
  manager = await startTestManager({ maxBodyBytes: 64 * 1024 });
});
test.after.always(async () => {
  await manager?.close();
});

/** Every test works on its own site names, so they can run concurrently on one manager. */
function expectError(t: any, answer: { status: number; body: any }, status: number, code: string, messageStart?: string): void {
  t.is(answer.status, status, JSON.stringify(answer.body));
  t.is(answer.body?.error?.code, code);
  t.is(typeof answer.body?.error?.message, 'string');
  if (messageStart !== undefined) t.true(answer.body.error.message.startsWith(messageStart), answer.body.error.message);
}

test('GET /v1/health answers without a token', async (t) => {
  const answer = await api(manager.url, 'GET', '/v1/health', undefined, null);
  t.is(answer.status, 200);
  t.like(answer.body, { ok: true, role: 'both' });
  t.is(typeof answer.body.version, 'number');
});

test('every other call needs the token: none or a wrong one gets 401', async (t) => {
  const calls: Array<[string, string, unknown?]> = [
    ['GET', '/v1/sites'],
    ['GET', '/v1/sites/a'],
    ['PUT', '/v1/sites/a', siteBody({ domains: ['auth.test'] })],
    ['DELETE', '/v1/sites/a'],
    ['GET', '/v1/sites/a/priorities'],
    ['PUT', '/v1/sites/a/priorities', { rules: [] }],
    ['GET', '/v1/rings'],
    ['PUT', '/v1/rings', { weights: [1, 1, 1, 1, 1] }],
    ['GET', '/v1/front-ends'],
    ['GET', '/v1/back-ends'],
    ['GET', '/v1/decisions'],
    ['GET', '/v1/nowhere'],
  ];
  for (const [method, path, body] of calls) {
    expectError(t, await api(manager.url, method, path, body, null), 401, 'unauthorized');
    expectError(t, await api(manager.url, method, path, body, 'wrong-token-0123456789'), 401, 'unauthorized');
    expectError(t, await api(manager.url, method, path, body, `${'test-token-0123456789'}x`), 401, 'unauthorized');
  }
  const site = await api(manager.url, 'GET', '/v1/sites/a');
  t.is(site.status, 404, 'the PUT without a token stored nothing');
});

test('PUT creates (201), replaces (200); GET and the list return it; DELETE removes it', async (t) => {
  const created = await api(manager.url, 'PUT', '/v1/sites/crud', siteBody({ domains: ['CRUD.Example.com.'] }));
  t.is(created.status, 201);
  t.deepEqual(created.body.domains, ['crud.example.com'], 'domains stored lower-case without the dot');
  t.deepEqual(created.body.origins[0], { url: 'http://127.0.0.1:9001', weight: 2, primary: true });
  t.deepEqual(created.body.routes, [{ pathPrefix: '/api', origins: [{ url: 'http://127.0.0.1:9003' }] }]);
  t.deepEqual(created.body.priorities, { default: 2, rules: [] });
  t.deepEqual(created.body.autoAssigned, { frontEnds: [], backEnds: [] });

  const replaced = await api(manager.url, 'PUT', '/v1/sites/crud', siteBody({ domains: ['crud.example.com'], frontEnds: ['pop-b-1'], qosTarget: { maxLoad: 0.8 } }));
  t.is(replaced.status, 200);
  const got = await api(manager.url, 'GET', '/v1/sites/crud');
  t.is(got.status, 200);
  t.deepEqual(got.body.frontEnds, ['pop-b-1']);
  t.deepEqual(got.body.qosTarget, { maxLoad: 0.8 });
  const list = await api(manager.url, 'GET', '/v1/sites');
  t.deepEqual(list.body.sites.crud.frontEnds, ['pop-b-1']);

  const deleted = await api(manager.url, 'DELETE', '/v1/sites/crud');
  t.is(deleted.status, 204);
  expectError(t, await api(manager.url, 'GET', '/v1/sites/crud'), 404, 'not_found');
  expectError(t, await api(manager.url, 'DELETE', '/v1/sites/crud'), 404, 'not_found');
});

test('a TCP site needs its listener and tcp:// origins', async (t) => {
  const good = await api(manager.url, 'PUT', '/v1/sites/db', { domains: ['db.demo.test'], mode: 'tcp', origins: [{ url: 'tcp://127.0.0.1:5432' }], listen: '127.0.0.1:15432' });
  t.is(good.status, 201, JSON.stringify(good.body));
  t.is(good.body.listen, '127.0.0.1:15432');
  expectError(t, await api(manager.url, 'PUT', '/v1/sites/db2', { domains: ['db2.demo.test'], mode: 'tcp', origins: [{ url: 'tcp://127.0.0.1:5432' }] }), 400, 'invalid', 'listen:');
  expectError(
    t,
    await api(manager.url, 'PUT', '/v1/sites/db2', { domains: ['db2.demo.test'], mode: 'tcp', origins: [{ url: 'http://127.0.0.1:5432' }], listen: '127.0.0.1:15433' }),
    400,
    'invalid',
    'origins[0].url:',
  );
  expectError(t, await api(manager.url, 'PUT', '/v1/sites/db3', { domains: ['db3.demo.test'], mode: 'tcp', origins: [{ url: 'tcp://127.0.0.1:5432' }], listen: '127.0.0.1:15432' }), 409, 'conflict', 'listen:');
});

test('bad site bodies get 400 naming the field', async (t) => {
  const cases: Array<[unknown, string]> = [
    [{ ...siteBody(), domains: [] }, 'domains:'],
    [{ ...siteBody(), domains: ['not a name'] }, 'domains[0]:'],
    [{ ...siteBody(), domains: ['a.test', 'A.test'] }, 'domains[1]:'],
    [{ ...siteBody(), origins: [] }, 'origins:'],
    [{ ...siteBody(), origins: [{ url: 'ftp://x' }] }, 'origins[0].url:'],
    [{ ...siteBody(), origins: [{ url: 'http://127.0.0.1:1/path' }] }, 'origins[0].url:'],
    [{ ...siteBody(), origins: [{ url: 'http://127.0.0.1:1', weight: -1 }] }, 'origins[0].weight:'],
    [{ ...siteBody(), routes: [{ pathPrefix: 'api', origins: [{ url: 'http://127.0.0.1:1' }] }] }, 'routes[0].pathPrefix:'],
    [{ ...siteBody(), mode: 'udp' }, 'mode:'],
    [{ ...siteBody(), frontEnds: ['ok', 'bad id!'] }, 'frontEnds[1]:'],
    [{ ...siteBody(), backEnds: ['be', 'be'] }, 'backEnds:'],
    [{ ...siteBody(), healthCheck: { freshness: { header: 'last modified' } } }, 'healthCheck.freshness.header:'],
    [{ ...siteBody(), healthCheck: { freshness: { header: 'x-version', maxLagS: -1 } } }, 'healthCheck.freshness.maxLagS:'],
    [{ ...siteBody(), mode: 'tcp', origins: [{ url: 'tcp://127.0.0.1:1' }], listen: '127.0.0.1:15439', healthCheck: { freshness: { header: 'x-version' } } }, 'healthCheck:'],
    [{ ...siteBody(), qosTarget: {} }, 'qosTarget:'],
    [{ ...siteBody(), qosTarget: { maxLoad: 2 } }, 'qosTarget.maxLoad:'],
    [{ ...siteBody(), colour: 'blue' }, 'body:'],
    [[1, 2], 'body:'],
    ['{"domains": [', 'body:'],
    ['', 'body:'],
  ];
  for (const [body, field] of cases) {
    expectError(t, await api(manager.url, 'PUT', '/v1/sites/badbody', body), 400, 'invalid', field);
  }
  expectError(t, await api(manager.url, 'GET', '/v1/sites/badbody'), 404, 'not_found');
  expectError(t, await api(manager.url, 'PUT', '/v1/sites/-bad-name', siteBody({ domains: ['bn.test'] })), 400, 'invalid', 'site:');
  expectError(t, await api(manager.url, 'GET', '/v1/sites/%E0%A4%A'), 400, 'invalid', 'path:');
});

test('a domain belongs to one site: 409 names it, and the loser is not stored', async (t) => {
  t.is((await api(manager.url, 'PUT', '/v1/sites/owner', siteBody({ domains: ['taken.test'] }))).status, 201);
  expectError(t, await api(manager.url, 'PUT', '/v1/sites/thief', siteBody({ domains: ['free.test', 'TAKEN.test'] })), 409, 'conflict', 'domains[1]:');
  expectError(t, await api(manager.url, 'GET', '/v1/sites/thief'), 404, 'not_found');
  t.is((await api(manager.url, 'PUT', '/v1/sites/owner', siteBody({ domains: ['taken.test', 'also.test'] }))).status, 200, 'a site may keep its own domains');
});

test('priorities: PUT and GET the rules in force; bad rules get 400 naming the rule', async (t) => {
  t.is((await api(manager.url, 'PUT', '/v1/sites/prio', siteBody({ domains: ['prio.test'] }))).status, 201);
  const rules = {
    default: 3,
    rules: [
      { match: { cidr: '10.1.0.0/16' }, priority: 0 },
      { match: { pathPrefix: '/static', method: 'get' }, priority: 4 },
      { match: { header: { name: 'x-tier', value: 'gold' }, cookie: { name: 'vip', value: '1' } }, priority: 1 },
    ],
  };
  const put = await api(manager.url, 'PUT', '/v1/sites/prio/priorities', rules);
  t.is(put.status, 200);
  t.is(put.body.rules[1].match.method, 'GET', 'methods are stored upper-case');
  const got = await api(manager.url, 'GET', '/v1/sites/prio/priorities');
  t.deepEqual(got.body, put.body);
  t.deepEqual((await api(manager.url, 'GET', '/v1/sites/prio')).body.priorities, put.body);

  expectError(t, await api(manager.url, 'PUT', '/v1/sites/prio/priorities', { rules: [{ match: {}, priority: 7 }] }), 400, 'invalid', 'rules[0].priority:');
  expectError(t, await api(manager.url, 'PUT', '/v1/sites/prio/priorities', { rules: [{ match: { cidr: '10.0.0.0/33' }, priority: 1 }] }), 400, 'invalid', 'rules[0].match.cidr:');
  expectError(t, await api(manager.url, 'PUT', '/v1/sites/prio/priorities', { default: 1 }), 400, 'invalid', 'rules:');
  expectError(t, await api(manager.url, 'PUT', '/v1/sites/nosuch/priorities', { rules: [] }), 404, 'not_found');
  expectError(t, await api(manager.url, 'GET', '/v1/sites/nosuch/priorities'), 404, 'not_found');

  // Replacing the site keeps its rules: they are a resource of their own.
  await api(manager.url, 'PUT', '/v1/sites/prio', siteBody({ domains: ['prio.test'], frontEnds: [] }));
  t.deepEqual((await api(manager.url, 'GET', '/v1/sites/prio/priorities')).body, put.body);
});

test('rings: defaults, PUT and GET; five positive weights or 400', async (t) => {
  // No other test in this file touches the rings.
  const before = await api(manager.url, 'GET', '/v1/rings');
  t.deepEqual(before.body, { weights: [...DEFAULT_RING_WEIGHTS] });
  expectError(t, await api(manager.url, 'PUT', '/v1/rings', { weights: [1, 2, 3, 4] }), 400, 'invalid', 'weights:');
  expectError(t, await api(manager.url, 'PUT', '/v1/rings', { weights: [1, 2, 0, 4, 5] }), 400, 'invalid', 'weights[2]:');
  expectError(t, await api(manager.url, 'PUT', '/v1/rings', { weights: [1, 2, 3, 4, 5], extra: 1 }), 400, 'invalid');
  const put = await api(manager.url, 'PUT', '/v1/rings', { weights: [800, 400, 200, 100, 50] });
  t.is(put.status, 200);
  t.deepEqual((await api(manager.url, 'GET', '/v1/rings')).body, { weights: [800, 400, 200, 100, 50] });
  await api(manager.url, 'PUT', '/v1/rings', { weights: [...DEFAULT_RING_WEIGHTS] });
});

test('gateway lists answer even when empty; unknown gateways are 404', async (t) => {
  const frontEnds = await api(manager.url, 'GET', '/v1/front-ends');
  t.is(frontEnds.status, 200);
  t.is(typeof frontEnds.body.frontEnds, 'object');
  const backEnds = await api(manager.url, 'GET', '/v1/back-ends');
  t.is(backEnds.status, 200);
  t.is(typeof backEnds.body.backEnds, 'object');
  expectError(t, await api(manager.url, 'GET', '/v1/front-ends/ghost'), 404, 'not_found');
  expectError(t, await api(manager.url, 'DELETE', '/v1/back-ends/ghost'), 404, 'not_found');
  const decisions = await api(manager.url, 'GET', '/v1/decisions');
  t.deepEqual(decisions.body, { decisions: [] });
});

test('wrong methods get 405 with Allow; unknown paths 404; /v1/stream without upgrade 426', async (t) => {
  const post = await api(manager.url, 'POST', '/v1/sites/x', siteBody());
  expectError(t, post, 405, 'method_not_allowed');
  t.is(post.headers.get('allow'), 'GET, PUT, DELETE');
  expectError(t, await api(manager.url, 'PATCH', '/v1/rings', {}), 405, 'method_not_allowed');
  expectError(t, await api(manager.url, 'DELETE', '/v1/sites'), 405, 'method_not_allowed');
  expectError(t, await api(manager.url, 'POST', '/v1/health', {}, null), 405, 'method_not_allowed');
  expectError(t, await api(manager.url, 'GET', '/v1/sites/a/b/c'), 404, 'not_found');
  expectError(t, await api(manager.url, 'GET', '/v1/stream'), 426, 'upgrade_required');
});

test('a body over the limit gets 413 and nothing is stored', async (t) => {
  const domains = Array.from({ length: 200 }, (_, index) => `${'d'.repeat(300)}${index}.test`.slice(-60));
  const answer = await api(manager.url, 'PUT', '/v1/sites/huge', { ...siteBody(), domains, padding: 'x'.repeat(70 * 1024) });
  expectError(t, answer, 413, 'too_large');
  expectError(t, await api(manager.url, 'GET', '/v1/sites/huge'), 404, 'not_found');
});

test('a read-only token reads but gets 403 on writes', async (t) => {
  t.is((await api(manager.url, 'GET', '/v1/sites', undefined, READ_TOKEN)).status, 200);
  expectError(t, await api(manager.url, 'PUT', '/v1/sites/ro', siteBody({ domains: ['ro.test'] }), READ_TOKEN), 403, 'forbidden');
  expectError(t, await api(manager.url, 'PUT', '/v1/rings', { weights: [1, 1, 1, 1, 1] }, READ_TOKEN), 403, 'forbidden');
  expectError(t, await api(manager.url, 'GET', '/v1/sites/ro'), 404, 'not_found');
});

test('without an admin address /metrics on the API port needs a read or admin token; the dashboard is served at /', async (t) => {
  await api(manager.url, 'GET', '/v1/sites');
  t.is((await fetch(`${manager.url}/metrics`)).status, 401);
  t.is((await fetch(`${manager.url}/metrics`, { headers: { authorization: 'Bearer not-a-token-at-all-0000' } })).status, 401);
  t.is((await fetch(`${manager.url}/metrics`, { headers: { authorization: `Bearer ${READ_TOKEN}` } })).status, 200);
  const metrics = await fetch(`${manager.url}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } });
  t.is(metrics.status, 200);
  const text = await metrics.text();
  t.regex(text, /overlay_manager_api_requests_total\{method="GET",status="200"[^}]*\} [1-9]/);
  t.regex(text, /overlay_manager_sites\{[^}]*\} \d+/);
  t.false(text.includes('test-token'), 'no token in metrics');
  const health = await fetch(`${manager.url}/healthz`);
  t.is(health.status, 200);
  t.like(await health.json(), { ok: true, role: 'both' });
  const page = await fetch(`${manager.url}/`);
  t.is(page.status, 200);
  t.regex(page.headers.get('content-type') ?? '', /text\/html/);
  t.regex(await page.text(), /\/v1\/stream\?token=/);
});

test('a separate admin listener serves /metrics and /healthz only, and the API port then has no /metrics', async (t) => {
  const other = await startTestManager({ admin: '127.0.0.1:0' });
  t.teardown(() => other.close());
  const admin = `http://127.0.0.1:${other.adminAddress?.port}`;
  t.is((await fetch(`${admin}/healthz`)).status, 200);
  t.regex(await (await fetch(`${admin}/metrics`)).text(), /overlay_manager_state_version/);
  t.is((await fetch(`${admin}/v1/sites`)).status, 404);
  t.is((await fetch(`${other.url}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } })).status, 404);
  t.is((await fetch(`${other.url}/healthz`)).status, 200);
});
