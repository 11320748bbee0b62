import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { writeFile, mkdtemp, rm } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDemoOrigin, demoBytes, type DemoOrigin } from '@overlay/demo-origin';
import type { FrontEnd } from '@overlay/frontend';
import anyTest, { type TestFn } from 'ava';
import WebSocket from 'ws';
import { backEndsOf, metricSum, raw, scrape, send, startTestFrontEnd, waitForTunnels } from './support/helpers.js';
import { startProbeOrigin, startTcpEcho, type ProbeOrigin } from './support/probe-origin.js';
import { startTestBackEnd, type TestBackEnd } from './support/test-backend.js';

interface World {
  frontEnd: FrontEnd;
  backEnd: TestBackEnd;
  demo: DemoOrigin;
  probe: ProbeOrigin;
  cleanup: Array<() => Promise<void>>;
}

const test = anyTest as TestFn<World>;

test.before(async (t) => {
  const demo = await startDemoOrigin({ id: 'origin-a', host: '127.0.0.1', port: 0 });
  const probe = await startProbeOrigin();
  const echo = await startTcpEcho();
  const backEnd = await startTestBackEnd('be-1', {
    demo: { origin: demo.url },
    probe: { origin: probe.url },
    echo: { tcp: { host: echo.host, port: echo.port } },
  });
  const cleanup = [() => backEnd.close(), () => demo.close(), () => probe.close(), () => echo.close()];
  const frontEnd = await startTestFrontEnd({
    state: {
      backEnds: backEndsOf(backEnd),
      sites: {
        demo: { domains: ['demo.test'], backEnds: ['be-1'] },
        probe: {
          domains: ['probe.test', 'www.probe.test'],
          backEnds: ['be-1'],
          priorities: {
            default: 3,
            rules: [
              { match: { header: { name: 'x-tier', value: 'gold' } }, priority: 0 },
              { match: { cookie: { name: 'plan', value: 'free' } }, priority: 4 },
              { match: { pathPrefix: '/slow/', method: 'GET' }, priority: 1 },
            ],
          },
        },
        echo: { domains: ['echo.test'], mode: 'tcp', listen: '127.0.0.1:0', backEnds: ['be-1'] },
      },
    },
  });
  cleanup.unshift(() => frontEnd.close());
  t.context = { frontEnd, backEnd, demo, probe, cleanup };
  await waitForTunnels(frontEnd, ['be-1']);
});

test.after.always(async (t) => {
  for (const close of t.context.cleanup ?? []) await close();
});

test('an unknown Host gets a short 404 from the front-end itself', async (t) => {
  const { frontEnd } = t.context;
  const reply = await send(frontEnd.http, { host: 'nowhere.test', path: '/' });
  t.is(reply.status, 404);
  t.true(reply.body.length < 100);
  t.is(reply.headers['x-overlay-frontend'], 'fe-test');
  t.is(reply.headers['x-overlay-error'], 'ERR_UNKNOWN_SITE');
  const tcpHost = await send(frontEnd.http, { host: 'echo.test', path: '/' });
  t.is(tcpHost.status, 404, 'a tcp-mode site is not served on the HTTP listener');
});

