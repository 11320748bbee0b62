import { once } from 'node:events';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import test, { type ExecutionContext } from 'ava';
import { BackEndErrorCode } from '@overlay/backend';
import { TunnelError, WireError } from '@overlay/tunnel';
import { demoOrigin, exchange, header, httpHead, open, quietHealth, sleep, startHarness, waitFor } from './helpers.js';

/** A raw TCP "origin" that does what `onSocket` says with each connection. */
async function rawOrigin(t: ExecutionContext, onSocket: (socket: Socket) => void): Promise<string> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    socket.once('close', () => sockets.delete(socket));
    onSocket(socket);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.teardown(() => {
    for (const socket of sockets) socket.destroy();
    server.close();
  });
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** A loopback port with nothing listening. */
async function closedPort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

test('an unknown site gets 404 ERR_UNKNOWN_SITE from the back-end itself', async (t) => {
  const { client } = await startHarness(t, { health: quietHealth });
  const answer = await exchange(client, httpHead('nowhere', 'GET', '/'));
  t.is(answer.head.status, 404);
  t.deepEqual(answer.head.error, { code: BackEndErrorCode.unknownSite, retryable: false });
  t.is(answer.head.backEnd, 'be-test');
  t.is(header(answer.head, 'x-overlay-backend'), 'be-test');
  t.regex(answer.body.toString(), /^ERR_UNKNOWN_SITE: /);
});

test('a queue timeout is a 503 ERR_QUEUE_TIMEOUT, distinct from an origin failure (502)', async (t) => {
  const origin = await demoOrigin(t, { id: 'slow' });
  const broken = await rawOrigin(t, (socket) => socket.once('data', () => socket.destroy()));
  const { client } = await startHarness(t, {
    sites: { slow: { origins: [{ url: origin.url, id: 'slow' }] }, broken: { origins: [{ url: broken, id: 'broken' }] } },
    limits: { adaptive: false, initial: 1, min: 1 },
    queue: { queueTimeoutMs: 200 },
    health: quietHealth,
  });
  const first = exchange(client, httpHead('slow', 'GET', '/slow/800'));
  await sleep(50);
  const started = performance.now();
  const queued = await exchange(client, httpHead('slow', 'GET', '/slow/1'));
  const waited = performance.now() - started;
  t.is(queued.head.status, 503);
  t.deepEqual(queued.head.error, { code: 'ERR_QUEUE_TIMEOUT', retryable: false });
  t.true(waited >= 190 && waited < 700, `answered after ${waited.toFixed(0)} ms`);
  t.is((await first).head.status, 200);

  const failed = await exchange(client, httpHead('broken', 'GET', '/'));
  t.is(failed.head.status, 502);
  t.deepEqual(failed.head.error, { code: BackEndErrorCode.originFailed, retryable: false });
  t.is(failed.head.origin, 'broken');
});

test('a refused connection is a retryable 502 ERR_ORIGIN_CONNECT; a full queue a retryable 503 ERR_QUEUE_FULL', async (t) => {
  const origin = await demoOrigin(t, { id: 'o1' });
  const port = await closedPort();
  const { client } = await startHarness(t, {
    sites: { shop: { origins: [{ url: origin.url, id: 'o1' }] }, gone: { origins: [{ url: `http://127.0.0.1:${port}`, id: 'gone' }] } },
    limits: { adaptive: false, initial: 1, min: 1 },
    queue: { maxQueue: 1 },
    health: quietHealth,
  });
  const refused = await exchange(client, httpHead('gone', 'GET', '/'));
  t.is(refused.head.status, 502);
  t.deepEqual(refused.head.error, { code: BackEndErrorCode.originConnect, retryable: true });

  const running = exchange(client, httpHead('shop', 'GET', '/slow/400'));
  await sleep(30);
  const waiting = exchange(client, httpHead('shop', 'GET', '/slow/1'));
  await sleep(30);
  const refusedFull = await exchange(client, httpHead('shop', 'GET', '/slow/1'));
  t.is(refusedFull.head.status, 503);
  t.deepEqual(refusedFull.head.error, { code: 'ERR_QUEUE_FULL', retryable: true });
  t.is(header(refusedFull.head, 'retry-after'), '1');
  t.is((await running).head.status, 200);
  t.is((await waiting).head.status, 200);
});

