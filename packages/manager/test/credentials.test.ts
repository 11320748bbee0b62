import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { startProcess, type StartedProcess } from '@overlay/common';
import WebSocket from 'ws';
import { eventually, OVERLAY, requireCommand, run } from '../../../test/helpers.js';
import { createTestPki, type TestPki } from '../../../test/pki.js';

// Scoped manager credentials through real processes: `overlay manager` over HTTPS, `overlay back-end` with a
// gateway token, curl for the API, a WebSocket client for the feed.
const OLD_ADMIN = 'admin-token-old-0123456789abcdef';
const NEW_ADMIN = 'admin-token-new-0123456789abcdef';
const READ = 'read-token-0123456789abcdef';
const BE_TOKEN = 'gateway-token-be-1-0123456789abc';
const POP_TOKEN = 'gateway-token-pop-a-0123456789ab';
const KEY = 'credentials-tunnel-key-0123456789';
const SECRETS = [OLD_ADMIN, NEW_ADMIN, READ, BE_TOKEN, POP_TOKEN, KEY];

const dir = mkdtempSync(join(tmpdir(), 'overlay-credentials-'));
const stderr: string[] = [];
const processes: StartedProcess[] = [];
let pki: TestPki;
let manager: StartedProcess;
let url = '';
let admin = '';
let managerFile = '';

function managerConfig(tokens: string[]) {
  return {
    role: 'both', listen: '127.0.0.1:0', admin: '127.0.0.1:0', dataDir: join(dir, 'data'), reportTimeoutMs: 3_000,
    token: tokens, readTokens: [READ], gatewayTokens: { 'be-1': BE_TOKEN, 'pop-a': [POP_TOKEN] },
    tls: { cert: 'manager.pem', key: 'manager.key' },
  };
}

async function start(name: string, command: string, config: object, file = join(dir, `${name}.json`)): Promise<StartedProcess> {
  writeFileSync(file, JSON.stringify(config));
  const started = await startProcess(process.execPath, [OVERLAY, command, '--config', file], { readyTimeoutMs: 30_000, onStderr: (line) => stderr.push(line) });
  processes.push(started);
  return started;
}

/** curl against the HTTPS API, verified with the test CA; returns the status and body. */
async function curl(path: string, token: string | undefined, method = 'GET', body?: unknown): Promise<{ status: number; body: string }> {
  const args = ['-s', '--cacert', pki.ca, '-o', '-', '-w', '\n%{http_code}', '-X', method];
  if (token) args.push('-H', `authorization: Bearer ${token}`);
  if (body !== undefined) args.push('-H', 'content-type: application/json', '--data', JSON.stringify(body));
  const { stdout } = await run('curl', [...args, `${url}${path}`]);
  const lines = stdout.split('\n');
  return { status: Number(lines.pop()), body: lines.join('\n') };
}


test.before(async () => {
  await requireCommand('curl', 'curl');
  pki = await createTestPki('credentials');
  const issued = await pki.issue('manager', ['DNS:manager.test', 'IP:127.0.0.1']);
  // Relative TLS paths in the config resolve against the config file's folder.
  copyFileSync(issued.cert, join(dir, 'manager.pem'));
  copyFileSync(issued.key, join(dir, 'manager.key'));
  managerFile = join(dir, 'manager.json');
  manager = await start('manager', 'manager', managerConfig([OLD_ADMIN, NEW_ADMIN]), managerFile);
  url = String(manager.ready.url);
  const site = await curl('/v1/sites/shop', OLD_ADMIN, 'PUT', { domains: ['shop.cred.test'], origins: [{ url: 'http://127.0.0.1:9' }], frontEnds: ['pop-a'], backEnds: ['be-1'] });
  if (site.status !== 201) throw new Error(`PUT site: ${site.status} ${site.body}`);
  admin = String(manager.ready.admin);
});

test.after.always(async () => {
  await Promise.all(processes.map((child) => child.stop()));
});

test.serial('the API is HTTPS, verified against the CA; both admin tokens of a rotation work at once', async (t) => {
  t.regex(url, /^https:\/\/127\.0\.0\.1:\d+$/);
  t.is((await curl('/v1/sites', OLD_ADMIN)).status, 200);
  t.is((await curl('/v1/sites', NEW_ADMIN)).status, 200);
  t.is((await curl('/v1/sites', undefined)).status, 401);
  t.is((await curl('/v1/sites', 'not-a-token-0123456789abcdef')).status, 401);
  // Without the CA the certificate is not trusted: curl exits 60.
  const untrusted = await run('curl', ['-s', `${url}/v1/health`]).then(() => 0, (err: { code?: number }) => err.code);
  t.is(untrusted, 60);
});

