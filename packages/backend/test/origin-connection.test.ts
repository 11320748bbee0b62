import { once } from 'node:events';
import { readFile } from 'node:fs/promises';
import { createServer as createHttpServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import test, { type ExecutionContext } from 'ava';
import { BackEndErrorCode } from '@overlay/backend';
import { TunnelError, WireError } from '@overlay/tunnel';
import { createTestPki } from '../../../test/pki.js';
import { exchange, header, httpHead, open, quietHealth, startHarness, waitFor } from './helpers.js';

interface RawOrigin {
  url: string;
  /** Connections accepted, and how many of them are still open. */
  accepted: number;
  open: number;
  /** What the origin read, per connection. */
  received: string[];
  sockets: Socket[];
}

/** What the origin writes for a request; `close`: and then it ends the connection. */
type Answer = string | { text: string; close: true } | undefined;

/** A raw TCP origin: `answer(n)` is what it writes for the n-th request it reads (0-based, over all connections). */
async function rawOrigin(t: ExecutionContext, answer: (n: number) => Answer): Promise<RawOrigin> {
  const origin: RawOrigin = { url: '', accepted: 0, open: 0, received: [], sockets: [] };
  const sockets = new Set<Socket>();
  let requests = 0;
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    socket.once('close', () => sockets.delete(socket));
    let index: number | undefined;
    socket.on('data', (chunk: Buffer) => {
      const text = chunk.toString('latin1');
      // Health probes get an answer and a close, and are not counted.
      if (index === undefined && text.startsWith('GET /healthz ')) return void socket.end('HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
      if (index === undefined) {
        const counted = (index = origin.accepted++);
        origin.open++;
        origin.received[counted] = '';
        origin.sockets[counted] = socket;
        socket.once('close', () => origin.open--);
      }
      origin.received[index] += text;
      // One answer per request head (these tests send no bodies).
      for (let heads = text.split('\r\n\r\n').length - 1; heads > 0; heads--) {
        const reply = answer(requests++);
        if (typeof reply === 'string') socket.write(reply);
        else if (reply) socket.end(reply.text);
      }
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.teardown(() => {
    for (const socket of sockets) socket.destroy();
    server.close();
  });
  origin.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return origin;
}

const OK = 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok';

async function harnessFor(t: ExecutionContext, origin: RawOrigin, pool = {}) {
  return startHarness(t, { sites: { raw: { origins: [{ url: origin.url, id: 'raw' }] } }, health: quietHealth, pool });
}

const malformedHeads: Array<[string, string]> = [
  ['a status line that is not HTTP/1.1', 'HTTP/9 200 OK\r\nContent-Length: 0\r\n\r\n'],
  ['Content-Length with Transfer-Encoding', 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n'],
  ['differing Content-Lengths', 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok'],
  ['obs-fold', 'HTTP/1.1 200 OK\r\nX-A: a\r\n folded\r\nContent-Length: 2\r\n\r\nok'],
  ['bare LF line ends', 'HTTP/1.1 200 OK\nContent-Length: 2\n\nok'],
  ['a head over 16 KiB', `HTTP/1.1 200 OK\r\nX-A: ${'a'.repeat(17 * 1024)}\r\nContent-Length: 2\r\n\r\nok`],
];

for (const [name, wire] of malformedHeads) {
  test(`an origin answering with ${name} gets 502 ERR_ORIGIN_FAILED, its connection dropped; the next request is served`, async (t) => {
    const origin = await rawOrigin(t, (n) => (n === 0 ? wire : OK));
    const { client } = await harnessFor(t, origin);
    const bad = await exchange(client, httpHead('raw', 'GET', '/'));
    t.is(bad.head.status, 502);
    t.is(bad.head.error?.code, BackEndErrorCode.originFailed);
    t.regex(bad.body.toString(), /ERR_ORIGIN_(MALFORMED_RESPONSE|HEAD_TOO_LARGE)/);
    await waitFor(() => origin.open === 0, 'the malformed connection to be closed');
    const good = await exchange(client, httpHead('raw', 'GET', '/'));
    t.is(good.head.status, 200);
    t.is(good.body.toString(), 'ok');
    t.is(origin.accepted, 2, 'the next request came on a new connection');
  });
}

test('a response with a second one smuggled behind it: the first is relayed, the rest discarded with the connection', async (t) => {
  const smuggled = 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfirstHTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nsmuggled';
  const origin = await rawOrigin(t, (n) => (n === 0 ? smuggled : 'HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nsecond'));
  const { client } = await harnessFor(t, origin);
  const first = await exchange(client, httpHead('raw', 'GET', '/1'));
  t.is(first.body.toString(), 'first');
  await waitFor(() => origin.open === 0, 'the connection that carried extra bytes to be closed');
  const second = await exchange(client, httpHead('raw', 'GET', '/2'));
  t.is(second.body.toString(), 'second', 'never the smuggled answer');
  t.is(origin.accepted, 2);
});

test('bytes an idle connection receives drop it; the next request opens a new one', async (t) => {
  const origin = await rawOrigin(t, () => OK);
  const { client } = await harnessFor(t, origin);
  t.is((await exchange(client, httpHead('raw', 'GET', '/'))).body.toString(), 'ok');
  t.is(origin.open, 1, 'kept alive');
  origin.sockets[0]?.write(OK); // out of turn: no request is due
  await waitFor(() => origin.open === 0, 'the connection to be dropped');
  t.is((await exchange(client, httpHead('raw', 'GET', '/'))).body.toString(), 'ok');
  t.is(origin.accepted, 2);
});

test('a malformed chunk after the head resets the stream with UPSTREAM_ERROR', async (t) => {
  const origin = await rawOrigin(t, () => 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\nnot-hex\r\n');
  const { client } = await harnessFor(t, origin);
  const { stream, reply } = open(client, httpHead('raw', 'GET', '/'));
  stream.end();
  stream.resume();
  const failed = once(stream, 'error');
  t.is((await reply).status, 200);
  const [error] = (await failed) as [TunnelError];
  t.is(error.wire, WireError.UPSTREAM_ERROR);
  t.regex(error.message, /ERR_ORIGIN_MALFORMED_RESPONSE/);
  await waitFor(() => origin.open === 0, 'the connection to be closed');
});

test('an origin that closes mid-body resets the stream; a close-delimited body ends with the close', async (t) => {
  const origin = await rawOrigin(t, (n) => ({ text: n === 0 ? 'HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort' : 'HTTP/1.1 200 OK\r\n\r\nto the close', close: true }));
  const { client } = await harnessFor(t, origin);
  const cut = open(client, httpHead('raw', 'GET', '/'));
  cut.stream.end();
  cut.stream.resume();
  const failed = once(cut.stream, 'error');
  t.is((await cut.reply).status, 200);
  const [error] = (await failed) as [TunnelError];
  t.is(error.wire, WireError.UPSTREAM_ERROR);
  t.regex(error.message, /ERR_ORIGIN_CLOSED/);
  const whole = await exchange(client, httpHead('raw', 'GET', '/'));
  t.is(whole.head.status, 200);
  t.is(whole.body.toString(), 'to the close');
});

test('a header value with CR LF from the front-end never reaches the origin: 400 ERR_BAD_REQUEST', async (t) => {
  const origin = await rawOrigin(t, () => OK);
  const { client } = await harnessFor(t, origin);
  const answer = await exchange(client, httpHead('raw', 'GET', '/', { headers: [['x-a', 'a\r\nx-injected: 1']] }));
  t.is(answer.head.status, 400);
  t.is(answer.head.error?.code, BackEndErrorCode.badRequest);
  t.false(origin.received.some((text) => text.includes('x-injected')));
});

test('an origin silent after the request: 504 ERR_ORIGIN_TIMEOUT after pool.responseTimeoutMs', async (t) => {
  const origin = await rawOrigin(t, () => undefined);
  const { client } = await harnessFor(t, origin, { responseTimeoutMs: 300 });
  const answer = await exchange(client, httpHead('raw', 'GET', '/'));
  t.is(answer.head.status, 504);
  t.is(answer.head.error?.code, BackEndErrorCode.originTimeout);
  await waitFor(() => origin.open === 0, 'the silent connection to be closed');
});

test('the request head is written as sent: method, target, fields in order, Host last, no body framing for a GET', async (t) => {
  const origin = await rawOrigin(t, () => OK);
  const { client } = await harnessFor(t, origin);
  const answer = await exchange(client, httpHead('raw', 'GET', '/a?b=c', { headers: [['host', 'shop.test'], ['x-one', '1'], ['x-one', '2']] }));
  t.is(header(answer.head, 'content-length'), '2');
  t.is(origin.received[0], 'GET /a?b=c HTTP/1.1\r\nx-one: 1\r\nx-one: 2\r\nhost: shop.test\r\n\r\n');
});

test('an HTTPS origin still speaks TLS (undici): a certificate nobody trusts is a retryable 502 ERR_ORIGIN_CONNECT', async (t) => {
  const pki = await createTestPki('https-origin');
  const { cert, key } = await pki.issue('origin', ['IP:127.0.0.1']);
  let requests = 0;
  const server = createHttpsServer({ cert: await readFile(cert), key: await readFile(key) }, (_req, res) => {
    requests++;
    res.end('tls');
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.teardown(() => void server.close());
  const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const { client } = await startHarness(t, { sites: { tls: { origins: [{ url, id: 'tls' }] } }, health: quietHealth });
  const answer = await exchange(client, httpHead('tls', 'GET', '/'));
  t.is(answer.head.status, 502);
  t.deepEqual(answer.head.error, { code: BackEndErrorCode.originConnect, retryable: true });
  t.regex(answer.body.toString(), /CERT|certificate/i);
  t.is(requests, 0);
});

test('an upload longer than pool.responseTimeoutMs is not cut: the wait for the head starts once the body is sent', async (t) => {
  const origin = createHttpServer((req, res) => {
    let size = 0;
    req.on('data', (chunk: Buffer) => (size += chunk.length));
    req.on('end', () => res.end(`got ${size} ${req.headers['transfer-encoding'] ?? req.headers['content-length']}`));
  });
  origin.listen(0, '127.0.0.1');
  await once(origin, 'listening');
  t.teardown(() => {
    origin.closeAllConnections();
    origin.close();
  });
  const url = `http://127.0.0.1:${(origin.address() as AddressInfo).port}`;
  const { client } = await startHarness(t, { sites: { up: { origins: [{ url, id: 'up' }] } }, health: quietHealth, pool: { responseTimeoutMs: 300 } });
  const { stream, reply } = open(client, httpHead('up', 'POST', '/upload', { hasBody: true }));
  const chunks: Buffer[] = [];
  stream.on('data', (chunk: Buffer) => chunks.push(chunk));
  const ended = once(stream, 'end');
  for (let i = 0; i < 8; i++) {
    stream.write(Buffer.alloc(1024, 'u'));
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  stream.end();
  const head = await reply;
  await ended;
  t.is(head.status, 200);
  t.is(Buffer.concat(chunks).toString(), 'got 8192 chunked', 'no Content-Length: sent chunked');
});
