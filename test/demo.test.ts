import { spawn } from 'node:child_process';
import { once } from 'node:events';
import test from 'ava';
import { startProcess, type StartedProcess } from '@overlay/common';
import { OVERLAY, requireCommand, run } from './helpers.js';

const BASE = 17_000;
const SITE = 'shop.demo.test';
let demo: StartedProcess;

interface DemoReady {
  manager: string;
  token: string;
  frontEnds: Array<{ id: string; http: string; https: string; admin: string }>;
  backEnds: Array<{ id: string; tunnel: string; admin: string }>;
  dns: string;
  origins: string[];
  sites: string[];
  ca: string;
}

test.before(async () => {
  await requireCommand('curl', 'curl');
  await requireCommand('dig', 'bind9-dnsutils');
  demo = await startProcess(process.execPath, [OVERLAY, 'demo', '--base-port', String(BASE)], { readyTimeoutMs: 60_000 });
});

test.after.always(async () => {
  await demo?.stop();
});

const ready = () => demo.ready as unknown as DemoReady;

/** curl through a front-end address, as a browser would after DNS picked it. */
async function curl(frontEnd: string, path: string, extra: string[] = []): Promise<{ status: number; headers: Record<string, string>; body: string }> {
  const [host, port] = frontEnd.split(':');
  const { stdout } = await run('curl', ['-s', '-i', '--resolve', `${SITE}:${port}:${host}`, ...extra, `http://${SITE}:${port}${path}`], { maxBuffer: 1 << 26 });
  const [head, ...rest] = stdout.split('\r\n\r\n');
  const lines = head.split('\r\n');
  const headers = Object.fromEntries(lines.slice(1).map((line) => [line.slice(0, line.indexOf(':')).toLowerCase(), line.slice(line.indexOf(':') + 1).trim()]));
  return { status: Number(lines[0].split(' ')[1]), headers, body: rest.join('\r\n\r\n') };
}

test('the ready line carries everything the contract names', (t) => {
  const r = ready();
  t.regex(r.manager, /^http:\/\/127\.0\.0\.1:\d+$/);
  t.true(r.token.length >= 16);
  t.deepEqual(r.frontEnds.map((f) => f.id), ['pop-a', 'pop-b']);
  t.deepEqual(r.frontEnds.map((f) => f.http), [`127.0.1.1:${BASE + 20}`, `127.0.1.2:${BASE + 20}`]);
  t.deepEqual(r.frontEnds.map((f) => f.https), [`127.0.1.1:${BASE + 24}`, `127.0.1.2:${BASE + 24}`]);
  t.regex(r.ca, /ca\.pem$/);
  t.is(r.backEnds.length, 1);
  t.regex(r.dns, /^127\.0\.0\.1:\d+$/);
  t.is(r.origins.length, 2);
  t.true(r.sites.includes(SITE));
  t.true(demo.output.some((line) => line.includes('curl')) && demo.output.some((line) => line.includes('dig')));
});

test('curl through each front-end reaches an origin with the overlay headers', async (t) => {
  for (const frontEnd of ready().frontEnds) {
    const response = await curl(frontEnd.http, '/');
    t.is(response.status, 200);
    t.is(response.headers['x-overlay-frontend'], frontEnd.id);
    t.is(response.headers['x-overlay-backend'], 'be-1');
    t.regex(response.headers['x-origin'], /^origin-[12]$/);
    t.regex(response.body, /Overlay demo origin/);
  }
});

test('curl --http2 and --http1.1 over HTTPS through each front-end, verified against the demo CA', async (t) => {
  for (const frontEnd of ready().frontEnds) {
    const [host, port] = frontEnd.https.split(':');
    for (const version of ['--http2', '--http1.1']) {
      const { stdout } = await run('curl', [
        '-sS', version, '--cacert', ready().ca, '--resolve', `${SITE}:${port}:${host}`, '-o', '/dev/null', '-D', '-', '-w', '%{http_version} %{ssl_verify_result}',
        `https://${SITE}:${port}/`,
      ]);
      t.regex(stdout, /^HTTP\/(2|1\.1) 200/);
      t.regex(stdout, new RegExp(`x-overlay-frontend: ${frontEnd.id}`, 'i'));
      t.true(stdout.endsWith(`${version === '--http2' ? '2' : '1.1'} 0`), stdout.slice(-20));
    }
  }
  // The plain listener takes HTTP/2 with prior knowledge too.
  const [host, port] = ready().frontEnds[0].http.split(':');
  const { stdout } = await run('curl', ['-sS', '--http2-prior-knowledge', '--resolve', `${SITE}:${port}:${host}`, '-o', '/dev/null', '-w', '%{http_version} %{http_code}', `http://${SITE}:${port}/`]);
  t.is(stdout, '2 200');
});

