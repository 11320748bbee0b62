import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { connect } from 'node:net';
import { startBackEnd, type BackEnd } from '@overlay/backend';
import { startDemoOrigin, type DemoOrigin } from '@overlay/demo-origin';
import type { FrontEnd } from '@overlay/frontend';
import anyTest, { type TestFn } from 'ava';
import WebSocket from 'ws';
import { send, startTestFrontEnd, waitForTunnels } from './support/helpers.js';
import { startProbeOrigin, startTcpEcho, type ProbeOrigin } from './support/probe-origin.js';

/** The same paths as http.test.ts, through the real back-end gateway (@overlay/backend) instead of the test one. */
interface World {
  frontEnd: FrontEnd;
  backEnd: BackEnd;
  demo: DemoOrigin;
  probe: ProbeOrigin;
  cleanup: Array<() => Promise<void>>;
}

const test = anyTest as TestFn<World>;
const KEY = 'real-backend-interop-key-0123456789';

test.before(async (t) => {
  const demo = await startDemoOrigin({ id: 'origin-r', host: '127.0.0.1', port: 0 });
  const probe = await startProbeOrigin();
  const echo = await startTcpEcho();
  const backEnd = await startBackEnd({
    id: 'be-real',
    tunnel: { listen: '127.0.0.1:0', keys: [KEY] },
    admin: '127.0.0.1:0',
    drainTimeoutMs: 500,
    state: {
      sites: {
        demo: { origins: [{ url: demo.url }] },
        probe: { origins: [{ url: probe.url }] },
        echo: { mode: 'tcp', origins: [{ url: `tcp://${echo.host}:${echo.port}` }] },
      },
      health: { intervalMs: 60_000, timeoutMs: 1_000 },
    },
  });
  const frontEnd = await startTestFrontEnd({
    state: {
      backEnds: { 'be-real': { tunnel: `127.0.0.1:${backEnd.tunnel.port}`, key: KEY } },
      sites: {
        demo: { domains: ['demo.test'], backEnds: ['be-real'] },
        probe: { domains: ['probe.test'], backEnds: ['be-real'], priorities: { default: 1, rules: [] } },
        echo: { domains: ['echo.test'], mode: 'tcp', listen: '127.0.0.1:0', backEnds: ['be-real'] },
      },
    },
  });
  t.context = {
    frontEnd, backEnd, demo, probe,
    cleanup: [() => frontEnd.close(), () => backEnd.close(), () => demo.close(), () => probe.close(), () => echo.close()],
  };
  await waitForTunnels(frontEnd, ['be-real']);
});

test.after.always(async (t) => {
  for (const close of t.context.cleanup ?? []) await close();
});

test('headers both ways through the real back-end', async (t) => {
  const { frontEnd } = t.context;
  const reply = await send(frontEnd.http, { host: 'probe.test', path: '/headers', headers: { 'x-forwarded-for': '10.9.9.9' } });
  t.is(reply.status, 200);
  t.is(reply.headers['x-overlay-frontend'], 'fe-test');
  t.is(reply.headers['x-overlay-backend'], 'be-real');
  t.is(reply.headers['x-overlay-priority'], '1');
  t.is(reply.headers['x-overlay-cache'], 'MISS');
  const seen = JSON.parse(reply.body.toString()) as { headers: Record<string, string> };
  t.is(seen.headers['x-forwarded-for'], '10.9.9.9, 127.0.0.1');
  t.is(seen.headers['x-forwarded-host'], 'probe.test');
  t.is(seen.headers['x-forwarded-proto'], 'http');
  t.regex(seen.headers.via, /1\.1 fe-test/);
});

test('bodies both ways and the cache, through the real back-end', async (t) => {
  const { frontEnd } = t.context;
  const body = randomBytes(700_000);
  const echoed = await send(frontEnd.http, { host: 'demo.test', path: '/echo', method: 'POST', body });
  t.is(echoed.status, 200);
  t.true(echoed.body.equals(body));
  const first = await send(frontEnd.http, { host: 'demo.test', path: '/bytes/4096' });
  const second = await send(frontEnd.http, { host: 'demo.test', path: '/bytes/4096' });
  t.is(first.headers['x-overlay-cache'], 'MISS');
  t.is(second.headers['x-overlay-cache'], 'HIT');
  t.true(second.body.equals(first.body));
});

test('WebSocket and TCP-mode through the real back-end', async (t) => {
  const { frontEnd } = t.context;
  const socket = new WebSocket(`ws://127.0.0.1:${frontEnd.http.port}/ws`, { headers: { host: 'demo.test' } });
  await once(socket, 'open');
  socket.send('over the tunnel');
  const [message] = (await once(socket, 'message')) as [Buffer];
  t.is(message.toString(), 'over the tunnel');
  socket.close();

  const raw = connect({ host: '127.0.0.1', port: frontEnd.tcp.echo.port, allowHalfOpen: true });
  const chunks: Buffer[] = [];
  raw.on('data', (chunk: Buffer) => chunks.push(chunk));
  const payload = randomBytes(100_000);
  raw.end(payload);
  await once(raw, 'end');
  t.true(Buffer.concat(chunks).equals(payload));
  raw.destroy();
});

test('300 WebSockets from one address stay open: an upgraded connection gives its head slot back (256 per source)', async (t) => {
  const { frontEnd } = t.context;
  const sockets: WebSocket[] = [];
  t.teardown(() => sockets.forEach((socket) => socket.terminate()));
  let closed = 0;
  for (let batch = 0; batch < 6; batch++) {
    await Promise.all(Array.from({ length: 50 }, async () => {
      const socket = new WebSocket(`ws://127.0.0.1:${frontEnd.http.port}/ws`, { headers: { host: 'demo.test' } });
      socket.once('close', () => closed++);
      sockets.push(socket);
      await once(socket, 'open');
    }));
  }
  await new Promise((resolve) => setTimeout(resolve, 200));
  t.is(closed, 0, 'none was pushed out');
  // The oldest one still carries messages through the whole path.
  sockets[0].send('first of 300');
  const [message] = (await once(sockets[0], 'message')) as [Buffer];
  t.is(message.toString(), 'first of 300');
});

test('an upgrade request with two Host fields gets 400 and a close, as a plain request does (RFC 9112 §3.2)', async (t) => {
  const { frontEnd } = t.context;
  const raw = connect({ host: '127.0.0.1', port: frontEnd.http.port });
  const chunks: Buffer[] = [];
  raw.on('data', (chunk: Buffer) => chunks.push(chunk));
  raw.write('GET /ws HTTP/1.1\r\nHost: demo.test\r\nHost: other.test\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n');
  await once(raw, 'close');
  t.regex(Buffer.concat(chunks).toString(), /^HTTP\/1\.1 400 Bad Request\r\n[\s\S]*more than one Host header field/);
});
