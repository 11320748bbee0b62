import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import test from 'ava';
import { demoBytes } from '@overlay/demo-origin';
import type { TunnelClient } from '@overlay/tunnel';
import { countingProxy, demoOrigin, exchange, header, httpHead, open, quietHealth, startHarness } from './helpers.js';

const MiB = 1024 * 1024;

function expectedDigest(n: number): string {
  const hash = createHash('sha256');
  for (const chunk of demoBytes(n)) hash.update(chunk);
  return hash.digest('hex');
}

/** GET /bytes/n through the back-end, hashing as it arrives (nothing is kept). */
async function download(client: TunnelClient, n: number): Promise<{ status: number; length: string | undefined; bytes: number; digest: string }> {
  const { stream, reply } = open(client, httpHead('shop', 'GET', `/bytes/${n}`));
  stream.end();
  const hash = createHash('sha256');
  let bytes = 0;
  stream.on('data', (chunk: Buffer) => {
    bytes += chunk.length;
    hash.update(chunk);
  });
  const head = await reply;
  await once(stream, 'end');
  return { status: head.status, length: header(head, 'content-length'), bytes, digest: hash.digest('hex') };
}

// Serial: the memory measurement must not share the process with other transfers.
test.serial('GET /bytes of 1 MiB and 64 MiB arrive byte-exact', async (t) => {
  const origin = await demoOrigin(t, { id: 'o1' });
  const { client } = await startHarness(t, { sites: { shop: { origins: [{ url: origin.url, id: 'o1' }] } }, health: quietHealth });
  for (const n of [MiB, 64 * MiB]) {
    const result = await download(client, n);
    t.is(result.status, 200);
    t.is(result.length, String(n));
    t.is(result.bytes, n);
    t.is(result.digest, expectedDigest(n), `${n} bytes differ from the origin's`);
  }
});

test.serial('POST /echo of 100 MiB streams both ways with bounded memory', async (t) => {
  const n = 100 * MiB;
  const origin = await demoOrigin(t, { id: 'o1' });
  const { client } = await startHarness(t, { sites: { shop: { origins: [{ url: origin.url, id: 'o1' }] } }, health: quietHealth });
  await exchange(client, httpHead('shop', 'GET', '/bytes/1024')); // warm up pools and code paths

  const base = httpHead('shop', 'POST', '/echo');
  const head = { ...base, hasBody: true, headers: [...base.headers, ['content-type', 'application/octet-stream'], ['content-length', String(n)]] as Array<[string, string]> };
  const { stream, reply } = open(client, head);
  const rssBefore = process.memoryUsage().rss;
  let rssPeak = rssBefore;
  const sampler = setInterval(() => (rssPeak = Math.max(rssPeak, process.memoryUsage().rss)), 20);

  const hash = createHash('sha256');
  let received = 0;
  stream.on('data', (chunk: Buffer) => {
    received += chunk.length;
    hash.update(chunk);
  });
  const ended = once(stream, 'end');
  let receivedWhenUploaded = 0;
  for (const chunk of demoBytes(n)) {
    if (!stream.write(chunk)) await once(stream, 'drain');
  }
  receivedWhenUploaded = received;
  stream.end();
  const replyHead = await reply;
  await ended;
  clearInterval(sampler);
  rssPeak = Math.max(rssPeak, process.memoryUsage().rss);

  t.is(replyHead.status, 200);
  t.is(received, n);
  t.is(hash.digest('hex'), expectedDigest(n));
  // The echo came back while the upload was still going: nobody held the whole body first.
  t.true(receivedWhenUploaded > n / 2, `only ${receivedWhenUploaded} bytes echoed before the upload ended`);
  const growthMiB = (rssPeak - rssBefore) / MiB;
  t.log(`RSS growth during 100 MiB echo: ${growthMiB.toFixed(1)} MiB`);
  t.true(growthMiB < 100, `RSS grew ${growthMiB.toFixed(1)} MiB`);
});

test.serial('origin connections are kept alive and reused across requests', async (t) => {
  const origin = await demoOrigin(t, { id: 'o1' });
  const proxy = await countingProxy(t, origin);
  const { client } = await startHarness(t, { sites: { shop: { origins: [{ url: proxy.url, id: 'o1' }] } }, health: quietHealth });
  const requests = 200;
  const concurrency = 4;
  let next = 0;
  const statuses: number[] = [];
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next++ < requests) statuses.push((await exchange(client, httpHead('shop', 'GET', '/bytes/2048'))).head.status);
    }),
  );
  t.is(statuses.length, requests);
  t.true(statuses.every((status) => status === 200));
  t.is(proxy.stats.requests, requests);
  t.true(proxy.stats.connections <= concurrency * 2, `${proxy.stats.connections} origin connections for ${requests} requests`);
  t.true(proxy.stats.maxInFlight <= concurrency);
});

test('the REPLY carries the origin header lines as sent: repeats kept, names lower-cased, hop-by-hop and Connection-named fields dropped', async (t) => {
  const origin = createServer((_req, res) => {
    res.sendDate = false;
    // writeHead with a flat list sends every line as given, repeats and case included.
    res.writeHead(200, [
      'Content-Type', 'text/plain', 'Set-Cookie', 'a=1', 'Set-Cookie', 'b=2', 'X-Mixed-Case', 'Value As Sent',
      'Connection', 'keep-alive, X-Leg-Secret', 'X-Leg-Secret', 'hop', 'Keep-Alive', 'timeout=5',
      'X-Overlay-Backend', 'spoofed', 'Content-Length', '2',
    ]);
    res.end('ok');
  });
  origin.listen(0, '127.0.0.1');
  await once(origin, 'listening');
  t.teardown(() => origin.close());
  const url = `http://127.0.0.1:${(origin.address() as AddressInfo).port}`;
  const { client } = await startHarness(t, { sites: { shop: { origins: [{ url, id: 'o1' }] } }, health: quietHealth });
  const answer = await exchange(client, httpHead('shop', 'GET', '/'));
  t.is(answer.body.toString(), 'ok');
  t.deepEqual(answer.head.headers, [
    ['content-type', 'text/plain'], ['set-cookie', 'a=1'], ['set-cookie', 'b=2'], ['x-mixed-case', 'Value As Sent'],
    ['content-length', '2'], ['x-overlay-backend', 'be-test'],
  ]);
});