test('responses carry x-overlay-*; the origin sees X-Forwarded-*, Via and no hop-by-hop fields', async (t) => {
  const { frontEnd, probe } = t.context;
  const reply = await send(frontEnd.http, {
    host: 'probe.test:8080',
    path: '/headers?x=1',
    headers: {
      'x-forwarded-for': '10.9.9.9',
      'x-forwarded-proto': 'https',
      via: '1.1 corp-proxy',
      connection: 'keep-alive, x-drop-me',
      'x-drop-me': 'secret',
      'keep-alive': 'timeout=5',
      'x-keep-me': 'yes',
    },
  });
  t.is(reply.status, 200);
  t.is(reply.headers['x-overlay-frontend'], 'fe-test');
  t.is(reply.headers['x-overlay-backend'], 'be-1');
  t.is(reply.headers['x-overlay-priority'], '3');
  t.is(reply.headers['x-overlay-cache'], 'MISS');
  const seen = JSON.parse(reply.body.toString()) as { url: string; headers: Record<string, string | undefined> };
  t.is(seen.url, '/headers?x=1');
  t.is(seen.headers['x-forwarded-for'], '10.9.9.9, 127.0.0.1');
  t.is(seen.headers['x-forwarded-host'], 'probe.test:8080');
  t.is(seen.headers['x-forwarded-proto'], 'http');
  t.is(seen.headers.via, '1.1 corp-proxy, 1.1 fe-test');
  t.is(seen.headers['x-keep-me'], 'yes');
  t.is(seen.headers['x-drop-me'], undefined);
  t.is(seen.headers['keep-alive'], undefined);
  t.true(probe.seen.some((entry) => entry.url === '/headers?x=1'));
});

test('pipelined requests in one write are answered in order', async (t) => {
  const { frontEnd } = t.context;
  const text = await raw(
    frontEnd.http.port,
    'GET /slow/150 HTTP/1.1\r\nHost: probe.test\r\n\r\nGET /headers HTTP/1.1\r\nHost: probe.test\r\n\r\nGET /bytes/5 HTTP/1.1\r\nHost: demo.test\r\nConnection: close\r\n\r\n',
  );
  const statuses = [...text.matchAll(/HTTP\/1\.1 (\d{3})/g)].map((match) => match[1]);
  t.deepEqual(statuses, ['200', '200', '200']);
  const slow = text.indexOf('slept 150');
  const headers = text.indexOf('"url":"/headers"');
  const bytes = text.lastIndexOf('x-overlay-frontend');
  t.true(slow > 0 && headers > slow && bytes > headers, 'answers come in request order');
});

test('a chunked POST streams through and comes back whole', async (t) => {
  const { frontEnd } = t.context;
  const parts = [randomBytes(100_000), randomBytes(7), randomBytes(300_000)];
  const answer = await new Promise<Buffer>((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port: frontEnd.http.port, method: 'POST', path: '/echo', headers: { host: 'demo.test', 'transfer-encoding': 'chunked' }, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve(Buffer.concat(chunks)));
    });
    req.on('error', reject);
    for (const part of parts) req.write(part);
    req.end();
  });
  t.true(answer.equals(Buffer.concat(parts)));
});

