import { once } from 'node:events';
import { connect } from 'node:net';
import test from 'ava';
import { backEndsOf, send, startTestFrontEnd, waitFor, waitForTunnels } from './support/helpers.js';
import { startProbeOrigin, startTcpEcho } from './support/probe-origin.js';
import { startTestBackEnd } from './support/test-backend.js';

test('update() swaps back-ends, sites, rules and listeners live; requests in flight finish on the old route', async (t) => {
  const probe = await startProbeOrigin();
  const echo = await startTcpEcho();
  const sites = { probe: { origin: probe.url }, late: { origin: probe.url }, raw: { tcp: { host: echo.host, port: echo.port } } };
  const a = await startTestBackEnd('be-a', sites);
  const b = await startTestBackEnd('be-b', sites);
  t.teardown(async () => {
    await Promise.all([a.close(), b.close()]);
    await Promise.all([probe.close(), echo.close()]);
  });
  const frontEnd = await startTestFrontEnd(
    { state: { backEnds: backEndsOf(a), sites: { probe: { domains: ['probe.test'], backEnds: ['be-a'] } } } },
    t,
  );
  await waitForTunnels(frontEnd, ['be-a']);
  t.deepEqual(frontEnd.tcp, {});

  const inFlight = send(frontEnd.http, { host: 'probe.test', path: '/slow/600' });
  await waitFor(() => a.streams === 1, 'the slow request to reach be-a');
  await frontEnd.update({
    backEnds: backEndsOf(b),
    sites: {
      probe: { domains: ['probe.test'], backEnds: ['be-b'], priorities: { default: 1, rules: [] } },
      late: { domains: ['late.test'], backEnds: ['be-b'] },
      raw: { domains: ['raw.test'], mode: 'tcp', listen: '127.0.0.1:0', backEnds: ['be-b'] },
    },
    rings: { weights: [1000, 800, 600, 400, 200] },
  });
  await waitForTunnels(frontEnd, ['be-b']);

  const moved = await send(frontEnd.http, { host: 'probe.test', path: '/headers' });
  t.is(moved.headers['x-overlay-backend'], 'be-b');
  t.is(moved.headers['x-overlay-priority'], '1');
  t.is((await send(frontEnd.http, { host: 'late.test', path: '/headers' })).status, 200);

  const old = await inFlight;
  t.is(old.status, 200, 'the request in flight on the removed back-end was not dropped');
  t.is(old.headers['x-overlay-backend'], 'be-a');
  await waitFor(() => a.server.sessions.size === 0, 'the removed back-end tunnel to drain and close');

  const socket = connect({ host: '127.0.0.1', port: frontEnd.tcp.raw.port });
  const chunks: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  socket.end('ping');
  await once(socket, 'close');
  t.is(Buffer.concat(chunks).toString(), 'ping');

  const error = await t.throwsAsync(frontEnd.update({ backEnds: {}, sites: { probe: { domains: ['probe.test'], backEnds: ['be-x'] } } }));
  t.regex(error?.message ?? '', /sites\.probe\.backEnds\[0\].*unknown back-end "be-x"/);
  const unchanged = await send(frontEnd.http, { host: 'late.test', path: '/headers' });
  t.is(unchanged.status, 200, 'a rejected state leaves the running one in place');

  await frontEnd.update({ backEnds: backEndsOf(b), sites: { probe: { domains: ['probe.test'], backEnds: ['be-b'] } } });
  t.is((await send(frontEnd.http, { host: 'late.test', path: '/headers' })).status, 404, 'a removed site is gone');
  t.deepEqual(frontEnd.tcp, {});
});
