import { once } from 'node:events';
import test from 'ava';
import type { QosReport } from '@overlay/tunnel';
import { demoOrigin, exchange, httpHead, quietHealth, startHarness, waitFor } from './helpers.js';

/** The value of the first series of `name` whose labels include every `labels` pair. */
function series(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (Object.entries(labels).every(([key, value]) => line.includes(`${key}="${value}"`))) return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return undefined;
}

test('the admin listener serves /metrics and /healthz', async (t) => {
  const origin = await demoOrigin(t, { id: 'o1' });
  const { client, backEnd } = await startHarness(t, { sites: { shop: { origins: [{ url: origin.url, id: 'o1' }] } }, health: quietHealth });
  await exchange(client, httpHead('shop', 'GET', '/bytes/5000', { priority: 3 }));
  await exchange(client, httpHead('nowhere', 'GET', '/'));
  const base = `http://127.0.0.1:${backEnd.admin.port}`;

  const metrics = await (await fetch(`${base}/metrics`)).text();
  t.is(series(metrics, 'overlay_backend_requests_total', { site: 'shop', status: '200', origin: 'o1' }), 1);
  t.is(series(metrics, 'overlay_backend_requests_total', { site: 'nowhere', status: '404', origin: '' }), 1);
  t.is(series(metrics, 'overlay_backend_error_answers_total', { site: 'nowhere', code: 'ERR_UNKNOWN_SITE' }), 1);
  t.is(series(metrics, 'overlay_backend_body_bytes_total', { site: 'shop', direction: 'out' }), 5000);
  t.is(series(metrics, 'overlay_backend_queue_wait_seconds_count', { site: 'shop' }), 1);
  t.is(series(metrics, 'overlay_backend_origin_up', { origin: 'o1' }), 1);
  t.is(series(metrics, 'overlay_backend_origin_in_flight', { origin: 'o1' }), 0);
  t.true((series(metrics, 'overlay_backend_origin_limit', { origin: 'o1' }) ?? 0) >= 1);
  t.is(series(metrics, 'overlay_backend_tunnel_sessions'), 1);
  t.true((series(metrics, 'overlay_backend_ring_bytes_total', { ring: '3' }) ?? 0) >= 5000);
  t.is(series(metrics, 'overlay_backend_queue_length', { site: 'shop', route: '*' }), 0);

  const health = await fetch(`${base}/healthz`);
  t.is(health.status, 200);
  t.like(await health.json(), { ok: true, id: 'be-test', draining: false, sessions: 1, originsDown: 0 });
});

test('queue pressure is reported to front-ends as load', async (t) => {
  const origin = await demoOrigin(t, { id: 'o1' });
  const { client, backEnd } = await startHarness(t, {
    sites: { shop: { origins: [{ url: origin.url, id: 'o1' }] } },
    limits: { adaptive: false, initial: 1, min: 1 },
    queue: { maxQueue: 4 },
    health: quietHealth,
  });
  t.is(backEnd.status().load, 0);
  // Busy for 3 × 1.2 s: the back-end's next QoS report (every 2 s) comes while work is queued.
  const waiting = Array.from({ length: 3 }, () => exchange(client, httpHead('shop', 'GET', '/slow/1200')));
  await waitFor(() => backEnd.status().sites[0]?.queued === 2, 'two requests to queue');
  t.is(backEnd.status().load, 0.5 + 0.5 * (2 / 4));
  const session = client.sessions[0];
  const report = await new Promise<QosReport>((resolve) => session.on('qos', (qos: QosReport) => qos.load > 0 && resolve(qos)));
  t.true(report.load > 0.5, `reported ${report.load}`);
  t.true((await Promise.all(waiting)).every((answer) => answer.head.status === 200));
});

test('close() drains: GOAWAY to front-ends, in-flight requests finish, then everything closes', async (t) => {
  const origin = await demoOrigin(t, { id: 'o1' });
  const { client, backEnd } = await startHarness(t, { sites: { shop: { origins: [{ url: origin.url, id: 'o1' }] } }, health: quietHealth });
  const inFlight = exchange(client, httpHead('shop', 'GET', '/slow/300'));
  await waitFor(() => backEnd.status().origins[0]?.inFlight === 1, 'the request to reach the origin');
  const session = client.sessions[0];
  const goneAway = once(session, 'goaway');
  const closing = backEnd.close();
  await goneAway;
  t.throws(() => client.openStream({ meta: httpHead('shop', 'GET', '/') }), { message: /down|draining|goaway/i });
  const health = await fetch(`http://127.0.0.1:${backEnd.admin.port}/healthz`);
  t.is(health.status, 503, 'a draining back-end says so');
  const answer = await inFlight;
  t.is(answer.head.status, 200);
  await closing;
  await t.throwsAsync(fetch(`http://127.0.0.1:${backEnd.admin.port}/healthz`));
});
