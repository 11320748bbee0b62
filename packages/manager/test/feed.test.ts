import { connect } from 'node:net';
import { once } from 'node:events';
import test from 'ava';
import { WebSocketServer } from 'ws';
import { managerStateSchema, subscribe, type ManagerState } from '@overlay/manager';
import { api, FeedProbe, READ_TOKEN, report, siteBody, startTestManager, TOKEN, waitFor } from './helpers/manager.js';

test('subscribe gets a snapshot, then every API change within a second', async (t) => {
  const manager = await startTestManager();
  t.teardown(() => manager.close());
  const feed = await FeedProbe.open(manager.url);
  t.teardown(() => feed.close());
  const snapshot = await feed.next((m) => m.type === 'snapshot');
  t.notThrows(() => managerStateSchema.parse(snapshot.state), 'the state matches the exported schema');
  t.is(snapshot.state.version, snapshot.version);

  const started = performance.now();
  t.is((await api(manager.url, 'PUT', '/v1/sites/shop', siteBody())).status, 201);
  const change = await feed.next((m) => m.type === 'patch' && m.state.sites.shop);
  const elapsed = performance.now() - started;
  t.true(elapsed < 1000, `change arrived after ${elapsed} ms`);
  t.true(change.version > snapshot.version);
  t.notThrows(() => managerStateSchema.parse(change.state));
  t.deepEqual(change.state.sites.shop.priorities, { default: 2, rules: [] });
  t.deepEqual(change.state.rings.weights, [16384, 8192, 4096, 2048, 1024]);

  await api(manager.url, 'PUT', '/v1/sites/shop/priorities', { rules: [{ match: { pathPrefix: '/api' }, priority: 0 }] });
  const rules = await feed.next((m) => m.type === 'patch' && m.state.sites.shop?.priorities.rules.length === 1);
  t.true(rules.version > change.version);
  await api(manager.url, 'PUT', '/v1/rings', { weights: [5, 4, 3, 2, 1] });
  await feed.next((m) => m.type === 'patch' && m.state.rings.weights[0] === 5);
  await api(manager.url, 'DELETE', '/v1/sites/shop');
  await feed.next((m) => m.type === 'patch' && m.version > rules.version && !m.state.sites.shop);
  const versions = feed.messages.map((m) => m.version);
  t.deepEqual(versions, [...versions].sort((a, b) => a - b), 'versions only grow');
});

test('?since=VERSION resumes without a snapshot when nothing was missed, and resyncs when something was', async (t) => {
  const manager = await startTestManager();
  t.teardown(() => manager.close());
  await api(manager.url, 'PUT', '/v1/sites/shop', siteBody());
  const first = await FeedProbe.open(manager.url);
  const snapshot = await first.next((m) => m.type === 'snapshot');
  first.close();

  const resumed = await FeedProbe.open(manager.url, `?since=${snapshot.version}`);
  t.teardown(() => resumed.close());
  const message = await resumed.next(() => true);
  t.deepEqual(message, { type: 'resumed', version: snapshot.version });
  resumed.close();

  await api(manager.url, 'PUT', '/v1/sites/other', siteBody({ domains: ['other.test'] }));
  const behind = await FeedProbe.open(manager.url, `?since=${snapshot.version}`);
  t.teardown(() => behind.close());
  const resync = await behind.next(() => true);
  t.is(resync.type, 'snapshot');
  t.truthy(resync.state.sites.other, 'the missed change is in the snapshot');
  t.true(resync.version > snapshot.version);

  const garbage = await FeedProbe.open(manager.url, '?since=banana');
  t.teardown(() => garbage.close());
  t.is((await garbage.next(() => true)).type, 'snapshot');
});

test('versions keep growing across a restart, so an old ?since never skips a snapshot', async (t) => {
  const manager = await startTestManager();
  await api(manager.url, 'PUT', '/v1/sites/shop', siteBody());
  const before = await FeedProbe.open(manager.url);
  const old = await before.next((m) => m.type === 'snapshot');
  before.close();
  await manager.close();

  const again = await startTestManager({ dataDir: manager.dataDir });
  t.teardown(() => again.close());
  const after = await FeedProbe.open(again.url, `?since=${old.version}`);
  t.teardown(() => after.close());
  const message = await after.next(() => true);
  t.is(message.type, 'snapshot');
  t.true(message.version > old.version);
  t.truthy(message.state.sites.shop);
});

