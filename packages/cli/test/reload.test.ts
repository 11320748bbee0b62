import { execFile } from 'node:child_process';
import { createHash, X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { promisify } from 'node:util';
import test from 'ava';
import { WebSocket } from 'ws';
import { parseHostPort, pollUntil, startProcess, type StartedProcess } from '@overlay/common';
import { demoBytes, startDemoOrigin, type DemoOrigin } from '@overlay/demo-origin';
import { OVERLAY, requireCommand } from '../../../test/helpers.js';

const run = promisify(execFile);
const KEY = 'reload-test-tunnel-key-0123';
const ADMIN_TOKEN = 'reload-test-admin-token-0123';
/** Large enough that the paused download is still in flight across both reloads. */
const DOWNLOAD_BYTES = 24 * 1024 * 1024;

const dir = mkdtempSync(join(tmpdir(), 'overlay-reload-'));
const path = (name: string) => join(dir, name);
const write = (name: string, value: unknown) => writeFileSync(path(name), JSON.stringify(value, null, 2));

interface Role {
  process: StartedProcess;
  logs: string[];
}
const started: StartedProcess[] = [];
let origin: DemoOrigin;

async function startRole(role: string, file: string): Promise<Role> {
  const logs: string[] = [];
  const process_ = await startProcess(process.execPath, [OVERLAY, role, '--config', path(file)], { onStderr: (line) => logs.push(line) });
  started.push(process_);
  return { process: process_, logs };
}

/** Sends SIGHUP and waits for the log line that says how the reload went. */
async function sighup(role: Role): Promise<Record<string, unknown>[]> {
  const before = role.logs.length;
  role.process.child.kill('SIGHUP');
  const outcome = () => role.logs.slice(before).map((line) => JSON.parse(line) as Record<string, unknown>).filter((entry) => /config reloaded|reload refused/.test(String(entry.msg)));
  await pollUntil(() => outcome().length > 0, { timeoutMs: 10_000, intervalMs: 20 });
  // The refusal logs one line per problem: give the others a moment to land.
  await new Promise((resolve) => setTimeout(resolve, 100));
  return outcome();
}

async function openssl(...args: string[]): Promise<void> {
  await run('openssl', args);
}

/** A CA and two certificates it signed for backend.test: the one the back-end starts with, and its renewal. */
async function makeCertificates(): Promise<void> {
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  await openssl('req', '-x509', ...ec, '-days', '1', '-subj', '/CN=reload test CA', '-keyout', path('ca.key'), '-out', path('ca.pem'));
  writeFileSync(path('san.ext'), 'subjectAltName=DNS:backend.test\n');
  for (const name of ['first', 'renewed']) {
    await openssl('req', ...ec, '-subj', '/CN=backend.test', '-keyout', path(`${name}.key`), '-out', path(`${name}.csr`));
    await openssl('x509', '-req', '-in', path(`${name}.csr`), '-CA', path('ca.pem'), '-CAkey', path('ca.key'), '-CAcreateserial', '-days', '1', '-extfile', path('san.ext'), '-out', path(`${name}.pem`));
  }
}

/** The certificate a new TLS handshake with the back-end's tunnel listener presents. */
function presentedFingerprint(address: string): Promise<string> {
  const { host, port } = parseHostPort(address);
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ host, port, servername: 'backend.test', ca: readFileSync(path('ca.pem')) }, () => {
      const fingerprint = socket.getPeerX509Certificate()?.fingerprint256 ?? '';
      socket.destroy();
      resolve(fingerprint);
    });
    socket.once('error', reject);
  });
}

function get(address: string, host: string, requestPath: string): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  const { host: hostname, port } = parseHostPort(address);
  return new Promise((resolve, reject) => {
    const req = request({ host: hostname, port, path: requestPath, headers: { host } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.once('error', reject);
    req.end();
  });
}

function postReload(address: string, token?: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const { host, port } = parseHostPort(address);
  return new Promise((resolve, reject) => {
    const req = request({ host, port, method: 'POST', path: '/reload', headers: token ? { authorization: `Bearer ${token}` } : {} }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(body) as Record<string, unknown> }));
    });
    req.once('error', reject);
    req.end();
  });
}