test('a 1 MiB body arrives whole, and the second fetch is a cache HIT', async (t) => {
  const frontEnd = ready().frontEnds[1].http;
  const [host, port] = frontEnd.split(':');
  const url = `http://${SITE}:${port}/bytes/1048576`;
  const first = await run('curl', ['-s', '-o', '/dev/null', '-D', '-', '-w', '%{size_download}', '--resolve', `${SITE}:${port}:${host}`, url]);
  t.regex(first.stdout, /x-overlay-cache: MISS/i);
  t.true(first.stdout.trim().endsWith('1048576'));
  const second = await run('curl', ['-s', '-o', '/dev/null', '-D', '-', '--resolve', `${SITE}:${port}:${host}`, url]);
  t.regex(second.stdout, /x-overlay-cache: HIT/i);
});

test('the redirector sends subnet 10.1/16 to pop-a and 10.2/16 to pop-b', async (t) => {
  const [host, port] = ready().dns.split(':');
  const ask = async (subnet: string) => (await run('dig', [`@${host}`, '-p', port, SITE, 'A', `+subnet=${subnet}`, '+short'])).stdout.trim();
  t.is(await ask('10.1.0.0/16'), '127.0.1.1');
  t.is(await ask('10.2.0.0/16'), '127.0.1.2');
  const { stdout } = await run('dig', [`@${host}`, '-p', port, SITE, 'A', '+norec']);
  t.regex(stdout, /flags: qr aa/);
});

test('a priority rule changed through the API with curl changes x-overlay-priority on the next request', async (t) => {
  const { manager, token, frontEnds } = ready();
  const before = await curl(frontEnds[0].http, '/slow/1');
  t.is(before.headers['x-overlay-priority'], '2');
  const body = JSON.stringify({ default: 2, rules: [{ match: { pathPrefix: '/slow/' }, priority: 0 }] });
  const { stdout } = await run('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', '-X', 'PUT', '-H', `Authorization: Bearer ${token}`, '-H', 'content-type: application/json', '--data', body, `${manager}/v1/sites/${SITE}/priorities`]);
  t.is(stdout, '200');
  const deadline = Date.now() + 1_000;
  let priority = '';
  while (Date.now() < deadline) {
    priority = (await curl(frontEnds[0].http, '/slow/1')).headers['x-overlay-priority'];
    if (priority === '0') break;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  t.is(priority, '0', 'the new rule was not applied within 1 s');
});

test('the manager lists both front-ends as registered and reporting', async (t) => {
  const { manager, token } = ready();
  const response = await fetch(`${manager}/v1/front-ends`, { headers: { authorization: `Bearer ${token}` } });
  t.is(response.status, 200);
  const text = JSON.stringify(await response.json());
  t.regex(text, /pop-a/);
  t.regex(text, /pop-b/);
  t.is((await fetch(`${manager}/v1/front-ends`)).status, 401);
});

test.serial('SIGTERM stops every process of the demo', async (t) => {
  const second = spawn(process.execPath, [OVERLAY, 'demo', '--base-port', String(BASE + 100)], { stdio: ['ignore', 'pipe', 'ignore'] });
  let out = '';
  second.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  while (!out.includes('"msg":"ready"')) await once(second.stdout, 'data');
  const children = (await run('pgrep', ['-P', String(second.pid)])).stdout.trim().split('\n').filter(Boolean);
  t.is(children.length, 5, 'manager, back-end, two front-ends, redirector');
  second.kill('SIGTERM');
  const [code] = (await once(second, 'exit')) as [number];
  t.is(code, 0);
  for (const pid of children) t.throws(() => process.kill(Number(pid), 0), undefined, `process ${pid} still running`);
});