test('the feed refuses a missing or wrong token with 401; ?token= works for browsers', async (t) => {
  const manager = await startTestManager();
  t.teardown(() => manager.close());
  for (const headers of [{}, { authorization: 'Bearer nope-nope-nope-nope' }] as Array<Record<string, string>>) {
    const error = await FeedProbe.open(manager.url, '', headers).then(
      () => undefined,
      (err: Error) => err,
    );
    t.regex(String(error?.message), /401/);
  }
  const byQuery = await FeedProbe.open(manager.url, `?token=${READ_TOKEN}`, {});
  t.teardown(() => byQuery.close());
  t.is((await byQuery.next(() => true)).type, 'snapshot');
});

test('a gateway hello registers it; its report shows in GET /v1/front-ends and the state; silence marks it down', async (t) => {
  const manager = await startTestManager({ reportTimeoutMs: 1500, feed: { reportPushDelayMs: 50 } });
  t.teardown(() => manager.close());
  await api(manager.url, 'PUT', '/v1/sites/shop', siteBody());
  const redirectorStates: ManagerState[] = [];
  const redirector = subscribe({ url: manager.url, token: TOKEN, hello: { role: 'redirector', id: 'dns-1' }, onState: (state) => redirectorStates.push(state) });
  const gateway = subscribe({
    url: manager.url,
    token: TOKEN,
    hello: { role: 'front-end', id: 'pop-a-1', pop: 'pop-a', addresses: { http: '127.0.1.1:8080', admin: '127.0.1.1:9090' } },
    onState: () => undefined,
  });
  t.teardown(() => Promise.all([redirector.close(), gateway.close()]));
  await waitFor('gateway connected', () => gateway.connected);
  t.true(gateway.report(report({ load: 0.42 })));

  const listed = await waitFor('the report in GET /v1/front-ends', async () => {
    const answer = await api(manager.url, 'GET', '/v1/front-ends');
    return answer.body.frontEnds['pop-a-1']?.lastReport ? answer.body.frontEnds['pop-a-1'] : undefined;
  });
  t.like(listed, { pop: 'pop-a', healthy: true, connected: true, load: 0.42, addresses: { http: '127.0.1.1:8080', admin: '127.0.1.1:9090' }, sites: ['shop'] });
  t.is(listed.tunnels[0].rttMs, 23.5);
  t.deepEqual(listed.ringBytes, [4096, 2048, 1024, 512, 256]);
  t.true(Math.abs(listed.lastReport - Date.now()) < 5000);
  const pushed = await waitFor('the report pushed to the redirector', () => redirectorStates.find((s) => s.frontEnds['pop-a-1']?.load === 0.42));
  t.true(pushed.frontEnds['pop-a-1']?.healthy);

  // The gateway stays connected but stops reporting.
  const down = await waitFor('down in the pushed state', () => redirectorStates.find((s) => s.version > pushed.version && s.frontEnds['pop-a-1']?.healthy === false), 6000);
  t.truthy(down);
  const after = await api(manager.url, 'GET', '/v1/front-ends/pop-a-1');
  t.like(after.body, { healthy: false, connected: true });

  // Reporting again brings it back; a report that says unhealthy keeps it down.
  gateway.report(report({ healthy: false }));
  await waitFor('reported unhealthy', async () => (await api(manager.url, 'GET', '/v1/front-ends/pop-a-1')).body.lastReport > listed.lastReport);
  t.false((await api(manager.url, 'GET', '/v1/front-ends/pop-a-1')).body.healthy);
  gateway.report(report());
  await waitFor('healthy again', () => redirectorStates.at(-1)?.frontEnds['pop-a-1']?.healthy === true);

  // A connected gateway cannot be forgotten; once gone it can.
  t.is((await api(manager.url, 'DELETE', '/v1/front-ends/pop-a-1')).status, 409);
  await gateway.close();
  await waitFor('disconnected', async () => (await api(manager.url, 'GET', '/v1/front-ends/pop-a-1')).body.connected === false);
  t.is((await api(manager.url, 'DELETE', '/v1/front-ends/pop-a-1')).status, 204);
  t.is((await api(manager.url, 'GET', '/v1/front-ends/pop-a-1')).status, 404);
});

