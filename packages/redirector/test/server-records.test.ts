/** Static records of any type beside the steered names, asked by the real dig. */
import test from 'ava';
import type { RunningRedirector } from '@overlay/redirector';
import { redirectorStateSchema } from '@overlay/redirector';
import { dig, requireDig } from './helpers/dig.js';
import { demoState, popBAddresses } from './helpers/fixture.js';
import { startTestRedirector } from './helpers/server.js';

let server: RunningRedirector;

function recordsState(): ReturnType<typeof demoState> {
  const state = demoState();
  const zone = state.zones['demo.test'] as NonNullable<typeof state.zones>[string];
  zone.records = [
    { name: '@', type: 'TXT', data: '"v=spf1 -all" "second string"' },
    { name: '@', type: 'MX', data: '10 mail.demo.test.' },
    { name: '@', type: 'CAA', data: '0 issue "letsencrypt.org"' },
    { name: 'mail', type: 'A', data: '192.0.2.25', ttl: 300 },
    { name: 'www', type: 'CNAME', data: 'shop.demo.test' },
    { name: 'docs.demo.test', type: 'CNAME', data: 'docs.elsewhere.example.' },
    { name: '_sip._tcp', type: 'SRV', data: '10 60 5060 mail.demo.test.' },
    { name: 'shop', type: 'TXT', data: 'steered-site' },
    { name: 'sub', type: 'NS', data: 'ns.sub.demo.test.' },
    { name: 'ns.sub', type: 'A', data: '192.0.2.53' },
    { name: 'opaque', type: 'TYPE65280', data: '\\# 3 abcdef' },
  ];
  return state;
}

test.before(async () => {
  await requireDig();
  server = await startTestRedirector(recordsState());
});
test.after.always(async () => server?.close());

test('TXT, MX and CAA at the apex', async (t) => {
  const txt = await dig(server.udpPort, 'udp', ['demo.test', 'TXT']);
  t.is(txt.status, 'NOERROR');
  t.true(txt.flags.includes('aa'));
  t.deepEqual(txt.answer.map((rr) => rr.data), ['"v=spf1 -all" "second string"']);
  t.is(txt.answer[0]?.ttl, 3600, 'the zone TTL');
  const mx = await dig(server.udpPort, 'udp', ['demo.test', 'MX']);
  t.deepEqual(mx.answer.map((rr) => rr.data), ['10 mail.demo.test.']);
  const caa = await dig(server.tcpPort, 'tcp', ['demo.test', 'CAA']);
  t.deepEqual(caa.answer.map((rr) => rr.data), ['0 issue "letsencrypt.org"']);
  const soa = await dig(server.udpPort, 'udp', ['demo.test', 'SOA']);
  t.is(soa.answer[0]?.type, 'SOA', 'the apex keeps its SOA beside them');
});

test('a CNAME below the apex to a steered name is followed to the chosen front-end', async (t) => {
  const r = await dig(server.udpPort, 'udp', ['www.demo.test', 'A', '+subnet=10.2.0.0/24']);
  t.is(r.status, 'NOERROR');
  t.deepEqual(r.answer.map((rr) => `${rr.name} ${rr.type} ${rr.data}`), ['www.demo.test. CNAME shop.demo.test.', ...popBAddresses.map((a) => `shop.demo.test. A ${a}`)]);
  t.is(r.clientSubnet, '10.2.0.0/24/16', 'the chain depended on the client');
});

test('a CNAME out of our zones is answered alone; asked for CNAME, the CNAME', async (t) => {
  const out = await dig(server.udpPort, 'udp', ['docs.demo.test', 'AAAA']);
  t.deepEqual(out.answer.map((rr) => `${rr.type} ${rr.data}`), ['CNAME docs.elsewhere.example.']);
  const self = await dig(server.udpPort, 'udp', ['www.demo.test', 'CNAME']);
  t.deepEqual(self.answer.map((rr) => `${rr.type} ${rr.data}`), ['CNAME shop.demo.test.']);
});

