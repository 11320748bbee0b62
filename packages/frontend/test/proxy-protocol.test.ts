import { execFile, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect as http2Connect } from 'node:http2';
import { connect as netConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createDemoPki, decodeProxyHeader, freePort, encodeProxyHeader, ProxyProtocolError, type DemoPki } from '@overlay/common';
import type { FrontEnd } from '@overlay/frontend';
import anyTest, { type TestFn } from 'ava';
import fc from 'fast-check';
import { metricSum, raw, scrape, startTestFrontEnd, waitFor, waitForTunnels } from './support/helpers.js';
import { startProbeOrigin, type ProbeOrigin } from './support/probe-origin.js';
import { startTestBackEnd, TEST_KEY } from './support/test-backend.js';

const run = promisify(execFile);

interface World {
  pki: DemoPki;
  dir: string;
  frontEnd: FrontEnd;
  probe: ProbeOrigin;
  cleanup: Array<() => Promise<void>>;
}
const test = anyTest as TestFn<World>;

const ipv4 = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((parts) => parts.join('.'));
const ipv6 = fc.array(fc.nat(0xffff), { minLength: 8, maxLength: 8 }).map((groups) => groups.map((group) => group.toString(16)).join(':'));
const port = fc.nat(65535);

/** The address as a socket would report it, for comparison (zeros compressed the same way by URL parsing). */
function canonical(address: string): string {
  return address.includes(':') ? new URL(`http://[${address}]/`).hostname.slice(1, -1) : address;
}

test('PROXY codec: v1 and v2, IPv4 and IPv6, round-trip from any split of the bytes', (t) => {
  fc.assert(
    fc.property(fc.constantFrom<1 | 2>(1, 2), fc.oneof(fc.tuple(ipv4, ipv4), fc.tuple(ipv6, ipv6)), port, port, fc.uint8Array({ maxLength: 40 }), (version, [from, to], sourcePort, destinationPort, after) => {
      const header = encodeProxyHeader(version, { address: from, port: sourcePort }, { address: to, port: destinationPort });
      const bytes = Buffer.concat([header, after]);
      for (let cut = 0; cut < header.length; cut++) t.false(decodeProxyHeader(bytes.subarray(0, cut)).done, `needs more at ${cut} bytes`);
      const decoded = decodeProxyHeader(bytes);
      if (!decoded.done || !decoded.header.proxied) return false;
      return decoded.length === header.length && decoded.header.version === version
        && decoded.header.source.address === canonical(from) && decoded.header.source.port === sourcePort
        && decoded.header.destination.address === canonical(to) && decoded.header.destination.port === destinationPort;
    }),
  );
});

test('PROXY codec: LOCAL, UNKNOWN and bad headers', (t) => {
  const local = Buffer.from(encodeProxyHeader(2, { address: '1.2.3.4', port: 1 }, { address: '5.6.7.8', port: 2 }));
  local[12] = 0x20; // LOCAL
  t.deepEqual(decodeProxyHeader(local), { done: true, length: local.length, header: { proxied: false, version: 2 } });
  t.deepEqual(decodeProxyHeader(Buffer.from('PROXY UNKNOWN\r\nGET')), { done: true, length: 15, header: { proxied: false, version: 1 } });
  const bad = ['GET / HTTP/1.1\r\n', 'PROXY TCP4 1.2.3.4 5.6.7.8 99999 80\r\n', 'PROXY TCP4 ::1 5.6.7.8 1 80\r\n', 'PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n', `PROXY ${'x'.repeat(120)}`];
  for (const text of bad) t.throws(() => decodeProxyHeader(Buffer.from(text)), { instanceOf: ProxyProtocolError, code: 'ERR_PROXY_PROTOCOL' }, text);
  const wrongVersion = Buffer.from(local);
  wrongVersion[12] = 0x11;
  t.throws(() => decodeProxyHeader(wrongVersion), { code: 'ERR_PROXY_PROTOCOL' });
});

test.before(async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'fe-proxy-'));
  const pki = await createDemoPki(dir, ['p.test']);
  const probe = await startProbeOrigin();
  const backEnd = await startTestBackEnd('be-1', { p: { origin: probe.url } });
  const frontEnd = await startTestFrontEnd({
    http: { listen: '127.0.0.1:0', closeGraceMs: 200, proxyProtocol: true, headersTimeoutMs: 1_000, requestTimeoutMs: 5_000 },
    https: { listen: '127.0.0.1:0', proxyProtocol: true, certificates: [{ cert: pki.leaves['p.test'].certFile, key: pki.leaves['p.test'].keyFile }] },
    state: {
      backEnds: { 'be-1': { tunnel: backEnd.tunnel, key: TEST_KEY } },
      sites: {
        p: {
          domains: ['p.test'],
          backEnds: ['be-1'],
          priorities: { default: 2, rules: [{ match: { cidr: '10.1.0.0/16' }, priority: 0 }, { match: { cidr: '127.0.0.77/32' }, priority: 1 }] },
        },
      },
    },
  });
  t.context = { pki, dir, frontEnd, probe, cleanup: [() => frontEnd.close(), () => backEnd.close(), () => probe.close(), () => rm(dir, { recursive: true, force: true })] };
  await waitForTunnels(frontEnd, ['be-1']);
});

test.after.always(async (t) => {
  for (const step of t.context.cleanup ?? []) await step();
});

const REQUEST = 'GET /headers HTTP/1.1\r\nHost: p.test\r\nConnection: close\r\n\r\n';

