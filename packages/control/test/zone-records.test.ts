/**
 * Static records kept by the manager (`PUT /v1/zones/{apex}/records`) reach a redirector that follows it,
 * beside the records of its own file; bad data gets 400 at the API, and records survive a restart.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { silentLogger } from '@overlay/common';
import { attachRedirector } from '@overlay/control';
import { startManager } from '@overlay/manager';
import { dig, requireDig } from '../../redirector/test/helpers/dig.js';
import { demoState } from '../../redirector/test/helpers/fixture.js';
import { startTestRedirector } from '../../redirector/test/helpers/server.js';

const TOKEN = 'test-token-0123456789';

async function put(url: string, path: string, body: unknown): Promise<{ status: number; body: any }> {
  const res = await fetch(`${url}${path}`, { method: 'PUT', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, body: await res.json() };
}

async function until<T>(probe: () => Promise<T | undefined>, timeoutMs = 8000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

test('records put through the manager API are served by the redirector that follows it', async (t) => {
  await requireDig();
  const dataDir = await mkdtemp(join(tmpdir(), 'overlay-zone-records-'));
  t.teardown(() => rm(dataDir, { recursive: true, force: true }));
  const config = { role: 'both', listen: '127.0.0.1:0', token: TOKEN, dataDir } as const;
  let manager = await startManager(config, { log: silentLogger });
  const bad = await put(manager.url, '/v1/zones/demo.test/records', { records: [{ name: '@', type: 'MX', data: 'ten mail.demo.test.' }] });
  t.is(bad.status, 400);
  t.regex(JSON.stringify(bad.body), /MX preference/);
  const good = await put(manager.url, '/v1/zones/demo.test/records', {
    records: [
      { name: '@', type: 'TXT', data: '"from the manager"' },
      { name: 'api', type: 'CNAME', data: 'shop.demo.test.' },
    ],
  });
  t.is(good.status, 200, JSON.stringify(good.body));
  await manager.close();
  manager = await startManager(config, { log: silentLogger });
  t.teardown(() => manager.close());

  const state = demoState();
  (state.zones['demo.test'] as { records?: unknown[] }).records = [{ name: '@', type: 'MX', data: '10 mail.demo.test.' }];
  const server = await startTestRedirector(state);
  t.teardown(() => server.close());
  const base = { zones: state.zones, popPreferences: state.popPreferences };
  const attached = attachRedirector(server, {
    manager: { url: [manager.url], token: TOKEN },
    id: 'dns-1',
    base: base as never,
    isInZones: (name: string) => name === 'demo.test' || name.endsWith('.demo.test'),
    addresses: { dns: `127.0.0.1:${server.udpPort}` },
    log: silentLogger,
  });
  t.teardown(() => attached.close());
  const txt = await until(async () => {
    const r = await dig(server.udpPort, 'udp', ['demo.test', 'TXT']);
    return r.answer.length ? r : undefined;
  });
  t.deepEqual(txt.answer.map((rr) => rr.data), ['"from the manager"'], 'kept across the manager restart');
  const mx = await dig(server.udpPort, 'udp', ['demo.test', 'MX']);
  t.deepEqual(mx.answer.map((rr) => rr.data), ['10 mail.demo.test.'], "the file's own records stay");
  const cname = await dig(server.udpPort, 'udp', ['api.demo.test', 'CNAME']);
  t.deepEqual(cname.answer.map((rr) => rr.data), ['shop.demo.test.']);
});