test.serial('a read token reads; a gateway token gets 403 on every API call', async (t) => {
  t.is((await curl('/v1/sites/shop', READ)).status, 200);
  t.is((await curl('/v1/rings', READ, 'PUT', { weights: [1, 1, 1, 1, 1] })).status, 403);
  const gateway = await curl('/v1/sites', BE_TOKEN);
  t.is(gateway.status, 403);
  t.is(JSON.parse(gateway.body).error.code, 'forbidden');
  t.is((await curl('/v1/sites/shop', POP_TOKEN, 'DELETE')).status, 403);
  t.is((await curl('/v1/sites/shop', OLD_ADMIN)).status, 200, 'the site is still there');
});

test.serial('/metrics is on the admin address only, and holds no secret', async (t) => {
  t.is((await curl('/metrics', OLD_ADMIN)).status, 404);
  t.regex(admin, /^127\.0\.0\.1:\d+$/);
  const metrics = await fetch(`http://${admin}/metrics`);
  t.is(metrics.status, 200);
  const text = await metrics.text();
  t.regex(text, /overlay_manager_api_requests_total\{method="GET",status="403"/);
  for (const secret of SECRETS) t.false(text.includes(secret));
});

test.serial('a back-end registers over HTTPS with its own gateway token', async (t) => {
  await start('back-end', 'back-end', {
    id: 'be-1', tunnel: { listen: '127.0.0.1:0', keys: [KEY] }, admin: '127.0.0.1:0',
    manager: { url, token: BE_TOKEN, ca: pki.ca },
  });
  const view = await eventually('be-1 registered and reporting', async () => {
    const answer = JSON.parse((await curl('/v1/back-ends', READ)).body);
    const entry = answer.backEnds['be-1'];
    return entry?.connected && entry.lastReport ? entry : undefined;
  });
  t.true(view.healthy);
  t.regex(view.addresses.tunnel, /^127\.0\.0\.1:\d+$/);
});

/** Opens the feed with `token`, says hello as `id`, and gathers what the manager answers until it closes or 3 s pass. */
async function helloAs(token: string, role: string, id: string): Promise<{ messages: any[]; closeCode: number | undefined }> {
  const ws = new WebSocket(`${url.replace('https:', 'wss:')}/v1/stream`, { headers: { authorization: `Bearer ${token}` }, ca: readFileSync(pki.ca) });
  const messages: any[] = [];
  let closeCode: number | undefined;
  ws.on('message', (data) => messages.push(JSON.parse(data.toString())));
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  ws.send(JSON.stringify({ type: 'hello', role, id, addresses: { tunnel: '10.9.9.9:1' } }));
  await new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, 3_000);
    ws.once('close', (code) => {
      closeCode = code;
      clearTimeout(timer);
      resolve();
    });
  });
  ws.terminate();
  return { messages, closeCode };
}

test.serial('a gateway token cannot register or report as another gateway', async (t) => {
  const impostor = await helloAs(POP_TOKEN, 'back-end', 'be-1');
  t.is(impostor.closeCode, 1008);
  t.like(impostor.messages.find((m) => m.type === 'error'), { code: 'forbidden' });
  const stranger = await helloAs(POP_TOKEN, 'front-end', 'pop-b');
  t.is(stranger.closeCode, 1008);
  const answer = JSON.parse((await curl('/v1/back-ends', READ)).body);
  t.not(answer.backEnds['be-1'].addresses.tunnel, '10.9.9.9:1', 'the real registration is untouched');
  const fronts = JSON.parse((await curl('/v1/front-ends', READ)).body);
  t.false('pop-b' in fronts.frontEnds);
  // Its own id is fine.
  const own = await helloAs(POP_TOKEN, 'front-end', 'pop-a');
  t.is(own.closeCode, undefined);
  t.falsy(own.messages.find((m) => m.type === 'error'));
  t.truthy(own.messages.find((m) => m.type === 'snapshot'));
});

test.serial('rotation: after a reload without the old admin token it is refused, the new one works', async (t) => {
  writeFileSync(managerFile, JSON.stringify(managerConfig([NEW_ADMIN])));
  manager.child.kill('SIGHUP');
  await eventually('the old token refused', async () => ((await curl('/v1/sites', OLD_ADMIN)).status === 401 ? true : undefined));
  t.is((await curl('/v1/sites', NEW_ADMIN)).status, 200);
  t.is((await curl('/v1/back-ends', READ)).status, 200);
});

test.serial('no secret appears in any log line', (t) => {
  t.true(stderr.length > 5);
  for (const secret of SECRETS) t.false(stderr.some((line) => line.includes(secret)), `a log line holds ${secret.slice(0, 12)}…`);
});