test('bad messages get an error reply and the connection stays; read-only tokens cannot register', async (t) => {
  const manager = await startTestManager();
  t.teardown(() => manager.close());
  const feed = await FeedProbe.open(manager.url);
  t.teardown(() => feed.close());
  feed.send({ type: 'report', ...report() });
  t.like(await feed.next((m) => m.type === 'error'), { code: 'hello_first' });
  feed.socket.send('not json');
  await waitFor('two errors', () => feed.messages.filter((m) => m.type === 'error').length >= 2);
  feed.send({ type: 'hello', role: 'front-end', id: 'fe-1' });
  feed.send({ type: 'report', ...report({ ringBytes: [1, 2, 3] }) });
  const invalid = await waitFor('ringBytes error', () => feed.messages.find((m) => m.type === 'error' && m.message.startsWith('ringBytes')));
  t.is(invalid.code, 'invalid');
  feed.send({ type: 'report', ...report({ load: 0.7 }) });
  const answer = await waitFor('valid report after bad ones', async () => {
    const fe = (await api(manager.url, 'GET', '/v1/front-ends/fe-1')).body;
    return fe.load === 0.7 ? fe : undefined;
  });
  t.true(answer.connected);

  const reader = await FeedProbe.open(manager.url, '', { authorization: `Bearer ${READ_TOKEN}` });
  t.teardown(() => reader.close());
  reader.send({ type: 'hello', role: 'back-end', id: 'sneaky' });
  t.like(await reader.next((m) => m.type === 'error'), { code: 'forbidden' });
  t.is((await api(manager.url, 'GET', '/v1/back-ends/sneaky')).status, 404);
});

test('the client keeps its last state while the manager is away and resumes when it returns', async (t) => {
  const manager = await startTestManager();
  const dataDir = manager.dataDir;
  const port = manager.address.port;
  await api(manager.url, 'PUT', '/v1/sites/shop', siteBody());
  const statuses: boolean[] = [];
  const states: ManagerState[] = [];
  const client = subscribe({
    url: manager.url,
    token: TOKEN,
    hello: { role: 'front-end', id: 'pop-a-1' },
    onState: (state) => states.push(state),
    onStatus: (status) => statuses.push(status.connected),
    backoff: { initialMs: 50, maxMs: 200, factor: 2, jitter: 0 },
  });
  t.teardown(() => client.close());
  await waitFor('first state', () => client.state?.sites.shop);
  await manager.close();
  await waitFor('disconnected', () => statuses.includes(false));
  t.truthy(client.state?.sites.shop, 'the last state is kept');
  t.false(client.report(report()), 'reports while away are not queued');

  const again = await startTestManager({ dataDir, listen: `127.0.0.1:${port}` });
  t.teardown(() => again.close());
  await waitFor('reconnected', () => client.connected, 5000);
  await api(again.url, 'PUT', '/v1/sites/new', siteBody({ domains: ['new.test'] }));
  await waitFor('state from the restarted manager', () => client.state?.sites.new);
  t.true(states.at(-1)!.version > states[0]!.version);
  await waitFor('registered again after the restart', async () => (await api(again.url, 'GET', '/v1/front-ends/pop-a-1')).body.connected === true);
});

/** A raw socket that completes the WebSocket handshake and then never reads (so never answers a ping either). */
async function deafSubscriber(port: number) {
  const socket = connect(port, '127.0.0.1');
  await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
  socket.write(
    `GET /v1/stream HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nAuthorization: Bearer ${TOKEN}\r\n\r\n`,
  );
  await new Promise<void>((resolve) => socket.once('data', () => resolve()));
  socket.pause();
  return socket;
}

const subscriberCount = async (url: string) => ((await (await fetch(`${url}/healthz`)).json()) as { subscribers: number }).subscribers;

