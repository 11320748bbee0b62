import { mkdtempSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { parseHostPort, startProcess, type StartedProcess } from '@overlay/common';
import { startDemoOrigin } from '@overlay/demo-origin';
import { eventually, OVERLAY } from './helpers.js';

// Seed 001's per-priority switches, set once at the manager (PUT /v1/rings) and applied by real gateways:
// a ring whose caching is off is never served from the front-end's cache, a ring whose compression is off
// crosses the tunnel as is, and the other rings keep both.
const TOKEN = 'rings-test-admin-token-0123456789';
const KEY = 'rings-test-tunnel-key-0123456789';
const dir = mkdtempSync(join(tmpdir(), 'overlay-rings-'));

/** One request to the front-end for `<site>.test` (fetch cannot set Host); a body makes it a POST. */
function send(to: { host: string; port: number }, site: string, path: string, body?: Buffer): Promise<{ status: number; cache: unknown; priority: unknown; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = request({ ...to, path, method: body ? 'POST' : 'GET', headers: { host: `${site}.test` } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, cache: res.headers['x-overlay-cache'], priority: res.headers['x-overlay-priority'], body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function start(t: { teardown(fn: () => Promise<unknown>): void }, name: string, command: string, config: object): Promise<StartedProcess> {
  const file = join(dir, `${name}.json`);
  writeFileSync(file, JSON.stringify(config));
  const started = await startProcess(process.execPath, [OVERLAY, command, '--config', file], { readyTimeoutMs: 30_000 });
  t.teardown(() => started.stop());
  return started;
}

test('PUT /v1/rings features: caching and compression off for ring 2 only, as the gateways apply them', async (t) => {
  const origin = await startDemoOrigin({ id: 'o-rings', host: '127.0.0.1', port: 0 });
  t.teardown(() => origin.close());
  const manager = String((await start(t, 'manager', 'manager', { role: 'both', listen: '127.0.0.1:0', token: TOKEN, dataDir: join(dir, 'data') })).ready.url);
  const api = async (method: string, path: string, body: unknown) => {
    const res = await fetch(`${manager}/v1${path}`, { method, headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    return { status: res.status, body: await res.json() };
  };
  for (const [name, priority] of [['plain', 2], ['packed', 1]] as const) {
    const put = await api('PUT', `/sites/${name}`, { domains: [`${name}.test`], origins: [{ url: origin.url }], frontEnds: ['pop-a'], backEnds: ['be-1'] });
    t.true(put.status === 200 || put.status === 201, JSON.stringify(put.body));
    const ruled = await api('PUT', `/sites/${name}/priorities`, { default: priority, rules: [] });
    t.is(ruled.status, 200, JSON.stringify(ruled.body));
  }
  const weights = [16384, 8192, 4096, 2048, 1024];
  const features = weights.map((_, ring) => (ring === 2 ? { cache: false, compress: false } : { cache: true, compress: true }));
  const rings = await api('PUT', '/rings', { weights, packetSize: 4096, features });
  t.is(rings.status, 200);
  t.deepEqual(rings.body, { weights, packetSize: 4096, features });
  const bad = await api('PUT', '/rings', { weights, features: [{ cache: 'no' }] });
  t.is(bad.status, 400);
  t.regex(bad.body.error.message, /^features/);

  await start(t, 'be-1', 'back-end', { id: 'be-1', tunnel: { listen: '127.0.0.1:0', keys: [KEY] }, admin: '127.0.0.1:0', manager: { url: manager, token: TOKEN } });
  const frontEnd = await start(t, 'pop-a', 'front-end', { id: 'pop-a', http: { listen: '127.0.0.1:0' }, admin: '127.0.0.1:0', manager: { url: manager, token: TOKEN, tunnelKey: KEY } });
  const http = parseHostPort(String(frontEnd.ready.http));
  const get = (site: string, path: string, body?: Buffer) => send(http, site, path, body);
  await eventually('both sites served', async () => ((await get('plain', '/bytes/1')).status === 200 && (await get('packed', '/bytes/1')).status === 200 ? true : undefined));

  // Caching: ring 1 stores and serves from the cache; ring 2 always goes to the origin.
  const packed = [await get('packed', '/bytes/4096'), await get('packed', '/bytes/4096')];
  t.deepEqual(packed.map((reply) => [reply.priority, reply.cache]), [['1', 'MISS'], ['1', 'HIT']]);
  const plain = [await get('plain', '/bytes/4096'), await get('plain', '/bytes/4096')];
  t.deepEqual(plain.map((reply) => [reply.priority, reply.cache]), [['2', 'BYPASS'], ['2', 'BYPASS']]);

  // Compression: the same compressible upload costs the tunnel about its size on ring 2, far less on ring 1.
  const admin = `http://${String(frontEnd.ready.admin)}`;
  const sent = async () => Number(/^overlay_frontend_tunnel_sent_bytes\{[^}]*backend="be-1"[^}]*\} (\S+)$/m.exec(await (await fetch(`${admin}/metrics`)).text())?.[1]);
  const upload = Buffer.from('a compressible line of text\n'.repeat(40_000));
  const costOf = async (site: string) => {
    const before = await sent();
    t.is((await get(site, '/echo', upload)).body.length, upload.length);
    return (await sent()) - before;
  };
  const plainCost = await costOf('plain');
  const packedCost = await costOf('packed');
  t.log(`tunnel bytes for a ${upload.length} B upload: ring 2 ${plainCost}, ring 1 ${packedCost}`);
  t.true(plainCost >= upload.length, 'ring 2 sent as is');
  t.true(packedCost < upload.length / 4, 'ring 1 compressed');
});