/** Whether the front-end closes a keep-alive connection left idle after one request within `ms`. */
function idleClosedWithin(address: string, ms: number): Promise<boolean> {
  const { host, port } = parseHostPort(address);
  return new Promise((resolve, reject) => {
    const socket = createConnection({ host, port }, () => socket.write('GET / HTTP/1.1\r\nHost: shop.test\r\n\r\n'));
    const timer = setTimeout(() => {
      socket.destroy();
      resolve(false);
    }, ms);
    socket.on('data', () => {});
    socket.once('error', reject);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

async function dig(dns: string, ...args: string[]): Promise<string> {
  const { host, port } = parseHostPort(dns);
  const { stdout } = await run('dig', [`@${host}`, '-p', String(port), '+time=2', '+tries=1', ...args]);
  return stdout.trim();
}

test.before(async () => {
  await requireCommand('openssl', 'openssl');
  await requireCommand('dig', 'bind9-dnsutils');
  await makeCertificates();
  writeFileSync(path('tunnel.pem'), readFileSync(path('first.pem')));
  writeFileSync(path('tunnel.key'), readFileSync(path('first.key')));
  origin = await startDemoOrigin({ id: 'origin-1', host: '127.0.0.1', port: 0 });
});

test.after.always(async () => {
  await Promise.all(started.map((process_) => process_.stop()));
  await origin?.close();
});

test('SIGHUP applies a new site, tunnel certificate, zone and POP table while a long download and a WebSocket carry on', async (t) => {
  const shop = { mode: 'http', origins: [{ id: 'origin-1', url: origin.url }] };
  const backEndConfig = (sites: Record<string, unknown>) => ({
    id: 'be-1',
    tunnel: { listen: '127.0.0.1:0', keys: [KEY], tls: { cert: 'tunnel.pem', key: 'tunnel.key' } },
    admin: '127.0.0.1:0',
    adminToken: ADMIN_TOKEN,
    state: { sites },
  });
  write('back-end.json', backEndConfig({ shop }));
  const backEnd = await startRole('back-end', 'back-end.json');
  const tunnel = String(backEnd.process.ready.tunnel);

  const frontEndConfig = (sites: Record<string, unknown>, keepAliveTimeoutMs = 60_000) => ({
    id: 'fe-1',
    http: { listen: '127.0.0.1:0', keepAliveTimeoutMs },
    admin: '127.0.0.1:0',
    state: { backEnds: { 'be-1': { tunnel, key: KEY, tls: { ca: path('ca.pem'), servername: 'backend.test' } } }, sites },
  });
  write('front-end.json', frontEndConfig({ shop: { domains: ['shop.test'], backEnds: ['be-1'] } }));
  const frontEnd = await startRole('front-end', 'front-end.json');
  const http = String(frontEnd.process.ready.http);

  const zone = (serial: number) => ({ ns: [{ name: 'ns1.demo.test', addresses: ['127.0.0.1'] }], soa: { serial } });
  const redirectorConfig = (serial: number, popB: boolean) => ({
    listen: '127.0.0.1:0',
    admin: '127.0.0.1:0',
    zones: { 'demo.test': zone(serial), ...(popB ? { 'other.test': zone(1) } : {}) },
    sites: { shop: { domains: ['shop.demo.test'], frontEnds: ['fe-a', 'fe-b'] } },
    frontEnds: { 'fe-a': { addresses: ['127.0.1.1'], pop: 'pop-a' }, 'fe-b': { addresses: ['127.0.1.2'], pop: 'pop-b' } },
    popPreferences: { '10.1.0.0/16': [popB ? 'pop-b' : 'pop-a', popB ? 'pop-a' : 'pop-b'] },
  });
  write('redirector.json', redirectorConfig(1, false));
  const redirector = await startRole('redirector', 'redirector.json');
  const dns = String(redirector.process.ready.dns);

  // Before: the first certificate, the old site list, zone serial 1, 10.1/16 on pop-a.
  const first = new X509Certificate(readFileSync(path('first.pem'))).fingerprint256;
  const renewed = new X509Certificate(readFileSync(path('renewed.pem'))).fingerprint256;
  t.is(await presentedFingerprint(tunnel), first);
  t.is((await get(http, 'shop.test', '/')).status, 200);
  t.is((await get(http, 'blog.test', '/')).status, 404);
  t.is(await dig(dns, '+short', '+subnet=10.1.2.0/24', 'shop.demo.test', 'A'), '127.0.1.1');
  t.regex(await dig(dns, '+short', 'demo.test', 'SOA'), / 1 3600 600 86400 60$/);
  t.regex(await dig(dns, 'other.test', 'SOA'), /status: REFUSED/);

  // In flight across the reloads: a paused download, and an open WebSocket.
  const download = new Promise<{ bytes: number; digest: string }>((resolve, reject) => {
    const { host, port } = parseHostPort(http);
    const req = request({ host, port, path: `/bytes/${DOWNLOAD_BYTES}`, headers: { host: 'shop.test' } }, (res) => {
      const hash = createHash('sha256');
      let bytes = 0;
      res.pause();
      setTimeout(() => res.resume(), 3_000);
      res.on('data', (chunk: Buffer) => {
        bytes += chunk.length;
        hash.update(chunk);
      });
      res.on('end', () => resolve({ bytes, digest: hash.digest('hex') }));
      res.on('error', reject);
    });
    req.once('error', reject);
    req.end();
  });
  const socket = new WebSocket(`ws://${http}/ws`, { headers: { host: 'shop.test' } });
  const echoes: string[] = [];
  socket.on('message', (data) => echoes.push(String(data)));
  await new Promise((resolve, reject) => socket.once('open', resolve).once('error', reject));
  socket.send('before');
  await pollUntil(() => echoes.includes('before'), { timeoutMs: 5_000, intervalMs: 10 });

  // The renewed certificate lands at the same paths; the files gain a site, a zone and a new POP order.
  writeFileSync(path('tunnel.pem'), readFileSync(path('renewed.pem')));
  writeFileSync(path('tunnel.key'), readFileSync(path('renewed.key')));
  write('back-end.json', backEndConfig({ shop, blog: shop }));
  write('front-end.json', frontEndConfig({ shop: { domains: ['shop.test'], backEnds: ['be-1'] }, blog: { domains: ['blog.test'], backEnds: ['be-1'] } }, 300));
  write('redirector.json', redirectorConfig(2, true));
  for (const role of [backEnd, frontEnd, redirector]) {
    const [outcome] = await sighup(role);
    t.is(outcome?.msg, 'config reloaded', JSON.stringify(outcome));
    if (role === frontEnd) t.deepEqual(outcome?.applied, ['http.keepAliveTimeoutMs', 'state']);
  }
  t.true(await idleClosedWithin(http, 2_000), 'the new keep-alive timeout (300 ms, was 60 s) closes an idle connection');

  t.is(await presentedFingerprint(tunnel), renewed, 'a new handshake gets the renewed certificate');
  const blog = await get(http, 'blog.test', '/');
  t.is(blog.status, 200, 'the new site is served');
  t.is(blog.headers['x-origin'], 'origin-1');
  t.is(await dig(dns, '+short', '+subnet=10.1.2.0/24', 'shop.demo.test', 'A'), '127.0.1.2', 'the new POP table answers');
  t.regex(await dig(dns, '+short', 'demo.test', 'SOA'), / 2 3600 600 86400 60$/, 'the changed zone is served');
  t.regex(await dig(dns, 'other.test', 'SOA'), /status: NOERROR/, 'the added zone is served');

  socket.send('after');
  await pollUntil(() => echoes.includes('after'), { timeoutMs: 5_000, intervalMs: 10 });
  t.is(socket.readyState, WebSocket.OPEN, 'the WebSocket survived');
  socket.close();
  const received = await download;
  t.is(received.bytes, DOWNLOAD_BYTES, 'the download survived whole');
  const expected = createHash('sha256');
  for (const chunk of demoBytes(DOWNLOAD_BYTES)) expected.update(chunk);
  t.is(received.digest, expected.digest('hex'), 'the bytes are the origin\'s');

  // A bad file changes nothing: every problem is logged, the old config keeps serving.
  write('front-end.json', { ...frontEndConfig({ shop: { domains: ['shop.test'], backEnds: ['nope'] } }), http: { listen: 'nowhere' } });
  const refused = await sighup(frontEnd);
  t.true(refused.every((entry) => entry.msg === 'reload refused: invalid config, the old one stays'), JSON.stringify(refused));
  t.deepEqual(refused.map((entry) => entry.field).sort(), ['http.listen', 'state.sites.shop.backEnds[0]']);
  t.is((await get(http, 'blog.test', '/')).status, 200, 'the old config still serves');

  // POST /reload: the admin token guards it; problems come back in the answer.
  const backEndAdmin = String(backEnd.process.ready.admin);
  t.is((await postReload(backEndAdmin)).status, 401);
  write('back-end.json', { ...backEndConfig({ shop }), drainTimeoutMs: -1, tunnel: { listen: '127.0.0.1:0', keys: ['short'] } });
  const bad = await postReload(backEndAdmin, ADMIN_TOKEN);
  t.is(bad.status, 400);
  t.is((bad.body.error as { problems: string[] }).problems.length, 2, JSON.stringify(bad.body));
  write('back-end.json', { ...backEndConfig({ shop }), admin: '127.0.0.1:1' });
  const good = await postReload(backEndAdmin, ADMIN_TOKEN);
  t.is(good.status, 200);
  t.deepEqual(good.body.restartNeeded, ['admin']);
  t.true((good.body.applied as string[]).includes('state'));
  const dropped = await get(http, 'blog.test', '/');
  t.is(dropped.status, 404, 'the back-end dropped the site its file no longer has');
  t.is(dropped.headers['x-overlay-backend'], 'be-1');
  t.is(backEnd.process.child.exitCode, null);
});

test('a manager takes new tokens on POST /reload, and a redirector following it takes a new zone on SIGHUP', async (t) => {
  const managerConfig = (token: string) => ({ role: 'both', listen: '127.0.0.1:0', token, dataDir: path('manager-data') });
  const oldToken = 'reload-test-manager-old-0123';
  const newToken = 'reload-test-manager-new-0123';
  write('manager.json', managerConfig(oldToken));
  const manager = await startRole('manager', 'manager.json');
  const url = String(manager.process.ready.url);
  const api = url.replace('http://', '');

  const zone = (serial: number) => ({ 'follow.test': { ns: [{ name: 'ns1.follow.test', addresses: ['127.0.0.1'] }], soa: { serial } } });
  write('follower.json', { id: 'dns-1', listen: '127.0.0.1:0', zones: zone(7), manager: { url, token: oldToken } });
  const follower = await startRole('redirector', 'follower.json');
  const dns = String(follower.process.ready.dns);
  t.regex(await dig(dns, '+short', 'follow.test', 'SOA'), / 7 3600 600 86400 60$/);
  write('follower.json', { id: 'dns-1', listen: '127.0.0.1:0', zones: zone(8), manager: { url, token: oldToken } });
  const [outcome] = await sighup(follower);
  t.true((outcome?.applied as string[]).includes('zones'), JSON.stringify(outcome));
  t.regex(await dig(dns, '+short', 'follow.test', 'SOA'), / 8 3600 600 86400 60$/, 'the new zone, combined with the feed');

  t.is((await postReload(api)).status, 401, 'a manager always guards /reload with its token');
  write('manager.json', managerConfig(newToken));
  const reloaded = await postReload(api, oldToken);
  t.is(reloaded.status, 200);
  t.deepEqual(reloaded.body.applied, ['token', 'readTokens', 'gatewayTokens']);
  t.deepEqual(reloaded.body.restartNeeded, []);
  t.is((await postReload(api, oldToken)).status, 401, 'the old token is gone');
  t.is((await postReload(api, newToken)).status, 200);
});
