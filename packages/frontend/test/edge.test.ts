import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { copyFile, mkdtemp, rm } from 'node:fs/promises';
import { connect as http2Connect } from 'node:http2';
import { connect as netConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { promisify } from 'node:util';
import { createDemoPki, type DemoPki } from '@overlay/common';
import { frontEndConfigSchema, type FrontEnd } from '@overlay/frontend';
import anyTest, { type TestFn } from 'ava';
import { metricSum, scrape, startTestFrontEnd, waitForTunnels } from './support/helpers.js';
import { startProbeOrigin, type ProbeOrigin } from './support/probe-origin.js';
import { startTestBackEnd, TEST_KEY } from './support/test-backend.js';

const run = promisify(execFile);

interface World {
  dir: string;
  pki: DemoPki;
  /** Where the configured certificate for a.test is read from (a reload reads it again). */
  aCert: { cert: string; key: string };
  frontEnd: FrontEnd;
  probe: ProbeOrigin;
  backEndTunnel: string;
  cleanup: Array<() => Promise<void>>;
}
const test = anyTest as TestFn<World>;

/** a.test from the config's files; b.test's own certificate arrives with the site in the live state. */
function httpsOf(world: Pick<World, 'aCert'>) {
  return { listen: '127.0.0.1:0', certificates: [world.aCert] };
}

function stateOf(world: Pick<World, 'pki' | 'backEndTunnel'>, withCertificate = true) {
  const b = world.pki.leaves['b.test'];
  return {
    backEnds: { 'be-1': { tunnel: world.backEndTunnel, key: TEST_KEY } },
    sites: {
      a: { domains: ['a.test'], backEnds: ['be-1'] },
      b: { domains: ['b.test'], backEnds: ['be-1'], ...(withCertificate ? { certificate: { cert: b.cert, key: b.key } } : {}) },
    },
  };
}

test.before(async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'fe-edge-'));
  const pki = await createDemoPki(dir, ['a.test', 'b.test', 'a.test']);
  const aCert = { cert: join(dir, 'a-served.pem'), key: join(dir, 'a-served.key') };
  // leaves['a.test'] is the second one made for a.test (site-2): the first (site-0) is served at start.
  await copyFile(join(dir, 'site-0.pem'), aCert.cert);
  await copyFile(join(dir, 'site-0.key'), aCert.key);
  const probe = await startProbeOrigin();
  const backEnd = await startTestBackEnd('be-1', { a: { origin: probe.url }, b: { origin: probe.url } });
  const frontEnd = await startTestFrontEnd({ https: httpsOf({ aCert }), state: stateOf({ pki, backEndTunnel: backEnd.tunnel }) });
  t.context = { dir, pki, aCert, frontEnd, probe, backEndTunnel: backEnd.tunnel, cleanup: [() => frontEnd.close(), () => backEnd.close(), () => probe.close(), () => rm(dir, { recursive: true, force: true })] };
  await waitForTunnels(frontEnd, ['be-1']);
});

test.after.always(async (t) => {
  for (const step of t.context.cleanup ?? []) await step();
});

/** curl over TLS to `name` on the front-end's HTTPS port, trusting only the demo CA; the head and body apart. */
async function curlHttps(world: World, name: string, args: string[], path = '/headers') {
  const port = world.frontEnd.https?.port;
  const { stdout } = await run('curl', [
    '-sS', '--cacert', world.pki.ca.certFile, '--resolve', `${name}:${port}:127.0.0.1`, '-D', '-', '-w', '\n%{http_version} %{ssl_verify_result}', ...args, `https://${name}:${port}${path}`,
  ]);
  const [head, rest] = [stdout.slice(0, stdout.indexOf('\r\n\r\n')), stdout.slice(stdout.indexOf('\r\n\r\n') + 4)];
  const lastLine = rest.slice(rest.lastIndexOf('\n') + 1).split(' ');
  return { head, body: rest.slice(0, rest.lastIndexOf('\n')), httpVersion: lastLine[0], verify: lastLine[1] };
}

/** The certificate the HTTPS listener serves for an SNI name (a real TLS client, verifying against the CA). */
function servedCertificate(world: World, servername: string): Promise<{ serial: string; subject: string }> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ host: '127.0.0.1', port: world.frontEnd.https?.port, servername, ca: world.pki.ca.cert, ALPNProtocols: ['http/1.1'] }, () => {
      const peer = socket.getPeerCertificate();
      resolve({ serial: peer.serialNumber, subject: String(peer.subject.CN) });
      socket.end();
    });
    socket.on('error', reject);
  });
}