test('SRV, a generic type, and a TXT beside a steered name', async (t) => {
  const srv = await dig(server.udpPort, 'udp', ['_sip._tcp.demo.test', 'SRV']);
  t.deepEqual(srv.answer.map((rr) => rr.data), ['10 60 5060 mail.demo.test.']);
  const generic = await dig(server.udpPort, 'udp', ['opaque.demo.test', 'TYPE65280']);
  t.deepEqual(generic.answer.map((rr) => rr.data), ['\\# 3 ABCDEF']);
  const txt = await dig(server.udpPort, 'udp', ['shop.demo.test', 'TXT']);
  t.deepEqual(txt.answer.map((rr) => rr.data), ['"steered-site"']);
  const a = await dig(server.udpPort, 'udp', ['shop.demo.test', 'A', '+subnet=10.2.0.0/24']);
  t.deepEqual(a.answer.map((rr) => rr.data), popBAddresses, 'the site is still steered');
});

test('an NS delegation is a referral with glue, not authoritative; names below it are referred too', async (t) => {
  for (const name of ['sub.demo.test', 'www.sub.demo.test']) {
    const r = await dig(server.udpPort, 'udp', [name, 'A']);
    t.is(r.status, 'NOERROR', name);
    t.false(r.flags.includes('aa'), name);
    t.deepEqual(r.answer, [], name);
    t.deepEqual(r.authority.map((rr) => `${rr.name} ${rr.type} ${rr.data}`), ['sub.demo.test. NS ns.sub.demo.test.'], name);
    t.deepEqual(r.additional.map((rr) => `${rr.name} ${rr.type} ${rr.data}`), ['ns.sub.demo.test. A 192.0.2.53'], name);
  }
});

test('records that cannot be: a CNAME at the apex or beside other data, a static A on a steered name, bad data', (t) => {
  const withRecords = (records: unknown[]) => {
    const state = demoState();
    (state.zones['demo.test'] as { records?: unknown[] }).records = records;
    return redirectorStateSchema.safeParse(state);
  };
  t.regex(withRecords([{ name: '@', type: 'CNAME', data: 'x.example.' }]).error?.message ?? '', /no CNAME at the apex/);
  t.regex(withRecords([{ name: 'a', type: 'CNAME', data: 'x.example.' }, { name: 'a', type: 'TXT', data: 'x' }]).error?.message ?? '', /CNAME stands alone/);
  t.regex(withRecords([{ name: 'shop', type: 'A', data: '192.0.2.1' }]).error?.message ?? '', /steered/);
  t.regex(withRecords([{ name: 'a', type: 'MX', data: 'ten mail.example.' }]).error?.message ?? '', /MX preference/);
  t.regex(withRecords([{ name: 'a', type: 'SOA', data: '' }]).error?.message ?? '', /unknown record type|made by the server/);
  t.regex(withRecords([{ name: 'a', type: 'A', data: '2001:db8::1' }]).error?.message ?? '', /not an IPv4 address/);
});

test('a site looks up its assigned back-end at _backend.<domain>: TXT with id and tunnel, A of the tunnel host', async (t) => {
  const state = demoState();
  state.sites = { shop: { domains: ['shop.demo.test'], frontEnds: ['pop-a-1'], backEnds: [{ id: 'be-1', tunnel: '10.9.0.1:7000' }, { id: 'be-2' }] } };
  const assigned = await startTestRedirector(state);
  t.teardown(() => assigned.close());
  const txt = await dig(assigned.udpPort, 'udp', ['_backend.shop.demo.test', 'TXT']);
  t.is(txt.status, 'NOERROR');
  t.deepEqual(txt.answer.map((rr) => rr.data).sort(), ['"id=be-1" "tunnel=10.9.0.1:7000"', '"id=be-2"']);
  t.is(txt.answer[0]?.ttl, 20, 'as short as a site answer: assignments change');
  const a = await dig(assigned.udpPort, 'udp', ['_backend.shop.demo.test', 'A']);
  t.deepEqual(a.answer.map((rr) => rr.data), ['10.9.0.1']);
  const none = await dig(server.udpPort, 'udp', ['_backend.shop.demo.test', 'TXT']);
  t.is(none.status, 'NXDOMAIN', 'no assignment known, no name');
});
