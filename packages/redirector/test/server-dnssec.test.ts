/**
 * Online DNSSEC through a validating resolver: unbound, given the zone's DS as trust anchor, asks the
 * redirector and sets `ad` on a steered A answer, on static records, and on the compact denial of a
 * name that does not exist (RFC 9824: NOERROR with an NSEC holding NXNAME).
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import test from 'ava';
import type { RunningRedirector } from '@overlay/redirector';
import { parseDig, requireDig, dig } from './helpers/dig.js';
import { demoState, popAAddresses, popBAddresses } from './helpers/fixture.js';
import { startTestRedirector } from './helpers/server.js';
import { startUnbound, type RunningUnbound } from './helpers/unbound.js';

const run = promisify(execFile);
let dir: string;
let server: RunningRedirector;
let unbound: RunningUnbound;

test.before(async () => {
  await requireDig();
  dir = await mkdtemp(join(tmpdir(), 'overlay-dnssec-'));
  const keyFile = join(dir, 'demo.test.pem');
  await run('openssl', ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', keyFile]);
  const state = demoState();
  const zone = state.zones['demo.test'] as NonNullable<typeof state.zones>[string];
  zone.dnssec = { keyFile };
  zone.records = [
    { name: '@', type: 'TXT', data: 'signed' },
    { name: 'www', type: 'CNAME', data: 'shop.demo.test.' },
  ];
  server = await startTestRedirector(state);
  const [ds] = server.redirector.dsRecords;
  unbound = await startUnbound('demo.test', server.udpPort, ds as string);
});
test.after.always(async () => {
  await unbound?.close();
  await server?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function viaUnbound(args: string[]) {
  const { stdout } = await run('dig', ['@127.0.0.1', '-p', String(unbound.port), '+dnssec', '+tries=2', '+time=5', ...args]);
  return parseDig(stdout);
}

test('the DS for the parent is published: logged, in /healthz, and as CDS/CDNSKEY at the apex', async (t) => {
  const [ds] = server.redirector.dsRecords;
  t.regex(ds as string, /^demo\.test\. IN DS \d+ 13 2 [0-9A-F]{64}$/);
  const health = (await (await fetch(`http://127.0.0.1:${server.adminPort}/healthz`)).json()) as { ds: string[] };
  t.deepEqual(health.ds, [ds]);
  const cds = await dig(server.udpPort, 'udp', ['demo.test', 'CDS', '+dnssec']);
  const [tag, algorithm, digestType, ...digest] = (cds.answer.find((rr) => rr.type === 'CDS')?.data ?? '').split(' ');
  t.is(`demo.test. IN DS ${tag} ${algorithm} ${digestType} ${digest.join('')}`, ds as string);
});

test('a steered A answer validates through unbound (ad)', async (t) => {
  const r = await viaUnbound(['shop.demo.test', 'A']);
  t.is(r.status, 'NOERROR', r.output);
  t.true(r.flags.includes('ad'), r.output);
  const addresses = r.answer.filter((rr) => rr.type === 'A').map((rr) => rr.data);
  t.is(addresses.length, 1);
  t.true([...popAAddresses, ...popBAddresses].includes(addresses[0] as string));
  t.true(r.answer.some((rr) => rr.type === 'RRSIG'));
});

test('a name that does not exist: compact denial validates (ad), NOERROR with NSEC NXNAME', async (t) => {
  const r = await viaUnbound(['nope.demo.test', 'A']);
  t.true(r.flags.includes('ad'), r.output);
  t.true(['NOERROR', 'NXDOMAIN'].includes(r.status), r.status);
  const direct = await dig(server.udpPort, 'udp', ['nope.demo.test', 'A', '+dnssec']);
  t.is(direct.status, 'NOERROR');
  const nsec = direct.authority.find((rr) => rr.type === 'NSEC');
  t.regex(nsec?.data ?? '', /^\\000\.nope\.demo\.test\. RRSIG NSEC (NXNAME|TYPE128)$/);
  const plain = await dig(server.udpPort, 'udp', ['nope.demo.test', 'A']);
  t.is(plain.status, 'NXDOMAIN', 'without DO, the plain NXDOMAIN');
});

test('static records, NODATA and a CNAME chain validate too', async (t) => {
  const txt = await viaUnbound(['demo.test', 'TXT']);
  t.true(txt.flags.includes('ad'), txt.output);
  const nodata = await viaUnbound(['shop.demo.test', 'MX']);
  t.true(nodata.flags.includes('ad'), nodata.output);
  t.is(nodata.answer.length, 0);
  const chain = await viaUnbound(['www.demo.test', 'A']);
  t.true(chain.flags.includes('ad'), chain.output);
  t.true(chain.answer.some((rr) => rr.type === 'CNAME'));
});

test('DNSKEY at the apex is served and signed', async (t) => {
  const r = await viaUnbound(['demo.test', 'DNSKEY']);
  t.true(r.flags.includes('ad'), r.output);
  t.regex(r.answer.find((rr) => rr.type === 'DNSKEY')?.data ?? '', /^257 3 13 /);
});

test('the validation is real: with a wrong trust anchor unbound refuses the same answers (SERVFAIL)', async (t) => {
  const [ds] = server.redirector.dsRecords;
  const wrong = (ds as string).replace(/[0-9A-F](?=[0-9A-F]{63}$)/, (digit) => (digit === '0' ? '1' : '0'));
  const other = await startUnbound('demo.test', server.udpPort, wrong);
  t.teardown(() => other.close());
  const { stdout } = await run('dig', ['@127.0.0.1', '-p', String(other.port), '+dnssec', '+tries=2', '+time=5', 'shop.demo.test', 'A']);
  t.is(parseDig(stdout).status, 'SERVFAIL');
});
