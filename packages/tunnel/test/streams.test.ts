import { createCipheriv, createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { finished } from 'node:stream/promises';
import test from 'ava';
import { TunnelErrorCode, type TunnelStream } from '@overlay/tunnel';
import { prng, tunnelPair, waitFor } from './fixtures.js';

/** Deterministic bytes from a seed (AES-CTR keystream): both ends can regenerate what the other sent. */
function keystream(seed: number): (size: number) => Buffer {
  const key = createHash('sha256').update(`seed-${seed}`).digest().subarray(0, 16);
  const cipher = createCipheriv('aes-128-ctr', key, Buffer.alloc(16));
  return (size) => cipher.update(Buffer.alloc(size));
}

function expectedDigest(seed: number, size: number): string {
  const next = keystream(seed);
  const hash = createHash('sha256');
  for (let done = 0; done < size; done += 1 << 20) hash.update(next(Math.min(1 << 20, size - done)));
  return hash.digest('hex');
}

/** Writes `size` seeded bytes in random chunk sizes, honouring backpressure, then ends. */
async function sendSeeded(stream: TunnelStream, seed: number, size: number, random: () => number): Promise<void> {
  const next = keystream(seed);
  let sent = 0;
  while (sent < size) {
    const chunk = Math.min(size - sent, 1 + Math.floor(random() * random() * 256 * 1024));
    sent += chunk;
    if (!stream.write(next(chunk))) await once(stream, 'drain');
  }
  stream.end();
}

/** Reads everything; returns length, digest and how many times 'end' fired. */
async function receiveAll(stream: TunnelStream): Promise<{ length: number; digest: string; ends: number }> {
  const hash = createHash('sha256');
  let length = 0;
  let ends = 0;
  stream.on('data', (chunk: Buffer) => {
    length += chunk.length;
    hash.update(chunk);
  });
  stream.on('end', () => ends++);
  await finished(stream, { writable: false });
  await new Promise((resolve) => setImmediate(resolve));
  return { length, digest: hash.digest('hex'), ends };
}

/** Log-uniform in [0, 4 MiB]: mostly small, some large, the ends included. */
function streamSize(random: () => number, index: number): number {
  if (index === 0) return 0;
  if (index === 1) return 4 * 1024 * 1024;
  return Math.floor(Math.exp(random() * Math.log(4 * 1024 * 1024 + 1))) - 1;
}

test('1,000 concurrent streams, random sizes and chunking, both directions: every byte once, in order', async (t) => {
  t.timeout(180_000);
  const seed = Date.now() % 100_000;
  t.log(`seed ${seed}`);
  const random = prng(seed);
  const pair = await tunnelPair(t);
  const serverChecks: Array<Promise<void>> = [];
  pair.server.on('stream', (stream: TunnelStream) => {
    stream.on('error', () => {});
    const meta = stream.meta as { up: [number, number]; down: [number, number] };
    serverChecks.push(
      (async () => {
        const [received] = await Promise.all([
          receiveAll(stream),
          sendSeeded(stream, meta.down[0], meta.down[1], prng(meta.down[0])),
        ]);
        if (received.length !== meta.up[1]) throw new Error(`server: stream ${stream.id} got ${received.length} of ${meta.up[1]} bytes`);
        if (received.digest !== expectedDigest(meta.up[0], meta.up[1])) throw new Error(`server: stream ${stream.id} bytes differ`);
        if (received.ends !== 1) throw new Error(`server: stream ${stream.id} ended ${received.ends} times`);
      })(),
    );
  });
  let totalBytes = 0;
  const results = await Promise.all(
    Array.from({ length: 1000 }, async (_, index) => {
      const up: [number, number] = [seed * 10_000 + index * 2, streamSize(random, index)];
      const down: [number, number] = [seed * 10_000 + index * 2 + 1, streamSize(random, (index + 500) % 1000)];
      totalBytes += up[1] + down[1];
      const stream = pair.client.openStream({ priority: index % 5, meta: { up, down } });
      const [received] = await Promise.all([receiveAll(stream), sendSeeded(stream, up[0], up[1], prng(up[0]))]);
      return received.length === down[1] && received.ends === 1 && received.digest === expectedDigest(down[0], down[1]);
    }),
  );
  await Promise.all(serverChecks);
  t.is(serverChecks.length, 1000);
  t.is(results.filter((ok) => !ok).length, 0);
  t.log(`${(totalBytes / 1e6).toFixed(0)} MB over ${pair.client.sessions.length} connections`);
  await waitFor(() => pair.client.sessions.every((s) => s.streamCount === 0), 'streams to be released');
});

test('a stalled reader does not stall other streams, and holds no more than its window', async (t) => {
  t.timeout(60_000);
  const pair = await tunnelPair(t);
  const serverStreams = new Map<string, TunnelStream>();
  pair.server.on('stream', (stream: TunnelStream) => {
    stream.on('error', () => {});
    const { name, bytes } = stream.meta as { name: string; bytes: number };
    serverStreams.set(name, stream);
    stream.resume();
    void sendSeeded(stream, 7, bytes, prng(1)).catch(() => {});
  });
  const stalled = pair.client.openStream({ priority: 2, meta: { name: 'stalled', bytes: 64 * 1024 * 1024 } });
  stalled.on('error', () => {});
  stalled.end();
  await waitFor(() => stalled.recv.received >= 256 * 1024, 'the stalled stream to fill its window');
  const others = await Promise.all(
    Array.from({ length: 20 }, async (_, i) => {
      const stream = pair.client.openStream({ priority: 2, meta: { name: `fast-${i}`, bytes: 2 * 1024 * 1024 } });
      stream.end();
      return (await receiveAll(stream)).length;
    }),
  );
  t.deepEqual(others, new Array(20).fill(2 * 1024 * 1024));
  // The stalled reader never read: its buffered bytes stay within its (never grown) window.
  t.true(stalled.recv.buffered <= stalled.recv.window, `buffered ${stalled.recv.buffered} > window ${stalled.recv.window}`);
  t.is(stalled.recv.window, 256 * 1024);
  // The sender is held back too: what waits at the back-end is its queue in the blender and its Writable
  // buffer, each at most the high-water mark plus the one write (up to 256 KiB here) that crossed it,
  // not the 64 MiB it wants to send.
  const sender = serverStreams.get('stalled') as TunnelStream;
  const held = sender.queue.queuedBytes + sender.writableLength;
  t.true(held <= 2 * (sender.writableHighWaterMark + 256 * 1024), `back-end holds ${held} bytes`);
  // Reading it now drains it fully.
  const rest = await receiveAll(stalled);
  t.is(rest.length, 64 * 1024 * 1024);
});

test('a reader that keeps up grows its window towards the maximum', async (t) => {
  const pair = await tunnelPair(t);
  pair.server.on('stream', (stream: TunnelStream) => {
    stream.on('error', () => {});
    stream.resume();
    void sendSeeded(stream, 3, 64 * 1024 * 1024, prng(3));
  });
  const stream = pair.client.openStream({ meta: {} });
  stream.end();
  const received = await receiveAll(stream);
  t.is(received.length, 64 * 1024 * 1024);
  t.true(stream.recv.window > 256 * 1024, `window stayed at ${stream.recv.window}`);
});

test('killing the TCP connection fails live streams clearly; the tunnel reconnects and new streams work', async (t) => {
  const pair = await tunnelPair(t, {}, { backoff: { initialMs: 50, maxMs: 500, factor: 2, jitter: 0 } });
  pair.server.on('stream', (stream: TunnelStream) => {
    stream.on('error', () => {});
    stream.pipe(stream);
  });
  const live = Array.from({ length: 5 }, () => pair.client.openStream({ meta: {} }));
  for (const stream of live) stream.write(Buffer.alloc(1000, 1));
  const failures = live.map((stream) => new Promise<Error>((resolve) => stream.on('error', resolve)));
  await waitFor(() => pair.serverSession.streamCount === 5, 'streams at the back-end');
  pair.serverSession.socket.destroy();
  const errors = await Promise.all(failures);
  for (const error of errors) t.is((error as Error & { code: string }).code, TunnelErrorCode.CONNECTION_LOST);
  await waitFor(() => pair.client.connected, 'the tunnel to reconnect');
  t.is(pair.client.reconnects, 1);
  const fresh = pair.client.openStream({ meta: {} });
  fresh.end(Buffer.from('after reconnect'));
  const chunks: Buffer[] = [];
  fresh.on('data', (chunk: Buffer) => chunks.push(chunk));
  await finished(fresh);
  t.is(Buffer.concat(chunks).toString(), 'after reconnect');
});

test('striping: streams spread over more connections as they grow, idle extras retire', async (t) => {
  const pair = await tunnelPair(t, {}, { striping: { maxConnections: 3, streamsPerConnection: 4, idleMs: 300 } });
  pair.server.on('stream', (stream: TunnelStream) => stream.on('error', () => {}).resume());
  const streams: TunnelStream[] = [];
  for (let i = 0; i < 12; i++) {
    streams.push(pair.client.openStream({ meta: {} }));
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  await waitFor(() => pair.client.sessions.length === 3, 'three connections');
  for (const stream of streams) stream.on('error', () => {}).destroy();
  await waitFor(() => pair.client.sessions.length === 1, 'extra connections to retire', 5_000);
  t.pass();
});

test('graceful drain: GOAWAY refuses new streams but lets open ones finish', async (t) => {
  const pair = await tunnelPair(t);
  pair.server.on('stream', (stream: TunnelStream) => {
    stream.on('error', () => {});
    stream.resume();
    setTimeout(() => stream.end(Buffer.from('finished')), 200);
  });
  const open = pair.client.openStream({ meta: {} });
  open.end();
  const body: Buffer[] = [];
  open.on('data', (chunk: Buffer) => body.push(chunk));
  await waitFor(() => pair.serverSession.streamCount === 1, 'stream at the back-end');
  const closing = pair.server.close(5_000);
  await waitFor(() => pair.client.sessions[0]?.goneAway === true, 'GOAWAY at the front-end');
  t.throws(() => pair.client.openStream({ meta: {} }), { code: TunnelErrorCode.UNAVAILABLE });
  await finished(open);
  t.is(Buffer.concat(body).toString(), 'finished');
  await closing;
  await pair.client.close();
});

test('the tunnel runs over TLS', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'overlay-tls-'));
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
    '-subj', '/CN=backend.test', '-addext', 'subjectAltName=DNS:backend.test', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'ignore' });
  const cert = readFileSync(join(dir, 'cert.pem'));
  const pair = await tunnelPair(t, { tls: { cert, key: readFileSync(join(dir, 'key.pem')) } }, { tls: { ca: cert, servername: 'backend.test' } });
  pair.server.on('stream', (stream: TunnelStream) => stream.on('error', () => {}).pipe(stream));
  const stream = pair.client.openStream({ meta: {} });
  stream.end(Buffer.from('over tls'));
  const chunks: Buffer[] = [];
  stream.on('data', (chunk: Buffer) => chunks.push(chunk));
  await finished(stream);
  t.is(Buffer.concat(chunks).toString(), 'over tls');
  t.true(pair.serverSession.socket.constructor.name === 'TLSSocket');
});

