import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, request, type IncomingHttpHeaders, type Server } from 'node:http';
import { connect, createServer as createNetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { freePort, parseHostPort, startProcess, type StartedProcess } from '@overlay/common';
import { eventually, OVERLAY, requireCommand, run } from './helpers.js';

// Origin Host and per-site health checks through real processes: manager, back-end and front-end from the
// `overlay` command, origins that have no /healthz, curl as the client.
const TOKEN = 'origin-host-admin-token-0123456789';
const KEY = 'origin-host-tunnel-key-0123456789';
const dir = mkdtempSync(join(tmpdir(), 'overlay-origin-host-'));
const processes: StartedProcess[] = [];
const servers: Server[] = [];
let manager = '';
let frontEnd = '';

/** An origin without /healthz: `/status` answers 204, everything else 200 with the Host it was sent. */
async function startOrigin(): Promise<{ url: string; hosts: string[]; probes: string[]; seen: IncomingHttpHeaders[] }> {
  const hosts: string[] = [];
  const probes: string[] = [];
  const seen: IncomingHttpHeaders[] = [];
  const server = createServer((req, res) => {
    if (req.headers['user-agent'] === 'overlay-backend-health') probes.push(`${req.url} ${req.headers.host}`);
    else {
      hosts.push(req.headers.host ?? '');
      seen.push(req.headers);
    }
    if (req.url === '/status') return void res.writeHead(204).end();
    if (req.url === '/healthz') return void res.writeHead(404, { 'content-type': 'text/plain' }).end('no such page\n');
    res.writeHead(200, { 'content-type': 'text/plain' }).end(`host ${req.headers.host}\n`);
  });
  // An upgrade is answered 101 and closed at once: enough to see what reached the origin.
  server.on('upgrade', (req, socket) => {
    seen.push(req.headers);
    socket.end('HTTP/1.1 101 Switching Protocols\r\nconnection: Upgrade\r\nupgrade: websocket\r\n\r\n');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  servers.push(server);
  return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}`, hosts, probes, seen };
}

const logs: Record<string, any[]> = {};

/** The JSON log lines a process wrote (its stderr), kept per process name. */
async function start(name: string, command: string, config: object): Promise<StartedProcess> {
  const file = join(dir, `${name}.json`);
  writeFileSync(file, JSON.stringify(config));
  logs[name] = [];
  const onStderr = (line: string) => {
    try {
      logs[name]?.push(JSON.parse(line));
    } catch {
      logs[name]?.push({ text: line });
    }
  };
  const started = await startProcess(process.execPath, [OVERLAY, command, '--config', file], { readyTimeoutMs: 30_000, onStderr });
  processes.push(started);
  return started;
}

async function put(path: string, body: unknown): Promise<void> {
  const res = await fetch(`${manager}/v1${path}`, { method: 'PUT', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  if (res.status >= 300) throw new Error(`PUT ${path}: ${res.status} ${await res.text()}`);
}

async function curl(host: string, path = '/', extra: string[] = []): Promise<{ status: number; body: string }> {
  const { stdout } = await run('curl', ['-s', '-o', '-', '-w', '\n%{http_code}', '-H', `host: ${host}`, ...extra, '--max-time', '5', `http://${frontEnd}${path}`]);
  const lines = stdout.split('\n');
  return { status: Number(lines.pop()), body: lines.join('\n') };
}


let checked: Awaited<ReturnType<typeof startOrigin>>;
let unchecked: Awaited<ReturnType<typeof startOrigin>>;

test.before(async () => {
  await requireCommand('curl', 'curl');
  [checked, unchecked] = await Promise.all([startOrigin(), startOrigin()]);
  const m = await start('manager', 'manager', { role: 'both', listen: '127.0.0.1:0', token: TOKEN, dataDir: join(dir, 'data') });
  manager = String(m.ready.url);
  await put('/sites/checked', { domains: ['checked.test'], origins: [{ url: checked.url }], frontEnds: ['pop-a'], backEnds: ['be-1'], healthCheck: { path: '/status', expectStatus: [204], intervalMs: 200 } });
  await put('/sites/unchecked', { domains: ['unchecked.test'], origins: [{ url: unchecked.url }], frontEnds: ['pop-a'], backEnds: ['be-1'] });
  // The back-end's own health defaults (GET /healthz) are quick here, so the site without a check fails fast.
  await start('be-1', 'back-end', {
    id: 'be-1', tunnel: { listen: '127.0.0.1:0', keys: [KEY] }, admin: '127.0.0.1:0',
    state: { health: { intervalMs: 200, timeoutMs: 500, fall: 2, rise: 1 } },
    accessLog: { sample: 0 },
    manager: { url: manager, token: TOKEN },
  });
  const fe = await start('pop-a', 'front-end', { id: 'pop-a', http: { listen: '127.0.0.1:0' }, admin: '127.0.0.1:0', manager: { url: manager, token: TOKEN, tunnelKey: KEY } });
  frontEnd = String(fe.ready.http);
});

test.after.always(async () => {
  for (const started of processes.reverse()) await started.stop();
  for (const server of servers) server.close();
});

test.serial('the origin gets the client\'s Host by default', async (t) => {
  const reply = await eventually('checked.test served', async () => {
    const answer = await curl('checked.test', '/page');
    return answer.status === 200 ? answer : undefined;
  });
  t.is(reply.body.trim(), 'host checked.test');
  t.is(checked.hosts.at(-1), 'checked.test');
});

test.serial('a site whose check says /status → 204 stays up though its origin has no /healthz; one without that check goes 503', async (t) => {
  await eventually('unchecked.test down', async () => ((await curl('unchecked.test')).status === 503 ? true : undefined));
  t.true(unchecked.probes.some((probe) => probe.startsWith('/healthz ')), 'the unchecked origin is probed at the gateway-wide /healthz');
  t.true(checked.probes.length >= 3);
  t.true(checked.probes.every((probe) => probe.startsWith('/status ')), 'the checked origin is probed at its site\'s path only');
  for (let i = 0; i < 5; i++) t.is((await curl('checked.test', `/after-${i}`)).status, 200);
});

test.serial('originHost set through the manager replaces the Host the origin sees, probes included', async (t) => {
  await put('/sites/checked', {
    domains: ['checked.test'], origins: [{ url: checked.url }], frontEnds: ['pop-a'], backEnds: ['be-1'],
    healthCheck: { path: '/status', expectStatus: [204], intervalMs: 200 }, originHost: 'internal.checked.example:8443',
  });
  const reply = await eventually('the new Host in use', async () => {
    const answer = await curl('checked.test', '/vhost');
    return answer.body.trim() === 'host internal.checked.example:8443' ? answer : undefined;
  });
  t.is(reply.status, 200);
  await eventually('a probe with the new Host', async () => (checked.probes.at(-1) === '/status internal.checked.example:8443' ? true : undefined));
  t.pass();
});

test.serial('access logs: one JSON line per request on both gateways with the request id; x-request-id and traceparent reach the origin', async (t) => {
  const trace = '4bf92f3577b34da6a3ce929d0e0e4736';
  const { stdout } = await run('curl', ['-s', '-D', '-', '-o', '/dev/null', '-H', 'host: checked.test', '-H', 'x-request-id: client-chosen-id-42', '-H', `traceparent: 00-${trace}-00f067aa0ba902b7-01`, '--data-binary', 'hello', `http://${frontEnd}/logged?q=1`]);
  t.regex(stdout, /^x-request-id: client-chosen-id-42\r?$/im, 'the client gets its own id back');
  const atOrigin = checked.seen.at(-1) as IncomingHttpHeaders;
  t.is(atOrigin['x-request-id'], 'client-chosen-id-42');
  const parent = /^00-([0-9a-f]{32})-([0-9a-f]{16})-01$/.exec(String(atOrigin.traceparent));
  t.truthy(parent);
  t.is(parent?.[1], trace, 'the trace continues');
  t.not(parent?.[2], '00f067aa0ba902b7', 'with the front-end\'s span as the new parent');
  const line = await eventually('the front-end access line', async () => logs['pop-a']?.find((entry) => entry.msg === 'access' && entry.requestId === 'client-chosen-id-42'));
  t.like(line, { level: 30, client: '127.0.0.1', method: 'POST', host: 'checked.test', path: '/logged?q=1', bytesIn: 5, priority: 2, cache: 'BYPASS', backEnd: 'be-1', origin: new URL(checked.url).host });
  t.true([200, 503].includes(line.status));
  t.true(line.bytesOut > 0);
  t.false(Number.isNaN(Date.parse(line.time)), 'an ISO time');
  t.true(line.durationMs >= 0);
  t.is(line.traceparent, atOrigin.traceparent);
  // Without a client id one is generated, and a fresh trace started.
  const generated = /^x-request-id: ([0-9a-f-]{36})\r?$/im.exec((await run('curl', ['-s', '-D', '-', '-o', '/dev/null', '-H', 'host: checked.test', `http://${frontEnd}/`])).stdout);
  t.truthy(generated);
  t.regex(String(checked.seen.at(-1)?.traceparent), /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
  // The back-end samples nothing (sample: 0) but its error answers: the 503s of the unchecked site.
  const backEndLines = await eventually('back-end access lines', async () => {
    const found = logs['be-1']?.filter((entry) => entry.msg === 'access') ?? [];
    return found.length > 0 ? found : undefined;
  });
  t.true(backEndLines.every((entry) => entry.status >= 500));
  t.like(backEndLines[0], { level: 30, host: 'unchecked.test', frontEnd: 'pop-a', client: '127.0.0.1' });
  t.regex(backEndLines[0].requestId, /^[0-9a-f-]{36}$/);
});

test.serial('a WebSocket upgrade gets a request id too, and leaves an access line when it closes', async (t) => {
  const [host, port] = frontEnd.split(':');
  const answer = await new Promise<IncomingHttpHeaders>((resolve, reject) => {
    const req = request({ host, port: Number(port), path: '/ws', headers: { host: 'checked.test', connection: 'Upgrade', upgrade: 'websocket', 'x-request-id': 'ws-request-7' } });
    req.once('upgrade', (res, socket) => {
      socket.destroy();
      resolve(res.headers);
    });
    req.once('response', (res) => reject(new Error(`no upgrade: ${res.statusCode}`)));
    req.once('error', reject);
    req.end();
  });
  t.is(answer['x-request-id'], 'ws-request-7');
  t.is(checked.seen.at(-1)?.['x-request-id'], 'ws-request-7');
  t.regex(String(checked.seen.at(-1)?.traceparent), /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
  const line = await eventually('the upgrade access line', async () => logs['pop-a']?.find((entry) => entry.msg === 'access' && entry.requestId === 'ws-request-7'));
  t.like(line, { status: 101, path: '/ws', host: 'checked.test', backEnd: 'be-1', cache: 'BYPASS' });
});

test.serial('a check that expects another status takes the site down, and the manager refuses bad checks', async (t) => {
  await put('/sites/checked', { domains: ['checked.test'], origins: [{ url: checked.url }], frontEnds: ['pop-a'], backEnds: ['be-1'], healthCheck: { path: '/status', expectStatus: [200], intervalMs: 200 } });
  await eventually('checked.test down', async () => ((await curl('checked.test')).status === 503 ? true : undefined));
  const bad = await fetch(`${manager}/v1/sites/checked`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ domains: ['checked.test'], origins: [{ url: checked.url }], healthCheck: { path: 'status' } }),
  });
  t.is(bad.status, 400);
  t.regex((await bad.json()).error.message, /^healthCheck\.path: must start with "\/"/);
});

test.serial('answers the front-end gives itself leave access lines too: an unknown site\'s 404 with its request id and bytes', async (t) => {
  const { stdout } = await run('curl', ['-s', '-D', '-', '-o', '/dev/null', '-H', 'host: nobody.test', '-H', 'x-request-id: unknown-site-9', `http://${frontEnd}/where`]);
  t.regex(stdout, /^HTTP\/1\.1 404/);
  const line = await eventually('the 404 access line', async () => logs['pop-a']?.find((entry) => entry.msg === 'access' && entry.requestId === 'unknown-site-9'));
  t.like(line, { status: 404, host: 'nobody.test', path: '/where', method: 'GET', client: '127.0.0.1', bytesIn: 0 });
  t.true(line.bytesOut > 0, 'the error body counted');
  t.is(line.backEnd, undefined);
});

test.serial('a TCP-mode connection leaves one access line when it ends: carried (200) with its bytes and back-end', async (t) => {
  const echo = createNetServer((socket) => socket.pipe(socket));
  await new Promise<void>((resolve) => echo.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => echo.close(() => resolve())));
  const listen = `127.0.0.1:${await freePort()}`;
  await put('/sites/echo', { domains: ['echo.test'], mode: 'tcp', listen, origins: [{ url: `tcp://127.0.0.1:${(echo.address() as { port: number }).port}` }], frontEnds: ['pop-a'], backEnds: ['be-1'] });
  const echoed = await eventually('the TCP site carries bytes', async () => {
    const socket = connect(parseHostPort(listen));
    socket.on('error', () => undefined);
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      if (Buffer.concat(chunks).length >= 11) socket.end();
    });
    socket.write('hello, tcp!');
    await new Promise((resolve) => socket.once('close', resolve));
    return Buffer.concat(chunks).toString() === 'hello, tcp!' ? true : undefined;
  });
  t.true(echoed);
  const line = await eventually('the TCP access line', async () => logs['pop-a']?.find((entry) => entry.msg === 'access' && entry.method === 'TCP' && entry.status === 200));
  t.like(line, { host: 'echo', path: listen, client: '127.0.0.1', bytesIn: 11, bytesOut: 11, backEnd: 'be-1' });
  t.true(line.durationMs >= 0);
});
