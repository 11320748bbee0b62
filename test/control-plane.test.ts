import { mkdtempSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { startProcess, type StartedProcess } from '@overlay/common';
import { startDemoOrigin } from '@overlay/demo-origin';
import { OVERLAY, requireCommand, run } from './helpers.js';

const BASE = 17_600;
const SITE = 'shop.cp.test';
const TOKEN = 'control-plane-test-token-123456';
const KEY = 'control-plane-tunnel-key-123456';
const MANAGER = `http://127.0.0.1:${BASE}`;
const dir = mkdtempSync(join(tmpdir(), 'overlay-control-'));
const processes = new Map<string, StartedProcess>();

async function role(name: string, command: string, config: object): Promise<StartedProcess> {
  const file = join(dir, `${name}.json`);
  writeFileSync(file, JSON.stringify(config));
  const started = await startProcess(process.execPath, [OVERLAY, command, '--config', file], { readyTimeoutMs: 30_000 });
  processes.set(name, started);
  return started;
}

const managerConfig = { role: 'both', listen: `127.0.0.1:${BASE}`, token: TOKEN, dataDir: join(dir, 'manager'), reportTimeoutMs: 2_000 };

async function api(method: string, path: string, body?: unknown): Promise<{ status: number; json: any }> {
  const response = await fetch(`${MANAGER}/v1${path}`, {
    method,
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: response.status, json: await response.json().catch(() => undefined) };
}

/** GET through a front-end with the site's Host; resolves status and the overlay headers. */
function get(frontEnd: string, path: string): Promise<{ status: number; priority: string | undefined; frontEnd: string | undefined }> {
  const [host, port] = frontEnd.split(':');
  return new Promise((resolve, reject) => {
    const req = request({ host, port: Number(port), path, headers: { host: SITE }, timeout: 5_000 }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, priority: res.headers['x-overlay-priority'] as string | undefined, frontEnd: res.headers['x-overlay-frontend'] as string | undefined }));
    });
    req.on('error', reject);
    req.end();
  });
}

async function eventually<T>(what: string, probe: () => Promise<T>, ok: (value: T) => boolean, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined && ok(value)) return value;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms (last: ${JSON.stringify(value)})`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

const frontEnds = { 'pop-a': `127.0.1.1:${BASE + 20}`, 'pop-b': `127.0.1.2:${BASE + 20}` };
let dns = '';
let closeOrigin: (() => Promise<void>) | undefined;

test.before(async () => {
  await requireCommand('dig', 'bind9-dnsutils');
  const origin = await startDemoOrigin({ id: 'origin-1', host: '127.0.0.1', port: 0 });
  closeOrigin = () => origin.close();
  await role('manager', 'manager', managerConfig);
  const put = await api('PUT', `/sites/${SITE}`, { domains: [SITE], mode: 'http', origins: [{ url: origin.url }], frontEnds: ['pop-a', 'pop-b'], backEnds: ['be-1'] });
  if (put.status >= 300) throw new Error(`PUT site: ${put.status} ${JSON.stringify(put.json)}`);
  await role('back-end', 'back-end', { id: 'be-1', tunnel: { listen: `127.0.0.1:${BASE + 10}`, keys: [KEY] }, admin: `127.0.0.1:${BASE + 11}`, manager: { url: MANAGER, token: TOKEN } });
  for (const [id, http] of Object.entries(frontEnds)) {
    await role(id, 'front-end', { id, pop: id, http: { listen: http }, admin: `${http.split(':')[0]}:${BASE + 21}`, manager: { url: MANAGER, token: TOKEN, tunnelKey: KEY } });
  }
  const redirector = await role('redirector', 'redirector', {
    listen: { host: '127.0.0.1', port: BASE + 53 },
    zones: { 'cp.test': { ns: [{ name: 'ns1.cp.test', addresses: ['127.0.0.1'] }] } },
    popPreferences: { '10.1.0.0/16': ['pop-a', 'pop-b'], '10.2.0.0/16': ['pop-b', 'pop-a'] },
    manager: { url: MANAGER, token: TOKEN },
  });
  dns = String(redirector.ready.dns);
  for (const http of Object.values(frontEnds)) await eventually(`site served by ${http}`, () => get(http, '/'), (r) => r.status === 200, 20_000);
});

test.after.always(async () => {
  for (const started of [...processes.values()].reverse()) await started.stop();
  await closeOrigin?.();
});

async function answer(subnet: string): Promise<string> {
  const [host, port] = dns.split(':');
  return (await run('dig', [`@${host}`, '-p', port, SITE, 'A', `+subnet=${subnet}`, '+short'])).stdout.trim();
}

test.serial('with the manager killed, traffic flows unchanged; once it restarts, the gateways re-sync', async (t) => {
  const rules = await api('PUT', `/sites/${SITE}/priorities`, { default: 2, rules: [{ match: { pathPrefix: '/slow/' }, priority: 1 }] });
  t.is(rules.status, 200);
  await eventually('rule applied', () => get(frontEnds['pop-a'], '/slow/1'), (r) => r.priority === '1', 2_000);

  processes.get('manager')!.child.kill('SIGKILL');
  await processes.get('manager')!.stop();
  for (let i = 0; i < 20; i++) {
    for (const http of Object.values(frontEnds)) {
      const response = await get(http, i % 2 ? '/slow/1' : '/');
      t.is(response.status, 200);
      if (i % 2) t.is(response.priority, '1');
    }
  }

  await role('manager', 'manager', managerConfig);
  // State survived the kill: the site and its rules are still there.
  t.is((await api('GET', `/sites/${SITE}/priorities`)).json.rules[0].priority, 1);
  t.is((await api('PUT', `/sites/${SITE}/priorities`, { default: 2, rules: [{ match: { pathPrefix: '/slow/' }, priority: 4 }] })).status, 200);
  for (const http of Object.values(frontEnds)) {
    await eventually(`re-sync of ${http}`, () => get(http, '/slow/1'), (r) => r.priority === '4', 15_000);
  }
});

test.serial('a stopped front-end is marked down and leaves DNS answers within 1 s of the manager noticing', async (t) => {
  t.is(await answer('10.2.0.0/16'), '127.0.1.2');
  t.is(await answer('10.1.0.0/16'), '127.0.1.1');
  await processes.get('pop-b')!.stop();
  await eventually('pop-b marked down', () => api('GET', '/front-ends'), (r) => JSON.stringify(r.json).includes('pop-b') && isDown(r.json, 'pop-b'), 10_000);
  const noticed = Date.now();
  await eventually('DNS moves to pop-a', () => answer('10.2.0.0/16'), (a) => a === '127.0.1.1', 1_000);
  t.true(Date.now() - noticed <= 1_000);
});

/** Finds the gateway `id` in GET /v1/front-ends (a list or a map) and tells whether it is down. */
function isDown(body: unknown, id: string): boolean {
  const list: any[] = Array.isArray(body) ? body : Array.isArray((body as any)?.frontEnds) ? (body as any).frontEnds : Object.entries((body as any)?.frontEnds ?? body ?? {}).map(([key, value]: [string, any]) => ({ id: key, ...value }));
  const entry = list.find((gateway) => gateway.id === id);
  return entry !== undefined && (entry.healthy === false || entry.health === 'down' || entry.state === 'down');
}