test('priority and metadata travel in the OPEN frame; the reply head arrives before reply bytes', async (t) => {
  const pair = await tunnelPair(t);
  pair.server.on('stream', (stream: TunnelStream) => {
    stream.on('error', () => {});
    stream.respond({ status: 200, priority: stream.priority, echo: stream.meta });
    stream.end('body');
  });
  const stream = pair.client.openStream({ priority: 4, meta: { method: 'GET', path: '/x' } });
  stream.end();
  const [reply] = (await once(stream, 'reply')) as [unknown];
  t.deepEqual(reply, { status: 200, priority: 4, echo: { method: 'GET', path: '/x' } });
  const body = await receiveAll(stream);
  t.is(body.length, 4);
});

test('rings from the manager: a ring with compress off sends its DATA as is, the others still compress, with a packet size of their choice', async (t) => {
  const pair = await tunnelPair(t);
  const weights = [16384, 8192, 4096, 2048, 1024];
  const features = weights.map((_, ring) => ({ compress: ring !== 3 }));
  pair.client.setRings({ weights, packetSize: 4096, features });
  const text = Buffer.from('compressible '.repeat(80_000));
  pair.server.on('stream', (stream: TunnelStream) => {
    stream.on('error', () => {});
    let received = 0;
    stream.on('data', (chunk: Buffer) => (received += chunk.length));
    stream.on('end', () => {
      stream.respond({ status: 200, received });
      stream.end();
    });
  });
  const session = pair.client.sessions[0];
  const savedBy = async (priority: number): Promise<number> => {
    const before = session.getStats().compressionSaved;
    const stream = pair.client.openStream({ priority });
    stream.end(text);
    const [reply] = (await once(stream, 'reply')) as [{ received: number }];
    t.is(reply.received, text.length, 'every byte arrived');
    await finished(stream.resume());
    return session.getStats().compressionSaved - before;
  };
  t.is(await savedBy(3), 0, 'ring 3: nothing compressed');
  t.true((await savedBy(1)) > text.length / 2, 'ring 1: compressed as before');
  pair.client.setRings({ weights });
  t.true((await savedBy(3)) > text.length / 2, 'features unset: every ring compresses again');
});
