import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { freePort, startProcess, type StartedProcess } from '@overlay/common';
import { startDemoOrigin } from '@overlay/demo-origin';
import { eventually, overlay, OVERLAY, requireCommand, run } from './helpers.js';
import { createTestPki, type TestPki } from './pki.js';

// The manager-fed deployment with a TLS tunnel (mutual TLS) and advertised addresses, all real processes:
// gateways bind wildcard addresses and publish the ones they are reached at.
const TOKEN = 'tunnel-tls-admin-token-0123456789';
const KEY = 'tunnel-tls-tunnel-key-0123456789';
const SITE = 'shop.tls.test';
const dir = mkdtempSync(join(tmpdir(), 'overlay-tunnel-tls-'));
const processes: StartedProcess[] = [];
let pki: TestPki;
let manager = '';
let dns = '';
let popA = '';
let closeOrigin: (() => Promise<void>) | undefined;

async function start(name: string, command: string, config: object): Promise<StartedProcess> {
  const file = join(dir, `${name}.json`);
  writeFileSync(file, JSON.stringify(config));
  const started = await startProcess(process.execPath, [OVERLAY, command, '--config', file], { readyTimeoutMs: 30_000 });
  processes.push(started);
  return started;
}

async function api(method: string, path: string, body?: unknown): Promise<any> {
  const res = await fetch(`${manager}/v1${path}`, {
    method,
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
  return res.json();
}


async function curlSite(address: string): Promise<{ status: number; headers: string }> {
  const { stdout } = await run('curl', ['-s', '-D', '-', '-o', '/dev/null', '-H', `host: ${SITE}`, '--max-time', '5', `http://${address}/`]);
  return { status: Number(/^HTTP\/1\.1 (\d+)/.exec(stdout)?.[1] ?? 0), headers: stdout };
}

test.before(async () => {
  await requireCommand('curl', 'curl');
  await requireCommand('dig', 'bind9-dnsutils');
  pki = await createTestPki('tunnel');
  const server = await pki.issue('be-1', ['DNS:be-1.tls.test', 'IP:127.0.0.1']);
  const client = await pki.issue('pop-a', ['DNS:pop-a.tls.test']);
  const origin = await startDemoOrigin({ id: 'origin-1', host: '127.0.0.1', port: 0 });
  closeOrigin = () => origin.close();
  const m = await start('manager', 'manager', { role: 'both', listen: '127.0.0.1:0', admin: '127.0.0.1:0', token: TOKEN, dataDir: join(dir, 'data'), reportTimeoutMs: 3_000 });
  manager = String(m.ready.url);
  await api('PUT', `/sites/${SITE}`, { domains: [SITE], origins: [{ url: origin.url }], frontEnds: ['pop-a', 'pop-b'], backEnds: ['be-1'] });
  const tunnelPort = await freePort();
  await start('be-1', 'back-end', {
    id: 'be-1',
    tunnel: { listen: `0.0.0.0:${tunnelPort}`, keys: [KEY], tls: { cert: server.cert, key: server.key, ca: pki.ca } },
    advertise: { tunnel: `127.0.0.1:${tunnelPort}` },
    admin: '127.0.0.1:0',
    manager: { url: manager, token: TOKEN },
  });
  const httpPort = await freePort();
  popA = `127.0.0.1:${httpPort}`;
  await start('pop-a', 'front-end', {
    id: 'pop-a', pop: 'pop-a', http: { listen: `0.0.0.0:${httpPort}` }, advertise: { http: `127.0.1.1:${httpPort}` }, admin: '127.0.0.1:0',
    manager: { url: manager, token: TOKEN, tunnelKey: KEY, tunnelTls: { ca: pki.ca, cert: client.cert, key: client.key } },
  });
  // pop-b trusts the CA but has no certificate of its own: the back-end's mutual TLS refuses it.
  await start('pop-b', 'front-end', {
    id: 'pop-b', pop: 'pop-b', http: { listen: '127.0.1.2:0' }, admin: '127.0.1.2:0',
    manager: { url: manager, token: TOKEN, tunnelKey: KEY, tunnelTls: { ca: pki.ca } },
  });
  const redirector = await start('redirector', 'redirector', {
    listen: { host: '127.0.0.1', port: 0 },
    zones: { 'tls.test': { ns: [{ name: 'ns1.tls.test', addresses: ['127.0.0.1'] }] } },
    popPreferences: { '10.1.0.0/16': ['pop-a'] },
    manager: { url: manager, token: TOKEN },
  });
  dns = String(redirector.ready.dns);
});

test.after.always(async () => {
  for (const started of processes.reverse()) await started.stop();
  await closeOrigin?.();
});

test.serial('a front-end reaches a manager-registered TLS back-end (mutual TLS) at its advertised address', async (t) => {
  const reply = await eventually('site served through the TLS tunnel', async () => {
    const answer = await curlSite(popA);
    return answer.status === 200 ? answer : undefined;
  });
  t.regex(reply.headers, /x-overlay-backend: be-1/i);
  const backEnds = (await api('GET', '/back-ends')).backEnds;
  t.regex(backEnds['be-1'].addresses.tunnel, /^127\.0\.0\.1:\d+$/, 'the advertised tunnel address, not 0.0.0.0');
  t.true(backEnds['be-1'].tunnelTls);
});

test.serial('the advertised front-end address is what the manager registers and DNS answers', async (t) => {
  const frontEnds = (await api('GET', '/front-ends')).frontEnds;
  t.is(frontEnds['pop-a'].addresses.http, `127.0.1.1:${popA.split(':')[1]}`);
  const [host, port] = dns.split(':');
  const answer = await eventually('an A answer', async () => {
    const { stdout } = await run('dig', [`@${host}`, '-p', port, SITE, 'A', '+subnet=10.1.0.0/16', '+short']);
    return stdout.trim() || undefined;
  });
  t.is(answer, '127.0.1.1');
});

test.serial('a tunnel that cannot come up is reported down with its reason, and the back-end shows as unreachable from it', async (t) => {
  const view = await eventually('pop-b reports be-1 unreachable', async () => {
    const backEnd = (await api('GET', '/back-ends')).backEnds['be-1'];
    return backEnd.unreachableFrom?.some((entry: { frontEnd: string }) => entry.frontEnd === 'pop-b') ? backEnd : undefined;
  });
  const entry = view.unreachableFrom.find((item: { frontEnd: string }) => item.frontEnd === 'pop-b');
  t.regex(entry.error, /^TLS: the back-end asks for a client certificate \(mutual TLS\)/);
  t.false(view.unreachableFrom.some((item: { frontEnd: string }) => item.frontEnd === 'pop-a'));
  const report = (await api('GET', '/front-ends')).frontEnds['pop-b'].tunnels.find((tunnel: { peer: string }) => tunnel.peer === 'be-1');
  t.false(report.connected);
  t.is(report.error, entry.error);
});

test('advertise is checked: a wildcard listen with a manager needs it, and a wildcard cannot be advertised', async (t) => {
  const write = (name: string, config: object) => {
    const file = join(dir, `${name}.json`);
    writeFileSync(file, JSON.stringify(config));
    return file;
  };
  const link = { url: 'http://127.0.0.1:1', token: TOKEN };
  const missing = await overlay(['check', '--config', write('be-missing', { id: 'be-9', tunnel: { listen: '0.0.0.0:7010', keys: [KEY] }, admin: '127.0.0.1:7011', manager: link })]);
  t.is(missing.code, 2);
  t.regex(missing.stderr, /advertise\.tunnel: required: tunnel\.listen 0\.0\.0\.0:7010 binds every address/);
  const wildcard = await overlay(['check', '--config', write('fe-wildcard', { id: 'pop-9', http: { listen: '0.0.0.0:80' }, advertise: { http: '[::]:80' }, admin: '127.0.0.1:7021', manager: { ...link, tunnelKey: KEY } })]);
  t.is(wildcard.code, 2);
  t.regex(wildcard.stderr, /advertise\.http: a wildcard address cannot be dialled/);
  const named = await overlay(['check', '--config', write('fe-named', { id: 'pop-9', http: { listen: '0.0.0.0:80' }, advertise: { http: 'pop.example.net:80' }, admin: '127.0.0.1:7021', manager: { ...link, tunnelKey: KEY } })]);
  t.is(named.code, 2);
  t.regex(named.stderr, /advertise\.http: DNS answers need an IP address/);
  const fine = await overlay(['check', '--config', write('fe-fine', { id: 'pop-9', http: { listen: '0.0.0.0:80' }, advertise: { http: '203.0.113.7:80' }, admin: '127.0.0.1:7021', manager: { ...link, tunnelKey: KEY } })]);
  t.is(fine.code, 0, fine.stderr);
});