/** The origin's view of the request, from a raw HTTP/1.1 answer (chunked or not). */
function seenBy(text: string): { headers: Record<string, string> } {
  let body = text.slice(text.indexOf('\r\n\r\n') + 4);
  if (/transfer-encoding: chunked/i.test(text.slice(0, text.indexOf('\r\n\r\n')))) {
    let joined = '';
    for (let at = 0; ; ) {
      const eol = body.indexOf('\r\n', at);
      const size = parseInt(body.slice(at, eol), 16);
      if (!size) break;
      joined += body.slice(eol + 2, eol + 2 + size);
      at = eol + 2 + size + 2;
    }
    body = joined;
  }
  return JSON.parse(body) as { headers: Record<string, string> };
}

test.serial('a PROXY v1 or v2 header names the client: the CIDR rule and X-Forwarded-For see it, not the balancer', async (t) => {
  const port = t.context.frontEnd.http.port;
  for (const [version, client] of [[1, '10.1.2.3'], [2, '10.1.9.9'], [2, '2001:db8::7']] as const) {
    const destination = client.includes(':') ? '2001:db8::1' : '10.0.0.1';
    const header = encodeProxyHeader(version, { address: client, port: 40_000 }, { address: destination, port: 80 });
    const text = await raw(port, Buffer.concat([header, Buffer.from(REQUEST)]));
    t.regex(text, /^HTTP\/1\.1 200/);
    t.regex(text, new RegExp(`x-overlay-priority: ${client.startsWith('10.1.') ? 0 : 2}`, 'i'), `v${version} ${client}`);
    t.is(seenBy(text).headers['x-forwarded-for'], client);
  }
});

test.serial('without a valid PROXY header the connection is closed, and counted', async (t) => {
  const port = t.context.frontEnd.http.port;
  t.is(await raw(port, REQUEST), '', 'a plain request on a PROXY listener gets nothing');
  t.is(await raw(port, 'PROXY TCP4 1.2.3.4 nonsense\r\n' + REQUEST), '');
  // A header that never completes: closed after headersTimeoutMs (1 s here).
  const started = Date.now();
  t.is(await raw(port, 'PROXY TCP4 1.2.', () => false, 10_000), '');
  t.true(Date.now() - started >= 900);
  const metrics = await scrape(t.context.frontEnd.admin);
  t.true(metricSum(metrics, 'overlay_frontend_preamble_refusals_total', { code: 'ERR_PROXY_PROTOCOL' }) >= 2);
  t.true(metricSum(metrics, 'overlay_frontend_preamble_refusals_total', { code: 'ERR_PREAMBLE_TIMEOUT' }) >= 1);
  // A LOCAL header (a balancer's health check) is served as the balancer's own connection.
  const local = Buffer.from(encodeProxyHeader(2, { address: '10.1.1.1', port: 1 }, { address: '10.0.0.1', port: 80 }));
  local[12] = 0x20;
  const text = await raw(port, Buffer.concat([local, Buffer.from(REQUEST)]));
  t.regex(text, /x-overlay-priority: 2/i);
});

test.serial('h2c with prior knowledge after a PROXY header', async (t) => {
  // curl cannot send a PROXY header and h2 at once over plain TCP; HAProxy does below. Here: raw bytes.
  const header = encodeProxyHeader(1, { address: '10.1.4.4', port: 1234 }, { address: '10.0.0.1', port: 80 });
  const socket = netConnect({ host: '127.0.0.1', port: t.context.frontEnd.http.port });
  await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
  socket.write(header);
  const session = http2Connect('http://p.test', { createConnection: () => socket });
  t.teardown(() => session.destroy());
  const priority = await new Promise<string>((resolve, reject) => {
    const stream = session.request({ ':path': '/headers', ':authority': 'p.test' });
    stream.on('response', (headers) => resolve(String(headers['x-overlay-priority'])));
    stream.on('error', reject);
    stream.resume();
  });
  t.is(priority, '0');
});

test.serial('HAProxy in TCP mode with send-proxy-v2 in front of the HTTPS listener: the CIDR rule sees the real client', async (t) => {
  await run('haproxy', ['-v']).catch(() => t.fail('haproxy is missing: apt-get install -y haproxy'));
  const listen = await freePort();
  const config = join(t.context.dir, 'haproxy.cfg');
  await writeFile(config, [
    'global', '  maxconn 256',
    'defaults', '  mode tcp', '  timeout connect 5s', '  timeout client 30s', '  timeout server 30s',
    'frontend edge', `  bind 127.0.0.1:${listen}`, '  default_backend overlay',
    // The balancer dials from 127.0.0.1; the client below comes from 127.0.0.77.
    'backend overlay', `  server fe 127.0.0.1:${t.context.frontEnd.https?.port} send-proxy-v2 source 127.0.0.1`,
    '',
  ].join('\n'));
  const haproxy = spawn('haproxy', ['-db', '-f', config], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  haproxy.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  t.teardown(() => void haproxy.kill());
  await waitFor(() => new Promise<boolean>((resolve) => {
    const probe = netConnect({ host: '127.0.0.1', port: listen }, () => resolve(probe.end() !== undefined));
    probe.on('error', () => resolve(false));
  }), `haproxy on ${listen} (${stderr})`, 10_000);

  for (const version of ['--http2', '--http1.1']) {
    const { stdout } = await run('curl', [
      '-sS', version, '--interface', '127.0.0.77', '--cacert', t.context.pki.ca.certFile, '--resolve', `p.test:${listen}:127.0.0.1`,
      '-D', '-', `https://p.test:${listen}/headers`,
    ]);
    t.regex(stdout, /x-overlay-priority: 1/i, `${version}: the 127.0.0.77/32 rule matched`);
    const seen = JSON.parse(stdout.slice(stdout.indexOf('\r\n\r\n') + 4)) as { headers: Record<string, string> };
    t.is(seen.headers['x-forwarded-for'], '127.0.0.77');
    t.is(seen.headers['x-forwarded-proto'], 'https');
  }
});
