import { mkdtempSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import type { StartedProcess } from '@overlay/common';
import { eventually, requireCommand, run, startOverlay } from './helpers.js';

// Seed 001, freshest mirror first, through real processes: manager, back-end and front-end from the
// `overlay` command, two origins of one site whose probe answers carry different Last-Modified dates.
const TOKEN = 'freshest-mirror-admin-token-0123456789';
const KEY = 'freshest-mirror-tunnel-key-0123456789';
const dir = mkdtempSync(join(tmpdir(), 'overlay-freshest-'));
const processes: StartedProcess[] = [];
let manager = '';
let frontEnd = '';

interface Mirror {
  url: string;
  server: Server;
  /** Probes the back-end sent here. */
  probes: number;
}

/** An origin whose `/status` answers 200 with `lastModified`; every other path answers its `name`. */
async function startMirror(name: string, lastModified: Date): Promise<Mirror> {
  const mirror = { url: '', server: createServer(), probes: 0 };
  mirror.server.on('request', (req, res) => {
    if (req.url !== '/status') return void res.writeHead(200, { 'content-type': 'text/plain' }).end(name);
    mirror.probes++;
    res.writeHead(200, { 'last-modified': lastModified.toUTCString() }).end();
  });
  await new Promise<void>((resolve) => mirror.server.listen(0, '127.0.0.1', resolve));
  mirror.url = `http://127.0.0.1:${(mirror.server.address() as { port: number }).port}`;
  return mirror;
}

const start = (name: string, command: string, config: object) => startOverlay(dir, processes, name, command, config);

function putSite(body: object): Promise<Response> {
  return fetch(`${manager}/v1/sites/news`, { method: 'PUT', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
}

/** Who served `count` requests in a row, one at a time, or `status N` for a failure. */
async function servedBy(count: number): Promise<string[]> {
  const served: string[] = [];
  for (let i = 0; i < count; i++) {
    const { stdout } = await run('curl', ['-s', '-w', ' %{http_code}', '-H', 'host: news.test', '--max-time', '5', `http://${frontEnd}/story-${i}`]);
    const [body, status] = stdout.split(' ');
    served.push(status === '200' ? body : `status ${status}`);
  }
  return served;
}

let fresh: Mirror;
let stale: Mirror;
const site = (maxLagS?: number) => ({
  domains: ['news.test'], frontEnds: ['pop-a'], backEnds: ['be-1'],
  origins: [{ url: stale.url }, { url: fresh.url }],
  healthCheck: { path: '/status', intervalMs: 200, freshness: { header: 'Last-Modified', ...(maxLagS === undefined ? {} : { maxLagS }) } },
});

test.before(async () => {
  await requireCommand('curl', 'curl');
  const now = Date.now();
  // The stale mirror's content is an hour behind: far beyond the default maxLagS of 60 s.
  [fresh, stale] = await Promise.all([startMirror('fresh', new Date(now)), startMirror('stale', new Date(now - 3_600_000))]);
  const m = await start('manager', 'manager', { role: 'both', listen: '127.0.0.1:0', token: TOKEN, dataDir: join(dir, 'data') });
  manager = String(m.ready.url);
  const put = await putSite(site());
  if (put.status >= 300) throw new Error(`PUT /v1/sites/news: ${put.status} ${await put.text()}`);
  await start('be-1', 'back-end', {
    id: 'be-1', tunnel: { listen: '127.0.0.1:0', keys: [KEY] }, admin: '127.0.0.1:0',
    state: { health: { fall: 2, rise: 1 } }, accessLog: { sample: 0 },
    manager: { url: manager, token: TOKEN },
  });
  const fe = await start('pop-a', 'front-end', { id: 'pop-a', http: { listen: '127.0.0.1:0' }, admin: '127.0.0.1:0', manager: { url: manager, token: TOKEN, tunnelKey: KEY } });
  frontEnd = String(fe.ready.http);
});

test.after.always(async () => {
  for (const started of processes.reverse()) await started.stop();
  for (const server of [fresh?.server, stale?.server]) server?.close();
});

test.serial('requests go to the mirror with the freshest Last-Modified', async (t) => {
  await eventually('news.test served', async () => ((await servedBy(1))[0]?.startsWith('status') ? undefined : true));
  // A second probe at each mirror means the first answer, and its Last-Modified, has been read.
  await eventually('two probes at each mirror', async () => (fresh.probes >= 2 && stale.probes >= 2 ? true : undefined));
  t.deepEqual(await servedBy(10), Array(10).fill('fresh'));
});

test.serial('a maxLagS set through the manager that covers the hour makes the mirrors equal again', async (t) => {
  t.is((await putSite(site(7_200))).status, 200);
  const both = await eventually('both mirrors serving', async () => {
    const served = await servedBy(6);
    return served.includes('fresh') && served.includes('stale') ? served : undefined;
  });
  t.false(both.some((who) => who.startsWith('status')));
  t.is((await putSite(site())).status, 200);
  await eventually('back to the fresh mirror only', async () => ((await servedBy(6)).every((who) => who === 'fresh') ? true : undefined));
});

test.serial('the manager refuses a bad freshness setting, naming the field', async (t) => {
  const bad = await putSite({ ...site(), healthCheck: { path: '/status', freshness: { header: 'last modified' } } });
  t.is(bad.status, 400);
  t.regex((await bad.json()).error.message, /^healthCheck\.freshness\.header: must be an HTTP header name/);
  const badLag = await putSite({ ...site(), healthCheck: { path: '/status', freshness: { header: 'x-version', maxLagS: -5 } } });
  t.is(badLag.status, 400);
  t.regex((await badLag.json()).error.message, /^healthCheck\.freshness\.maxLagS: /);
});

test.serial('when the fresh mirror goes down, the stale one serves', async (t) => {
  fresh.server.close();
  fresh.server.closeAllConnections();
  const served = await eventually('the stale mirror serving', async () => {
    const answers = await servedBy(5);
    return answers.every((who) => who === 'stale') ? answers : undefined;
  });
  t.deepEqual(served, Array(5).fill('stale'));
});
