/** A route's high-water mark bounds work in flight; streams that turned raw (WebSockets, TCP) do not fill it. */
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { startDemoOrigin } from '@overlay/demo-origin';
import test from 'ava';
import WebSocket from 'ws';
import { TEST_KEY, startTestBackEnd } from './support/test-backend.js';
import { metricSum, scrape, send, startTestFrontEnd, waitFor, waitForTunnels } from './support/helpers.js';
import { startTcpEcho } from './support/probe-origin.js';

const HIGH_WATER = 2;

async function world(t: import('ava').ExecutionContext, maxConnections?: number) {
  const demo = await startDemoOrigin({ id: 'origin-a', host: '127.0.0.1', port: 0 });
  const echo = await startTcpEcho();
  const backEnd = await startTestBackEnd('be-1', { demo: { origin: demo.url }, echo: { tcp: { host: echo.host, port: echo.port } } });
  t.teardown(async () => {
    await backEnd.close();
    await demo.close();
    await echo.close();
  });
  const frontEnd = await startTestFrontEnd({
    ...(maxConnections ? { http: { listen: '127.0.0.1:0', closeGraceMs: 200, maxConnections } } : {}),
    state: {
      backEnds: { 'be-1': { tunnel: backEnd.tunnel, key: TEST_KEY, highWater: HIGH_WATER } },
      sites: {
        demo: { domains: ['demo.test'], backEnds: ['be-1'] },
        echo: { domains: ['echo.test'], mode: 'tcp', listen: '127.0.0.1:0', backEnds: ['be-1'] },
      },
    },
  }, t);
  await waitForTunnels(frontEnd, ['be-1']);
  return frontEnd;
}

test('requests in flight up to highWater fill the route: the next one gets 503 ERR_BACKENDS_FULL with Retry-After', async (t) => {
  const frontEnd = await world(t);
  const slow = Array.from({ length: HIGH_WATER }, () => send(frontEnd.http, { host: 'demo.test', path: '/slow/800' }));
  await waitFor(async () => metricSum(await scrape(frontEnd.admin), 'overlay_frontend_backend_in_flight', { backend: 'be-1' }) === HIGH_WATER, 'the route to fill');
  const refused = await send(frontEnd.http, { host: 'demo.test', path: '/' });
  t.is(refused.status, 503);
  t.is(refused.headers['x-overlay-error'], 'ERR_BACKENDS_FULL');
  t.is(refused.headers['retry-after'], '1');
  for (const reply of await Promise.all(slow)) t.is(reply.status, 200);
  t.is((await send(frontEnd.http, { host: 'demo.test', path: '/' })).status, 200, 'room again once they finished');
});

test('open WebSockets and TCP connections beyond highWater leave the route free for requests', async (t) => {
  const frontEnd = await world(t);
  const sockets: WebSocket[] = [];
  for (let i = 0; i < HIGH_WATER + 2; i++) {
    const socket = new WebSocket(`ws://127.0.0.1:${frontEnd.http.port}/ws`, { headers: { host: 'demo.test' } });
    await once(socket, 'open');
    sockets.push(socket);
  }
  const tcp: Socket[] = [];
  for (let i = 0; i < HIGH_WATER; i++) {
    const socket = connect({ host: '127.0.0.1', port: frontEnd.tcp.echo.port });
    await once(socket, 'connect');
    socket.write('ping');
    await once(socket, 'data'); // echoed: the stream is carried, raw
    tcp.push(socket);
  }
  t.teardown(() => {
    for (const socket of sockets) socket.terminate();
    for (const socket of tcp) socket.destroy();
  });
  const metrics = await scrape(frontEnd.admin);
  t.is(metricSum(metrics, 'overlay_frontend_backend_held_streams', { backend: 'be-1' }), sockets.length + tcp.length);
  t.is(metricSum(metrics, 'overlay_frontend_backend_in_flight', { backend: 'be-1' }), 0);
  const reply = await send(frontEnd.http, { host: 'demo.test', path: '/bytes/100' });
  t.is(reply.status, 200);
  t.is(reply.body.length, 100);

  // Each WebSocket still echoes; closing them all empties the route.
  const echoed = once(sockets[0], 'message');
  sockets[0].send('still here');
  t.is(String((await echoed)[0]), 'still here');
  for (const socket of sockets) socket.close();
  for (const socket of tcp) socket.end();
  await waitFor(async () => metricSum(await scrape(frontEnd.admin), 'overlay_frontend_backend_held_streams', { backend: 'be-1' }) === 0, 'held streams to close');
  t.is(metricSum(await scrape(frontEnd.admin), 'overlay_frontend_backend_in_flight', { backend: 'be-1' }), 0);
});

test('a TCP site listener holds at most http.maxConnections client connections', async (t) => {
  const frontEnd = await world(t, 1);
  const first = connect({ host: '127.0.0.1', port: frontEnd.tcp.echo.port });
  t.teardown(() => first.destroy());
  await once(first, 'connect');
  first.write('ping');
  t.is(String((await once(first, 'data'))[0]), 'ping');
  const second = connect({ host: '127.0.0.1', port: frontEnd.tcp.echo.port });
  second.on('error', () => {});
  t.teardown(() => second.destroy());
  const closedAtAccept = await Promise.race([
    once(second, 'close').then(() => true),
    new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 3_000)),
  ]);
  t.true(closedAtAccept, 'the connection past the limit was closed at accept');
  first.write('pong');
  t.is(String((await once(first, 'data'))[0]), 'pong', 'the first connection carries on');
});