test('no healthy origin is a retryable 503 ERR_NO_ORIGIN', async (t) => {
  const port = await closedPort();
  const { client, backEnd } = await startHarness(t, {
    sites: { gone: { origins: [{ url: `http://127.0.0.1:${port}`, id: 'gone' }] } },
    health: { intervalMs: 30, timeoutMs: 100, fall: 2 },
  });
  await waitFor(() => backEnd.status().origins[0]?.state === 'down', 'the origin to be probed down');
  const answer = await exchange(client, httpHead('gone', 'GET', '/'));
  t.is(answer.head.status, 503);
  t.deepEqual(answer.head.error, { code: 'ERR_NO_ORIGIN', retryable: true });
});

test('an origin failing after its response head resets the stream with UPSTREAM_ERROR', async (t) => {
  const cut = await rawOrigin(t, (socket) =>
    socket.once('data', () => {
      socket.write('HTTP/1.1 200 OK\r\ncontent-length: 100000\r\n\r\n0123456789');
      setTimeout(() => socket.destroy(), 50);
    }),
  );
  const { client } = await startHarness(t, { sites: { cut: { origins: [{ url: cut, id: 'cut' }] } }, health: quietHealth });
  const { stream, reply } = open(client, httpHead('cut', 'GET', '/'));
  stream.end();
  stream.resume();
  const head = await reply;
  t.is(head.status, 200);
  const error = (await once(stream, 'error').then(([err]) => err)) as TunnelError;
  t.true(error instanceof TunnelError);
  t.is(error.wire, WireError.UPSTREAM_ERROR);
});

test('malformed stream heads are reset with PROTOCOL_ERROR and the tunnel carries on', async (t) => {
  const origin = await demoOrigin(t, { id: 'o1' });
  const { client, backEnd } = await startHarness(t, { sites: { shop: { origins: [{ url: origin.url, id: 'o1' }] } }, health: quietHealth });
  const bad: unknown[] = [
    null,
    'GET / HTTP/1.1',
    { kind: 'http' },
    { ...httpHead('shop', 'GET', '/'), method: 'G E T' },
    { ...httpHead('shop', 'GET', '/'), headers: [['a']] },
    { kind: 'udp', site: 'shop' },
  ];
  for (const meta of bad) {
    const { stream, reply } = open(client, meta);
    stream.end();
    const error = (await reply.then(() => undefined, (err: unknown) => err)) as TunnelError | undefined;
    t.true(error instanceof TunnelError, `head ${JSON.stringify(meta)} got a reply`);
    t.is(error?.wire, WireError.PROTOCOL_ERROR);
  }
  const answer = await exchange(client, httpHead('shop', 'GET', '/bytes/10'));
  t.is(answer.head.status, 200);
  t.is(backEnd.status().sessions.length, 1);
});

test('a front-end that goes away frees the origin slot at once', async (t) => {
  const origin = await demoOrigin(t, { id: 'o1' });
  const { client, backEnd } = await startHarness(t, {
    sites: { shop: { origins: [{ url: origin.url, id: 'o1' }] } },
    limits: { adaptive: false, initial: 1, min: 1 },
    health: quietHealth,
  });
  const { stream } = open(client, httpHead('shop', 'GET', '/slow/5000'));
  stream.end();
  await waitFor(() => backEnd.status().origins[0]?.inFlight === 1, 'the request to reach the origin');
  stream.destroy();
  await waitFor(() => backEnd.status().origins[0]?.inFlight === 0, 'the slot to be released', 1_000);
  const started = performance.now();
  const answer = await exchange(client, httpHead('shop', 'GET', '/bytes/10'));
  t.is(answer.head.status, 200);
  t.true(performance.now() - started < 1_000);
});
