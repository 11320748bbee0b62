import test from 'ava';
import { Agent } from 'node:http';
import { connect } from 'node:net';
import { demoBytes, demoBytesEtag } from '@overlay/demo-origin';
import { fetchOnce, originFor } from './helpers.js';

const expected = (n: number): Buffer => Buffer.concat([...demoBytes(n)]);

test('GET / is a small HTML page naming the origin', async (t) => {
  const origin = await originFor(t, { id: 'origin-a' });
  const reply = await fetchOnce(origin, '/');
  t.is(reply.status, 200);
  t.regex(String(reply.headers['content-type']), /^text\/html/);
  t.is(reply.headers['x-origin'], 'origin-a');
  t.true(reply.body.toString().includes('origin-a'));
  t.true(reply.body.length < 2048);
});

test('GET /healthz', async (t) => {
  const origin = await originFor(t, { id: 'origin-h' });
  const reply = await fetchOnce(origin, '/healthz');
  t.is(reply.status, 200);
  t.deepEqual(JSON.parse(reply.body.toString()), { ok: true, id: 'origin-h' });
  t.is(reply.headers['x-origin'], 'origin-h');
});

test('unknown paths are 404, wrong methods 405, both with x-origin', async (t) => {
  const origin = await originFor(t);
  const missing = await fetchOnce(origin, '/nope');
  t.is(missing.status, 404);
  t.is(missing.headers['x-origin'], 'origin-test');
  const wrong = await fetchOnce(origin, '/bytes/10', { method: 'POST', body: 'x' });
  t.is(wrong.status, 405);
  t.is(wrong.headers.allow, 'GET, HEAD');
  t.is(wrong.headers['x-origin'], 'origin-test');
  t.is((await fetchOnce(origin, '/bytes/abc')).status, 404);
});

test('GET /bytes/{n}: byte-exact, same on every origin, cacheable, with Content-Length and ETag', async (t) => {
  const a = await originFor(t, { id: 'a' });
  const b = await originFor(t, { id: 'b' });
  for (const n of [0, 1, 5, 65_536, 65_537, 3 * 1024 * 1024 + 3]) {
    const [fromA, fromB] = await Promise.all([fetchOnce(a, `/bytes/${n}`), fetchOnce(b, `/bytes/${n}`)]);
    t.is(fromA.status, 200);
    t.true(fromA.body.equals(expected(n)), `n=${n}`);
    t.true(fromB.body.equals(fromA.body));
    t.is(fromA.headers['content-length'], String(n));
    t.is(fromA.headers['cache-control'], 'public, max-age=60');
    t.is(fromA.headers.etag, demoBytesEtag(n));
    t.is(fromB.headers.etag, fromA.headers.etag);
    t.is(fromA.headers['x-origin'], 'a');
    t.is(fromB.headers['x-origin'], 'b');
  }
  t.not(demoBytesEtag(10), demoBytesEtag(11));
});

test('GET /bytes/{n} with a query string is the same resource', async (t) => {
  const origin = await originFor(t);
  t.true((await fetchOnce(origin, '/bytes/100?cache-buster=1')).body.equals(expected(100)));
});

test('HEAD /bytes/{n} has the headers and no body', async (t) => {
  const origin = await originFor(t);
  const reply = await fetchOnce(origin, '/bytes/123456', { method: 'HEAD' });
  t.is(reply.status, 200);
  t.is(reply.headers['content-length'], '123456');
  t.is(reply.headers.etag, demoBytesEtag(123456));
  t.is(reply.body.length, 0);
});

test('If-None-Match with the ETag gets 304 (weak or in a list too)', async (t) => {
  const origin = await originFor(t);
  const etag = demoBytesEtag(1000);
  for (const header of [etag, `W/${etag}`, `"other", ${etag}`, '*']) {
    const reply = await fetchOnce(origin, '/bytes/1000', { headers: { 'if-none-match': header } });
    t.is(reply.status, 304, header);
    t.is(reply.headers.etag, etag);
    t.is(reply.headers['x-origin'], 'origin-test');
  }
  t.is((await fetchOnce(origin, '/bytes/1000', { headers: { 'if-none-match': '"other"' } })).status, 200);
});

test('GET /bytes/{n} streams 64 MiB byte-exact without holding it', async (t) => {
  const origin = await originFor(t);
  const n = 64 * 1024 * 1024;
  const { request } = await import('node:http');
  const result = await new Promise<{ length: number; mismatchAt: number }>((resolve, reject) => {
    request(`${origin.url}/bytes/${n}`, (res) => {
      // Compare as it arrives against the generator, so neither side keeps the whole body.
      const reference = demoBytes(n);
      let pending: Buffer = Buffer.alloc(0);
      let length = 0;
      let mismatchAt = -1;
      res.on('data', (chunk: Buffer) => {
        let at = 0;
        while (at < chunk.length && mismatchAt < 0) {
          if (pending.length === 0) pending = reference.next().value ?? Buffer.alloc(0);
          const take = Math.min(pending.length, chunk.length - at);
          if (take === 0 || !chunk.subarray(at, at + take).equals(pending.subarray(0, take))) mismatchAt = length + at;
          pending = pending.subarray(take);
          at += take;
        }
        length += chunk.length;
      });
      res.on('end', () => resolve({ length, mismatchAt }));
      res.on('error', reject);
    }).on('error', reject).end();
  });
  t.is(result.length, n);
  t.is(result.mismatchAt, -1);
});

test('GET /slow/{ms} answers after ms', async (t) => {
  const origin = await originFor(t);
  const started = performance.now();
  const reply = await fetchOnce(origin, '/slow/200');
  t.is(reply.status, 200);
  t.true(performance.now() - started >= 195);
  t.is(reply.headers['x-origin'], 'origin-test');
  t.is((await fetchOnce(origin, '/slow/99999999')).status, 400);
});

test('connections are kept alive between requests', async (t) => {
  const origin = await originFor(t);
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  t.teardown(() => agent.destroy());
  const first = await fetchOnce(origin, '/bytes/10', { agent });
  const second = await fetchOnce(origin, '/healthz', { agent });
  const third = await fetchOnce(origin, '/echo', { agent, method: 'POST', body: 'ping' });
  t.false(first.reusedSocket);
  t.true(second.reusedSocket);
  t.true(third.reusedSocket);
  t.is(third.body.toString(), 'ping');
});

function rawExchange(origin: { host: string; port: number }, bytes: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(origin.port, origin.host, () => socket.write(bytes));
    let text = '';
    socket.on('data', (chunk) => { text += chunk.toString('latin1'); });
    socket.on('end', () => resolve(text));
    socket.on('error', reject);
  });
}

test('malformed requests get 400 (431 for huge headers) and the origin keeps serving', async (t) => {
  const origin = await originFor(t);
  t.regex(await rawExchange(origin, 'GARBAGE\r\n\r\n'), /^HTTP\/1\.1 400 .*x-origin: origin-test/s);
  t.regex(await rawExchange(origin, 'GET / HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n'), /^HTTP\/1\.1 400/);
  t.regex(await rawExchange(origin, `GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(64 * 1024)}\r\n\r\n`), /^HTTP\/1\.1 431/);
  t.is((await fetchOnce(origin, '/healthz')).status, 200);
});

test('an upgrade to a path other than /ws is refused with 404', async (t) => {
  const origin = await originFor(t);
  const reply = await rawExchange(origin, 'GET /other HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n');
  t.regex(reply, /^HTTP\/1\.1 404/);
});