test('a subscriber that stops answering pings is dropped', async (t) => {
  const manager = await startTestManager({ feed: { pingIntervalMs: 500 } });
  t.teardown(() => manager.close());
  const socket = await deafSubscriber(manager.address.port);
  t.teardown(() => socket.destroy());
  const live = await FeedProbe.open(manager.url);
  t.teardown(() => live.close());
  t.is(await subscriberCount(manager.url), 2);
  const droppedForPing = async () => /overlay_manager_feed_dropped_total\{reason="ping"[^}]*\} 1/.test(await (await fetch(`${manager.url}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } })).text());
  await waitFor('the deaf one dropped', droppedForPing, 8000);
  await waitFor('one subscriber left', async () => (await subscriberCount(manager.url)) === 1);
  t.is(live.closeCode, undefined, 'the one that answers pings stays');
});

test('the client reports a refused token and keeps retrying', async (t) => {
  const manager = await startTestManager();
  t.teardown(() => manager.close());
  const errors: string[] = [];
  const client = subscribe({
    url: manager.url,
    token: 'not-the-token-0123456789',
    hello: { role: 'redirector', id: 'dns-1' },
    onState: () => t.fail('no state with a wrong token'),
    onStatus: (status) => status.error && errors.push(status.error),
    backoff: { initialMs: 20, maxMs: 50, factor: 2, jitter: 0 },
  });
  t.teardown(() => client.close());
  await waitFor('three refusals', () => errors.length >= 3);
  t.is(errors[0], 'manager answered 401 to the feed upgrade');
  t.false(client.connected);
});

test('a subscriber that stops reading is dropped instead of buffered without bound', async (t) => {
  const manager = await startTestManager({ feed: { maxBufferedBytes: 32 * 1024 } });
  t.teardown(() => manager.close());
  const socket = await deafSubscriber(manager.address.port);
  t.teardown(() => socket.destroy());
  // Large states (~50 KB) fill the kernel's socket buffers in a few dozen writes.
  const label = (c: string) => c.repeat(60);
  const domains = Array.from({ length: 250 }, (_, index) => `h${index}.${label('a')}.${label('b')}.${label('c')}.bulk.test`);
  const dropped = async () => /overlay_manager_feed_dropped_total\{reason="slow"[^}]*\} 1/.test(await (await fetch(`${manager.url}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } })).text());
  let writes = 0;
  while (!(await dropped()) && writes < 2000) {
    await api(manager.url, 'PUT', '/v1/sites/bulk', siteBody({ domains, frontEnds: [`fe-${writes}`] }));
    writes++;
  }
  t.true(await dropped(), `dropped after ${writes} writes`);
  t.log(`dropped after ${writes} writes`);
  await waitFor('the dropped subscriber gone', async () => (await subscriberCount(manager.url)) === 0);
  t.pass();
});

test('the client applies patches to the version it holds, and resyncs with a snapshot when a patch does not fit', async (t) => {
  // A scripted feed: the client under test meets each case exactly once.
  const manager = await startTestManager();
  t.teardown(() => manager.close());
  const base = (await FeedProbe.open(manager.url).then(async (probe) => {
    const snapshot = await probe.next((m) => m.type === 'snapshot');
    probe.close();
    return snapshot.state;
  })) as ManagerState;
  const server = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  await once(server, 'listening');
  const connections: string[] = [];
  const versioned = (version: number, sites: ManagerState['sites'] = {}) => ({ ...base, version, sites });
  server.on('connection', (socket, req) => {
    connections.push(req.url ?? '');
    if (connections.length === 1) {
      socket.send(JSON.stringify({ type: 'snapshot', version: 1, state: versioned(1) }));
      socket.send(JSON.stringify({ type: 'patch', version: 2, from: 1, set: [[['version'], 2]], unset: [] }));
      socket.send(JSON.stringify({ type: 'patch', version: 3, from: 1, set: [[['version'], 3]], unset: [] })); // the client holds 2
      socket.send(JSON.stringify({ type: 'patch', version: 9, from: 2, set: [[['version'], 9]], unset: [] })); // ignored: resyncing
    } else if (connections.length === 2) {
      socket.send(JSON.stringify({ type: 'snapshot', version: 4, state: versioned(4) }));
      socket.send(JSON.stringify({ type: 'patch', version: 5, from: 4, set: [[['version'], 5], [['sites', 'x'], 'not a site']], unset: [] }));
    } else {
      socket.send(JSON.stringify({ type: 'snapshot', version: 6, state: versioned(6) }));
    }
  });
  const versions: number[] = [];
  const { port } = server.address() as { port: number };
  const client = subscribe({
    url: `http://127.0.0.1:${port}`,
    token: TOKEN,
    hello: { role: 'front-end', id: 'pop-a-1' },
    onState: (_state, version) => versions.push(version),
    backoff: { initialMs: 20, maxMs: 50, factor: 2, jitter: 0 },
  });
  t.teardown(() => client.close());
  await waitFor('two resyncs', () => client.state?.version === 6);
  t.deepEqual(versions, [1, 2, 4, 6], 'a patch from another version, and one that yields an invalid state, are refused');
  t.is(connections.length, 3);
  t.regex(connections[1] ?? '', /since=2/);
  t.regex(connections[2] ?? '', /since=4/);
});
