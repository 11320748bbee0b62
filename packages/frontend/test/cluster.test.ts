import { silentLogger } from '@overlay/common';
import { startDemoOrigin } from '@overlay/demo-origin';
import { frontEndConfigSchema, mergeWorkerStatuses, startFrontEnd } from '@overlay/frontend';
import test from 'ava';
import { backEndsOf, metricSum, scrape, send, waitFor, waitForTunnels } from './support/helpers.js';
import { startTestBackEnd } from './support/test-backend.js';

test('workers: 2 share one port; both answer, the primary aggregates their metrics and forwards updates', async (t) => {
  const origin = await startDemoOrigin({ id: 'origin-c', host: '127.0.0.1', port: 0 });
  const backEnd = await startTestBackEnd('be-1', { demo: { origin: origin.url }, extra: { origin: origin.url } });
  t.teardown(async () => {
    await backEnd.close();
    await origin.close();
  });
  const config = frontEndConfigSchema.parse({
    id: 'fe-cluster',
    http: { listen: '127.0.0.1:0', closeGraceMs: 200 },
    admin: '127.0.0.1:0',
    workers: 2,
    state: { backEnds: backEndsOf(backEnd), sites: { demo: { domains: ['demo.test'], backEnds: ['be-1'] } } },
  });
  const frontEnd = await startFrontEnd(config, { log: silentLogger });
  t.teardown(() => frontEnd.close());
  // Each worker has its own tunnel; wait until both have one.
  await waitFor(() => backEnd.server.sessions.size >= 2, 'a tunnel from each worker', 10_000);

  const workersSeen = async (site: string) => {
    const metrics = await scrape(frontEnd.admin);
    return ['1', '2'].filter((worker) => metricSum(metrics, 'overlay_frontend_requests_total', { site, worker, status: '200' }) > 0);
  };
  for (let i = 0; i < 20; i++) {
    const reply = await send(frontEnd.http, { host: 'demo.test', path: '/bytes/10' });
    t.is(reply.status, 200);
    t.is(reply.headers['x-overlay-frontend'], 'fe-cluster');
  }
  t.deepEqual(await workersSeen('demo'), ['1', '2'], 'new connections are spread over both workers');
  // What the manager is told comes from the workers' tunnels, not an empty placeholder.
  await waitFor(() => frontEnd.status().tunnels.some((tunnel) => tunnel.peer === 'be-1' && tunnel.connected && tunnel.rttMs > 0), 'the workers\' tunnel status', 10_000);
  const status = frontEnd.status();
  t.true(status.healthy);
  t.true(status.load >= 0 && status.load <= 1);
  t.is(status.ringBytes.length, 5);

  await frontEnd.update({ backEnds: backEndsOf(backEnd), sites: { demo: { domains: ['demo.test'], backEnds: ['be-1'] }, extra: { domains: ['extra.test'], backEnds: ['be-1'] } } });
  await waitForTunnels(frontEnd, []);
  for (let i = 0; i < 10; i++) {
    const reply = await send(frontEnd.http, { host: 'extra.test', path: '/bytes/10' });
    t.is(reply.status, 200, 'every worker knows the new site');
  }
  t.deepEqual(await workersSeen('extra'), ['1', '2']);
  const health = JSON.parse((await send(frontEnd.admin, { host: 'admin', path: '/healthz' })).body.toString()) as { workers: Array<{ ready: boolean }> };
  t.deepEqual(health.workers.map((worker) => worker.ready), [true, true]);
});

test('worker statuses merge into one: mean load, tunnels per back-end, summed bytes', (t) => {
  const tunnel = (peer: string, connected: boolean, rttMs: number, throughputBps: number, inFlight: number) => ({ peer, connected, rttMs, jitterMs: rttMs / 10, throughputBps, inFlight });
  const merged = mergeWorkerStatuses([
    { load: 0.2, healthy: true, tunnels: [tunnel('be-1', true, 10, 100, 3), tunnel('be-2', false, 0, 0, 0)], ringBytes: [1, 2, 3, 4, 5] },
    { load: 0.6, healthy: true, tunnels: [tunnel('be-1', true, 30, 50, 1), tunnel('be-2', false, 0, 0, 0)], ringBytes: [10, 20, 30, 40, 50] },
  ], true);
  t.is(merged.load, 0.4);
  t.true(merged.healthy);
  t.deepEqual(merged.ringBytes, [11, 22, 33, 44, 55]);
  t.deepEqual(merged.tunnels, [
    { peer: 'be-1', connected: true, rttMs: 20, jitterMs: 2, throughputBps: 150, inFlight: 4 },
    { peer: 'be-2', connected: false, rttMs: 0, jitterMs: 0, throughputBps: 0, inFlight: 0 },
  ]);
  t.deepEqual(mergeWorkerStatuses([], false), { load: 0, healthy: false, tunnels: [], ringBytes: [0, 0, 0, 0, 0] });
});