test('Expect: 100-continue with the real curl binary', async (t) => {
  const { frontEnd } = t.context;
  const dir = await mkdtemp(join(tmpdir(), 'fe-curl-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'body.bin');
  const body = randomBytes(200_000);
  await writeFile(file, body);
  const curl = spawn('curl', [
    '-sS', '-v', '--max-time', '10', '-H', 'Host: demo.test', '-H', 'Expect: 100-continue', '-H', 'Content-Type: application/octet-stream',
    '--data-binary', `@${file}`, `http://127.0.0.1:${frontEnd.http.port}/echo`,
  ]);
  const out: Buffer[] = [];
  let err = '';
  curl.stdout.on('data', (chunk: Buffer) => out.push(chunk));
  curl.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
  const [code] = (await Promise.race([
    once(curl, 'close'),
    once(curl, 'error').then(([error]) => {
      throw new Error(`curl could not run (is it installed?): ${(error as Error).message}`);
    }),
  ])) as [number];
  t.is(code, 0, err);
  t.regex(err, /< HTTP\/1\.1 100 Continue/);
  t.regex(err, /< HTTP\/1\.1 200 OK/);
  t.true(Buffer.concat(out).equals(body));
});

test('a malformed request gets 400 and an oversized head 431; the front-end keeps serving', async (t) => {
  const { frontEnd } = t.context;
  const bad = await raw(frontEnd.http.port, 'GARBAGE\x01 / HTTP/1.1\r\n\r\n');
  t.regex(bad, /^HTTP\/1\.1 400/);
  const huge = await raw(frontEnd.http.port, `GET / HTTP/1.1\r\nHost: demo.test\r\nX-Big: ${'a'.repeat(40_000)}\r\n\r\n`);
  t.regex(huge, /^HTTP\/1\.1 431/);
  const many = Array.from({ length: 300 }, (_, i) => `x-f${i}: ${i}\r\n`).join('');
  const tooMany = await raw(frontEnd.http.port, `GET /headers HTTP/1.1\r\nHost: probe.test\r\n${many}Connection: close\r\n\r\n`);
  t.regex(tooMany, /^HTTP\/1\.1 431/, 'more fields than a tunnel head carries');
  const fine = await send(frontEnd.http, { host: 'demo.test', path: '/bytes/10' });
  t.is(fine.status, 200);
});

test('priority comes from the site rules and rides on the stream', async (t) => {
  const { frontEnd, backEnd } = t.context;
  const cases: Array<[Record<string, string>, string, string]> = [
    [{ 'x-tier': 'gold' }, '/headers', '0'],
    [{ cookie: 'a=1; plan=free' }, '/headers', '4'],
    [{}, '/slow/1', '1'],
    [{}, '/headers', '3'],
  ];
  for (const [headers, path, expected] of cases) {
    const reply = await send(frontEnd.http, { host: 'www.probe.test', path, headers });
    t.is(reply.headers['x-overlay-priority'], expected, `${path} ${JSON.stringify(headers)}`);
    const head = backEnd.heads.findLast((seen) => seen.kind === 'http' && seen.target === path);
    t.is(String(head?.priority), expected);
  }
  const demo = await send(frontEnd.http, { host: 'demo.test', path: '/bytes/1' });
  t.is(demo.headers['x-overlay-priority'], '2', 'a site without rules uses the default 2');
});

test('cache: MISS then HIT; unsafe and authorized requests BYPASS', async (t) => {
  const { frontEnd } = t.context;
  const first = await send(frontEnd.http, { host: 'demo.test', path: '/bytes/3000' });
  const second = await send(frontEnd.http, { host: 'demo.test', path: '/bytes/3000' });
  t.is(first.headers['x-overlay-cache'], 'MISS');
  t.is(second.headers['x-overlay-cache'], 'HIT');
  t.is(second.headers['x-overlay-backend'], 'be-1');
  t.truthy(second.headers.age);
  t.true(second.body.equals(Buffer.concat([...demoBytes(3000)])));
  const head = await send(frontEnd.http, { host: 'demo.test', path: '/bytes/3000', method: 'HEAD' });
  t.is(head.headers['x-overlay-cache'], 'HIT');
  t.is(head.headers['content-length'], '3000');
  t.is(head.body.length, 0);
  const post = await send(frontEnd.http, { host: 'demo.test', path: '/echo', method: 'POST', body: 'hi' });
  t.is(post.headers['x-overlay-cache'], 'BYPASS');
  const authorized = await send(frontEnd.http, { host: 'demo.test', path: '/bytes/3000', headers: { authorization: 'Bearer x' } });
  t.is(authorized.headers['x-overlay-cache'], 'BYPASS');
});

test('cache: a stale entry is revalidated with its ETag and served from the cache on 304', async (t) => {
  const { frontEnd, probe } = t.context;
  const first = await send(frontEnd.http, { host: 'probe.test', path: '/cached/reval?maxAge=0' });
  const second = await send(frontEnd.http, { host: 'probe.test', path: '/cached/reval?maxAge=0' });
  t.is(first.headers['x-overlay-cache'], 'MISS');
  t.is(second.headers['x-overlay-cache'], 'HIT');
  t.is(second.status, 200);
  t.is(second.body.toString(), first.body.toString(), 'the stored body, not a new one');
  t.is(probe.hits.get('/cached/reval'), 2, 'the origin was asked, and answered 304');
  const conditional = probe.seen.findLast((entry) => entry.url === '/cached/reval?maxAge=0');
  t.is(conditional?.headers['if-none-match'], '"reval-v1"');
});

test('WebSocket echo through the tunnel', async (t) => {
  const { frontEnd } = t.context;
  const socket = new WebSocket(`ws://127.0.0.1:${frontEnd.http.port}/ws`, { headers: { host: 'demo.test' } });
  const upgraded = once(socket, 'upgrade') as Promise<[import('node:http').IncomingMessage]>;
  await once(socket, 'open');
  const [response] = await upgraded;
  t.is(response.headers['x-overlay-frontend'], 'fe-test');
  t.is(response.headers['x-overlay-backend'], 'be-1');
  const big = randomBytes(300_000);
  socket.send('hello');
  socket.send(big);
  const received: Array<{ data: Buffer; binary: boolean }> = [];
  await new Promise<void>((resolve) => {
    socket.on('message', (data: Buffer, binary: boolean) => {
      received.push({ data, binary });
      if (received.length === 2) resolve();
    });
  });
  t.is(received[0].data.toString(), 'hello');
  t.false(received[0].binary);
  t.true(received[1].binary);
  t.true(received[1].data.equals(big));
  socket.close();
  await once(socket, 'close');
});

test('a TCP-mode site carries raw bytes both ways, half-close included', async (t) => {
  const { frontEnd } = t.context;
  const address = frontEnd.tcp.echo;
  t.truthy(address);
  const socket = connect({ host: '127.0.0.1', port: address.port, allowHalfOpen: true });
  const payload = randomBytes(500_000);
  const chunks: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  await once(socket, 'connect');
  socket.end(payload);
  await once(socket, 'end');
  t.true(Buffer.concat(chunks).equals(payload));
  socket.destroy();
});

test('a HEAD request gets the head only', async (t) => {
  const { frontEnd } = t.context;
  const reply = await send(frontEnd.http, { host: 'demo.test', path: '/', method: 'HEAD' });
  t.is(reply.status, 200);
  t.is(reply.body.length, 0);
  t.truthy(reply.headers['content-length']);
});

test('metrics: requests by site/status/priority/cache, bytes, tunnel figures per back-end and per ring', async (t) => {
  const { frontEnd } = t.context;
  await send(frontEnd.http, { host: 'probe.test', path: '/headers', headers: { 'x-tier': 'gold' } });
  await send(frontEnd.http, { host: 'demo.test', path: '/bytes/50000', headers: { 'cache-control': 'no-store' } });
  await send(frontEnd.http, { host: 'demo.test', path: '/echo', method: 'POST', body: randomBytes(10_000) });
  const text = await scrape(frontEnd.admin);
  t.true(metricSum(text, 'overlay_frontend_requests_total', { site: 'probe', status: '200', priority: '0', cache: 'MISS' }) >= 1);
  t.true(metricSum(text, 'overlay_frontend_requests_total', { site: 'demo', status: '200', priority: '2', cache: 'BYPASS' }) >= 1);
  t.true(metricSum(text, 'overlay_frontend_body_bytes_total', { site: 'demo', direction: 'out' }) >= 50_000);
  t.is(metricSum(text, 'overlay_frontend_tunnel_up', { backend: 'be-1' }), 1);
  t.is(metricSum(text, 'overlay_frontend_tunnel_connections', { backend: 'be-1' }), 1);
  t.true(metricSum(text, 'overlay_frontend_tunnel_rtt_ms', { backend: 'be-1' }) >= 0);
  t.true(metricSum(text, 'overlay_frontend_tunnel_ring_bytes_total', { backend: 'be-1', ring: '2' }) >= 10_000, 'the request body went out on ring 2');
  t.regex(text, /overlay_frontend_backend_in_flight\{backend="be-1"/);
  t.true(metricSum(text, 'overlay_frontend_response_head_seconds_count', { priority: '0' }) >= 1);
});