for (const version of ['--http2', '--http1.1']) {
  test.serial(`curl ${version} over TLS: each site's own certificate by SNI, verified against the demo CA`, async (t) => {
    for (const name of ['a.test', 'b.test']) {
      const reply = await curlHttps(t.context, name, [version]);
      t.is(reply.verify, '0', `${name}: certificate verified`);
      t.is(reply.httpVersion, version === '--http2' ? '2' : '1.1');
      t.regex(reply.head, /^HTTP\/(2|1\.1) 200/);
      t.regex(reply.head, /x-overlay-backend: be-1/i);
      const seen = JSON.parse(reply.body) as { headers: Record<string, string> };
      t.is(seen.headers['x-forwarded-proto'], 'https');
      t.is(seen.headers.forwarded, `for=127.0.0.1;host="${name}:${t.context.frontEnd.https?.port}";proto=https`);
      t.is(seen.headers['x-forwarded-host'], `${name}:${t.context.frontEnd.https?.port}`);
      t.false(Object.keys(seen.headers).some((field) => field.startsWith(':')), 'no pseudo-header reaches the origin');
    }
    const a = await servedCertificate(t.context, 'a.test');
    const b = await servedCertificate(t.context, 'b.test');
    t.is(a.subject, 'a.test');
    t.is(b.subject, 'b.test');
  });
}

test.serial('curl --http2-prior-knowledge on the plain listener, and HTTP/1.1 on the same port', async (t) => {
  const port = t.context.frontEnd.http.port;
  const h2 = await run('curl', ['-sS', '--http2-prior-knowledge', '-o', '/dev/null', '-D', '-', '-w', '%{http_version}', '-H', 'host: a.test', `http://127.0.0.1:${port}/headers`]);
  t.regex(h2.stdout, /^HTTP\/2 200/);
  t.true(h2.stdout.endsWith('2'));
  const h1 = await run('curl', ['-sS', '-o', '/dev/null', '-w', '%{http_version} %{http_code}', '-H', 'host: a.test', `http://127.0.0.1:${port}/headers`]);
  t.is(h1.stdout, '1.1 200');
  const seen = t.context.probe.seen.at(-1);
  t.is(seen?.headers['x-forwarded-proto'], 'http');
});

test.serial('HTTP/2 streams on one connection: many requests at once, a POST body, a 404 for an unknown site', async (t) => {
  const client = http2Connect(`http://127.0.0.1:${t.context.frontEnd.http.port}`);
  t.teardown(() => client.close());
  const ask = (headers: Record<string, string>, body?: string) => new Promise<{ status: number; body: string; headers: Record<string, unknown> }>((resolve, reject) => {
    const stream = client.request(headers);
    let text = '';
    let response: Record<string, unknown> = {};
    stream.on('response', (h) => (response = h));
    stream.on('data', (chunk: Buffer) => (text += chunk.toString()));
    stream.on('end', () => resolve({ status: Number(response[':status']), body: text, headers: response }));
    stream.on('error', reject);
    stream.end(body);
  });
  const replies = await Promise.all(Array.from({ length: 20 }, (_, i) => ask({ ':path': `/slow/${20 + i}`, ':authority': 'a.test' })));
  t.true(replies.every((reply) => reply.status === 200 && reply.headers['x-overlay-frontend'] === 'fe-test'));
  const upload = await ask({ ':path': '/upload', ':method': 'POST', ':authority': 'b.test' }, 'x'.repeat(100_000));
  t.is(upload.status, 200);
  t.regex(upload.body, /100000/);
  const unknown = await ask({ ':path': '/', ':authority': 'nowhere.test' });
  t.is(unknown.status, 404);
  t.is(unknown.headers['x-overlay-error'], 'ERR_UNKNOWN_SITE');
});

