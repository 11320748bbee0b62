import { Agent } from 'node:http';
import test from 'ava';
import { backEndsOf, metricSum, scrape, send, startTestFrontEnd, waitFor, waitForTunnels } from './support/helpers.js';
import { startProbeOrigin } from './support/probe-origin.js';
import { startTestBackEnd } from './support/test-backend.js';

test('past the threshold new clients get 503 + Retry-After at once, established ones are still served', async (t) => {
  const probe = await startProbeOrigin();
  const backEnd = await startTestBackEnd('be-1', { probe: { origin: probe.url } });
  t.teardown(async () => {
    await backEnd.close();
    await probe.close();
  });
  const frontEnd = await startTestFrontEnd(
    {
      admission: { threshold: 3, maxQueued: 6 },
      state: { backEnds: backEndsOf(backEnd), sites: { probe: { domains: ['probe.test'], backEnds: ['be-1'] } } },
    },
    t,
  );
  await waitForTunnels(frontEnd, ['be-1']);
  const regular = new Agent({ keepAlive: true, maxSockets: 1 });
  t.teardown(() => regular.destroy());
  const warmUp = await send(frontEnd.http, { host: 'probe.test', path: '/headers', agent: regular });
  t.is(warmUp.status, 200);

  // Three slow requests from new clients fill the queue to the threshold.
  const slow = Array.from({ length: 3 }, () => send(frontEnd.http, { host: 'probe.test', path: '/slow/1000' }));
  await waitFor(() => backEnd.streams >= 4, 'the slow requests to reach the back-end');

  const started = Date.now();
  const refused = await send(frontEnd.http, { host: 'probe.test', path: '/headers' });
  t.true(Date.now() - started < 500, 'refused fast');
  t.is(refused.status, 503);
  t.is(refused.headers['x-overlay-error'], 'ERR_OVERLOADED');
  t.is(refused.headers.connection, 'close');
  t.true(Number(refused.headers['retry-after']) >= 1);

  const established = await send(frontEnd.http, { host: 'probe.test', path: '/headers', agent: regular });
  t.is(established.status, 200, 'a client already served keeps its place');

  for (const reply of await Promise.all(slow)) t.is(reply.status, 200);
  const after = await send(frontEnd.http, { host: 'probe.test', path: '/headers' });
  t.is(after.status, 200, 'the gate opens again once the queue has drained');
  const metrics = await scrape(frontEnd.admin);
  t.is(metricSum(metrics, 'overlay_frontend_admission_refusals_total', { reason: 'overloaded' }), 1);
  t.is(metricSum(metrics, 'overlay_frontend_requests_total', { site: 'probe', status: '503' }), 1);
});
