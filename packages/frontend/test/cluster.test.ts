import { silentLogger } from '@overlay/common';
import { startDemoOrigin } from '@overlay/demo-origin';
import { frontEndConfigSchema, startFrontEnd } from '@overlay/frontend';
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