test.serial('garbage on either listener, a broken HTTP/2 session and a failed handshake end only that connection', async (t) => {
  const { frontEnd } = t.context;
  const send = (port: number, bytes: Buffer) => new Promise<void>((resolve) => {
    const socket = netConnect({ host: '127.0.0.1', port }, () => socket.end(bytes));
    socket.on('error', () => resolve());
    socket.on('close', () => resolve());
    socket.resume();
  });
  // Not a ClientHello; a ClientHello cut short; an h2 preface followed by a frame that is no frame.
  await send(frontEnd.https?.port as number, Buffer.from('GET / HTTP/1.1\r\nHost: a.test\r\n\r\n'));
  await send(frontEnd.https?.port as number, Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01]));
  await send(frontEnd.http.port, Buffer.concat([Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'), Buffer.alloc(64, 0xff)]));
  const reply = await curlHttps(t.context, 'a.test', ['--http2']);
  t.is(reply.httpVersion, '2', 'the front-end still serves');
  const metrics = await scrape(frontEnd.admin);
  t.true(metricSum(metrics, 'overlay_frontend_tls_errors_total') >= 1);
});

test.serial('TLS: 1.3 by default, 1.2 accepted, sessions resume with a ticket', async (t) => {
  const port = t.context.frontEnd.https?.port;
  const tls12 = await run('curl', ['-sS', '-o', '/dev/null', '--tlsv1.2', '--tls-max', '1.2', '--cacert', t.context.pki.ca.certFile, '--resolve', `a.test:${port}:127.0.0.1`, '-w', '%{http_code}', `https://a.test:${port}/headers`]);
  t.is(tls12.stdout, '200');
  const session = await new Promise<Buffer>((resolve, reject) => {
    const socket = tlsConnect({ host: '127.0.0.1', port, servername: 'a.test', ca: t.context.pki.ca.cert }, () => t.is(socket.getProtocol(), 'TLSv1.3'));
    socket.once('session', (ticket: Buffer) => {
      resolve(ticket);
      socket.end();
    });
    socket.on('error', reject);
  });
  const resumed = await new Promise<boolean>((resolve, reject) => {
    const socket = tlsConnect({ host: '127.0.0.1', port, servername: 'a.test', ca: t.context.pki.ca.cert, session }, () => {
      resolve(socket.isSessionReused());
      socket.end();
    });
    socket.on('error', reject);
  });
  t.true(resumed, 'the second handshake resumed the first session');
  const metrics = await scrape(t.context.frontEnd.admin);
  t.true(metricSum(metrics, 'overlay_frontend_tls_handshakes_total', { resumed: 'true' }) >= 1);
});

test.serial('a reload serves the renewed certificate file from the next handshake on; a bad file is refused and the old one stays', async (t) => {
  const before = await servedCertificate(t.context, 'a.test');
  // The third leaf in the PKI is a second certificate for a.test: "renewed" in place.
  await copyFile(join(t.context.dir, 'site-2.pem'), t.context.aCert.cert);
  await copyFile(join(t.context.dir, 'site-2.key'), t.context.aCert.key);
  const config = frontEndConfigSchema.parse({ id: 'fe-test', http: { listen: '127.0.0.1:0', closeGraceMs: 200 }, admin: '127.0.0.1:0', https: httpsOf(t.context), state: stateOf(t.context) });
  const outcome = await t.context.frontEnd.reload(config);
  t.true(outcome.applied.includes('https.certificates'));
  const after = await servedCertificate(t.context, 'a.test');
  t.not(after.serial, before.serial);
  t.is(after.serial, new X509Certificate(t.context.pki.leaves['a.test'].cert).serialNumber);

  // A key that does not match: the reload is refused and the renewed certificate stays in service.
  await copyFile(t.context.pki.leaves['b.test'].keyFile, t.context.aCert.key);
  const error = await t.throwsAsync(t.context.frontEnd.reload(config));
  t.regex(error?.message ?? '', /https\.certificates\.0.*does not match/);
  t.is((await servedCertificate(t.context, 'a.test')).serial, after.serial);
  await copyFile(join(t.context.dir, 'site-2.key'), t.context.aCert.key);
});

test.serial('a site certificate from the live state is replaced by update(), without a restart', async (t) => {
  const before = await servedCertificate(t.context, 'b.test');
  t.is(before.subject, 'b.test');
  // b.test without its own certificate falls back to the configured one (a.test's): the name no longer verifies.
  await t.context.frontEnd.update(stateOf(t.context, false));
  await t.throwsAsync(servedCertificate(t.context, 'b.test'), { message: /b\.test/ });
  await t.context.frontEnd.update(stateOf(t.context));
  t.is((await servedCertificate(t.context, 'b.test')).subject, 'b.test');
});
