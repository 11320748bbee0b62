import { mkdtempSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { startEtcdCluster, type EtcdCluster } from '@overlay/bench';
import { startProcess, type StartedProcess } from '@overlay/common';
import { startDemoOrigin, type DemoOrigin } from '@overlay/demo-origin';
import { OVERLAY, requireCommand, run } from '../../../test/helpers.js';

const TOKEN = 'replicas-test-manager-token-0123';
const KEY = 'replicas-test-tunnel-key-0123';
const dir = mkdtempSync(join(tmpdir(), 'overlay-replicas-'));
const processes: StartedProcess[] = [];
let etcd: EtcdCluster;
let origin: DemoOrigin;

async function role(name: string, command: string, config: object): Promise<StartedProcess> {
  const file = join(dir, `${name}.json`);
  writeFileSync(file, JSON.stringify(config));
  const started = await startProcess(process.execPath, [OVERLAY, command, '--config', file], { readyTimeoutMs: 30_000 });
  processes.push(started);
  return started;
}

function startManager(id: string): Promise<StartedProcess> {
  return role(id, 'manager', { id, role: 'both', listen: '127.0.0.1:0', token: TOKEN, reportTimeoutMs: 2_000, store: { etcd: { endpoints: etcd.endpoints, prefix: `/overlay-test/${process.pid}` } } });
}

async function api(manager: string, method: string, path: string, body?: unknown): Promise<{ status: number; json: any }> {
  const response = await fetch(`${manager}/v1${path}`, {
    method,
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    signal: AbortSignal.timeout(5_000),
  });
  return { status: response.status, json: await response.json().catch(() => undefined) };
}

async function health(manager: string): Promise<{ leader: boolean; capacityEvaluations: number }> {
  const response = await fetch(`${manager}/healthz`, { signal: AbortSignal.timeout(2_000) });
  return (await response.json()) as { leader: boolean; capacityEvaluations: number };
}

async function eventually<T>(what: string, probe: () => Promise<T>, ok: (value: T) => boolean, timeoutMs: number): Promise<number> {
  const started = performance.now();
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined && ok(value)) return performance.now() - started;
    if (performance.now() - started > timeoutMs) throw new Error(`${what}: not within ${timeoutMs} ms (last: ${JSON.stringify(value)})`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

async function dig(dns: string, name: string): Promise<string> {
  const [host, port] = dns.split(':');
  const { stdout } = await run('dig', [`@${host}`, '-p', String(port), '+time=1', '+tries=1', '+short', name, 'A']);
  return stdout.trim();
}

function get(frontEnd: string, host: string): Promise<number> {
  const [hostname, port] = frontEnd.split(':');
  return new Promise((resolve, reject) => {
    const req = request({ host: hostname, port: Number(port), path: '/', headers: { host }, timeout: 5_000 }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end();
  });
}

const site = (name: string, extra: object = {}) => ({ domains: [`${name}.replicas.test`], mode: 'http', origins: [{ url: origin.url }], frontEnds: ['fe-1'], backEnds: ['be-1'], ...extra });

test.before(async () => {
  await requireCommand('etcd', 'etcd-server');
  await requireCommand('dig', 'bind9-dnsutils');
  etcd = await startEtcdCluster(3);
  origin = await startDemoOrigin({ id: 'origin-1', host: '127.0.0.1', port: 0 });
});

test.after.always(async () => {
  await Promise.all(processes.map((started) => started.stop()));
  await origin?.close();
  await etcd?.close();
});

test.serial('two managers on one etcd cluster: a write to either is served by the other within 1 s; a leader dies under writes and nothing acknowledged is lost', async (t) => {
  const first = await startManager('manager-a');
  const a = String(first.ready.url);
  await eventually('manager-a leads', () => health(a), (h) => h.leader, 10_000);
  const second = await startManager('manager-b');
  const b = String(second.ready.url);
  t.false((await health(b)).leader, 'one leader at a time');

  // Replication, both ways.
  for (const [writer, reader, name] of [[a, b, 'one'], [b, a, 'two']] as const) {
    const put = await api(writer, 'PUT', `/sites/${name}`, site(name));
    t.true(put.status === 200 || put.status === 201, JSON.stringify(put.json));
    const waited = await eventually(`site ${name} on the other replica`, () => api(reader, 'GET', `/sites/${name}`), (r) => r.status === 200, 1_000);
    t.log(`site ${name} served by the other replica after ${waited.toFixed(0)} ms`);
  }

  // Writes race on the two replicas: one order for both, so of two sites claiming one domain exactly one wins.
  for (let round = 0; round < 5; round++) {
    const domain = `race-${round}.replicas.test`;
    const [left, right] = await Promise.all([
      api(a, 'PUT', `/sites/race-a-${round}`, { ...site(`race-a-${round}`, { frontEnds: [] }), domains: [domain] }),
      api(b, 'PUT', `/sites/race-b-${round}`, { ...site(`race-b-${round}`, { frontEnds: [] }), domains: [domain] }),
    ]);
    t.deepEqual([left.status < 300, right.status < 300].filter(Boolean).length, 1, `round ${round}: ${left.status} ${right.status}`);
    t.true([left.status, right.status].includes(409), `round ${round}: the loser is told of the conflict`);
  }

  // Gateways follow the managers with both URLs, manager-a first.
  const backEnd = await role('back-end', 'back-end', { id: 'be-1', tunnel: { listen: '127.0.0.1:0', keys: [KEY] }, admin: '127.0.0.1:0', manager: { url: [a, b], token: TOKEN } });
  void backEnd;
  const frontEnd = await role('front-end', 'front-end', { id: 'fe-1', http: { listen: '127.0.0.1:0' }, admin: '127.0.0.1:0', manager: { url: [a, b], token: TOKEN, tunnelKey: KEY } });
  const http = String(frontEnd.ready.http);
  await eventually('the front-end serves site one', () => get(http, 'one.replicas.test'), (status) => status === 200, 10_000);
  const redirector = await role('redirector', 'redirector', {
    id: 'dns-1', listen: '127.0.0.1:0', manager: { url: [a, b], token: TOKEN },
    zones: { 'replicas.test': { ns: [{ name: 'ns1.replicas.test', addresses: ['127.0.0.1'] }] } },
  });
  const dns = String(redirector.ready.dns);
  await eventually('the redirector answers site one', () => dig(dns, 'one.replicas.test'), (answer) => answer === '127.0.0.1', 5_000);
  await eventually('manager-a holds the front-end', () => api(a, 'GET', '/front-ends'), (r) => r.json?.frontEnds?.['fe-1']?.connected === true, 5_000);
  // Reports reach every replica: manager-b knows the front-end's health though it talks to manager-a.
  await eventually(
    'manager-b sees the front-end healthy through relayed reports',
    () => api(b, 'GET', '/front-ends'),
    (r) => r.json?.frontEnds?.['fe-1']?.healthy === true && r.json?.frontEnds?.['fe-1']?.connected === false && r.json?.frontEnds?.['fe-1']?.tunnels?.length === 1,
    5_000,
  );

  let writing = true;
  // Client traffic all along; every request must succeed.
  let traffic = true;
  t.teardown(() => {
    traffic = false;
    writing = false;
  });
  const failures: string[] = [];
  let served = 0;
  const client = (async () => {
    while (traffic) {
      const status = await get(http, 'one.replicas.test').catch((err: Error) => err.message);
      if (status === 200) served++;
      else failures.push(String(status));
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  })();

  // A stream of writes to both replicas; what either acknowledged must survive.
  const acknowledged = new Set<string>();
  const writer = (manager: string, prefix: string) => (async () => {
    for (let n = 0; writing; n++) {
      const name = `${prefix}-${n}`;
      const put = await api(manager, 'PUT', `/sites/${name}`, site(name, { frontEnds: [] })).catch(() => undefined);
      if (put && (put.status === 200 || put.status === 201)) acknowledged.add(name);
      else if (manager === a) return; // manager-a is gone: its writer stops, manager-b's goes on
    }
  })();
  const writers = [writer(a, 'wa'), writer(b, 'wb')];
  await new Promise((resolve) => setTimeout(resolve, 1_000));
  const ackedBeforeKill = acknowledged.size;
  first.child.kill('SIGKILL');
  const killedAt = performance.now();

  // Measured side by side from the kill: the new leader's first decision, and the front-end's switch.
  const [decidedAfter, switchedAfter] = await Promise.all([
    (async () => {
      await eventually('manager-b leads', () => health(b), (h) => h.leader, 5_000);
      const evaluationsAtElection = (await health(b)).capacityEvaluations;
      await eventually('manager-b decides', () => health(b), (h) => h.capacityEvaluations > evaluationsAtElection, 5_000);
      return performance.now() - killedAt;
    })(),
    eventually('the front-end moved to manager-b', () => api(b, 'GET', '/front-ends'), (r) => r.json?.frontEnds?.['fe-1']?.connected === true, 5_000).then(() => performance.now() - killedAt),
  ]);
  t.log(`new leader's first capacity decision ${decidedAfter.toFixed(0)} ms after the kill; front-end on manager-b after ${switchedAfter.toFixed(0)} ms`);
  t.true(decidedAfter < 5_000, 'a new leader decides within 5 s');
  t.true(switchedAfter < 2_000, 'gateways switch manager within 2 s');
  // It follows manager-b now: a site added there is served.
  const put = await api(b, 'PUT', '/sites/three', site('three'));
  t.true(put.status === 200 || put.status === 201);
  await eventually('the front-end serves a site added on manager-b', () => get(http, 'three.replicas.test'), (status) => status === 200, 2_000);
  await eventually('the redirector, on manager-b now, answers it too', () => dig(dns, 'three.replicas.test'), (answer) => answer === '127.0.0.1', 2_000);

  await new Promise((resolve) => setTimeout(resolve, 500));
  writing = false;
  traffic = false;
  await Promise.all([...writers, client]);
  t.true(acknowledged.size > ackedBeforeKill, 'writes went on after the kill');
  const { sites } = (await api(b, 'GET', '/sites')).json as { sites: Record<string, unknown> };
  const lost = [...acknowledged].filter((name) => !(name in sites));
  t.deepEqual(lost, [], `acknowledged writes lost (of ${acknowledged.size})`);
  t.log(`${acknowledged.size} acknowledged writes, none lost; ${served} client requests served, ${failures.length} failed`);
  t.deepEqual(failures, [], 'no client request failed');
});
