/** Every answer kind, asked by the real dig over UDP and over TCP. */
import test from 'ava';
import type { RunningRedirector } from '@overlay/redirector';
import { dig, requireDig, type DigResult, type Transport } from './helpers/dig.js';
import { popAAddresses, popBAddresses } from './helpers/fixture.js';
import { startTestRedirector } from './helpers/server.js';

let server: RunningRedirector;

test.before(async () => {
  await requireDig();
  server = await startTestRedirector();
});
test.after.always(async () => server?.close());

const transports: Transport[] = ['udp', 'tcp'];

interface Case {
  title: string;
  args: string[];
  check: (t: import('ava').ExecutionContext, result: DigResult) => void;
}

const cases: Case[] = [
  {
    title: 'SOA at the apex, authoritative',
    args: ['demo.test', 'SOA'],
    check: (t, r) => {
      t.is(r.status, 'NOERROR');
      t.true(r.flags.includes('aa'));
      t.is(r.answer.length, 1);
      t.is(r.answer[0]?.type, 'SOA');
      t.is(r.answer[0]?.data, 'ns1.demo.test. dns-admin.demo.test. 2024010101 3600 600 86400 60');
    },
  },
  {
    title: 'NS at the apex with glue for the in-zone name server only',
    args: ['demo.test', 'NS'],
    check: (t, r) => {
      t.is(r.status, 'NOERROR');
      t.true(r.flags.includes('aa'));
      t.deepEqual(r.answer.map((rr) => rr.data).sort(), ['ns.elsewhere.example.', 'ns1.demo.test.']);
      const glue = r.additional.map((rr) => `${rr.name} ${rr.type} ${rr.data}`).sort();
      t.deepEqual(glue, ['ns1.demo.test. A 127.0.0.1', 'ns1.demo.test. AAAA ::1']);
    },
  },
  {
    title: 'A for the in-zone name server host',
    args: ['ns1.demo.test', 'A'],
    check: (t, r) => {
      t.is(r.status, 'NOERROR');
      t.deepEqual(r.answer.map((rr) => rr.data), ['127.0.0.1']);
    },
  },
  {
    title: 'A for a site from 10.1/16 (ECS): a pop-a front-end, scope = the /16 entry, TTL 20',
    args: ['shop.demo.test', 'A', '+subnet=10.1.2.0/24'],
    check: (t, r) => {
      t.is(r.status, 'NOERROR');
      t.true(r.flags.includes('aa'));
      t.is(r.answer.length, 1);
      t.true(popAAddresses.includes(r.answer[0]?.data as string), r.output);
      t.is(r.answer[0]?.ttl, 20);
      t.is(r.clientSubnet, '10.1.2.0/24/16');
    },
  },
  {
    title: 'A for a site from 10.2/16 (ECS): the pop-b front-end',
    args: ['shop.demo.test', 'A', '+subnet=10.2.3.0/24'],
    check: (t, r) => {
      t.deepEqual(r.answer.map((rr) => rr.data), popBAddresses);
      t.is(r.clientSubnet, '10.2.3.0/24/16');
    },
  },
  {
    title: 'AAAA for a site: only front-ends with IPv6 addresses',
    args: ['shop.demo.test', 'AAAA', '+subnet=10.2.0.0/24'],
    check: (t, r) => {
      t.is(r.status, 'NOERROR');
      t.deepEqual(r.answer.map((rr) => `${rr.type} ${rr.data}`), ['AAAA 2001:db8:b::1']);
    },
  },
  {
    title: 'AAAA from pop-a prefers the pop-a front-end that has IPv6',
    args: ['shop.demo.test', 'AAAA', '+subnet=10.1.9.0/24'],
    check: (t, r) => t.deepEqual(r.answer.map((rr) => rr.data), ['2001:db8:a::1']),
  },
  {
    title: 'NXDOMAIN with the SOA in authority (negative TTL = answer TTL, under the SOA minimum)',
    args: ['nope.demo.test', 'A'],
    check: (t, r) => {
      t.is(r.status, 'NXDOMAIN');
      t.true(r.flags.includes('aa'));
      t.is(r.answer.length, 0);
      t.is(r.authority[0]?.type, 'SOA');
      t.is(r.authority[0]?.ttl, 20);
    },
  },
  {
    title: 'NODATA for a missing type: NOERROR, no answer, SOA in authority',
    args: ['shop.demo.test', 'MX'],
    check: (t, r) => {
      t.is(r.status, 'NOERROR');
      t.is(r.answer.length, 0);
      t.is(r.authority[0]?.type, 'SOA');
    },
  },
  {
    title: 'NODATA (not NXDOMAIN) for an empty non-terminal above a site name',
    args: ['api.demo.test', 'A'],
    check: (t, r) => {
      t.is(r.status, 'NOERROR');
      t.is(r.answer.length, 0);
      t.is(r.authority[0]?.type, 'SOA');
    },
  },
  {
    title: 'NXDOMAIN below a site name',
    args: ['www.shop.demo.test', 'A'],
    check: (t, r) => t.is(r.status, 'NXDOMAIN'),
  },
  {
    title: 'REFUSED outside every zone, not authoritative',
    args: ['www.example.com', 'A'],
    check: (t, r) => {
      t.is(r.status, 'REFUSED');
      t.false(r.flags.includes('aa'));
    },
  },
  {
    title: 'FORMERR for a query without a question, OPT still echoed',
    args: ['demo.test', '+header-only'],
    check: (t, r) => {
      t.is(r.status, 'FORMERR');
      t.is(r.edns?.version, 0);
    },
  },
  {
    title: 'NOTIMP for an unsupported opcode (STATUS)',
    args: ['demo.test', '+opcode=2'],
    check: (t, r) => {
      t.is(r.opcode, 'STATUS');
      t.is(r.status, 'NOTIMP');
    },
  },
  {
    title: 'BADVERS for EDNS version 1',
    args: ['demo.test', 'SOA', '+edns=1', '+noednsnegotiation'],
    check: (t, r) => {
      t.is(r.status, 'BADVERS');
      t.is(r.edns?.version, 0);
    },
  },
  {
    title: 'EDNS: OPT echoed, advertising our 1232-byte cap whatever the client offers',
    args: ['demo.test', 'SOA', '+bufsize=4096'],
    check: (t, r) => t.deepEqual(r.edns, { version: 0, udp: 1232 }),
  },
  {
    title: 'no EDNS in the query, none in the answer',
    args: ['demo.test', 'SOA', '+noedns'],
    check: (t, r) => {
      t.is(r.status, 'NOERROR');
      t.is(r.edns, undefined);
    },
  },
  {
    title: 'names match case-insensitively',
    args: ['ShOp.DeMo.TeSt', 'A', '+subnet=10.2.0.0/16'],
    check: (t, r) => t.deepEqual(r.answer.map((rr) => rr.data), popBAddresses),
  },
  {
    title: 'ECS source /0 (client withheld): scope 0',
    args: ['shop.demo.test', 'A', '+subnet=0.0.0.0/0'],
    check: (t, r) => {
      t.is(r.answer.length, 1);
      t.is(r.clientSubnet, '0.0.0.0/0/0');
    },
  },
  {
    title: 'IPv6 ECS /56 (the prefix dns2 misreads) is understood and echoed',
    args: ['shop.demo.test', 'A', '+subnet=2001:db8:1234:5600::/56', '+nocookie'],
    check: (t, r) => {
      t.is(r.status, 'NOERROR');
      t.is(r.clientSubnet, '2001:db8:1234:5600::/56/0');
    },
  },
  {
    title: 'ANY gets the RFC 8482 minimal answer: one synthesized HINFO',
    args: ['shop.demo.test', 'ANY', '+subnet=10.2.0.0/24'],
    check: (t, r) => {
      t.is(r.status, 'NOERROR');
      t.deepEqual(r.answer.map((rr) => `${rr.type} ${rr.data}`), ['HINFO "RFC8482" ""']);
    },
  },
  {
    title: 'DO is copied into the OPT record (RFC 3225 §3)',
    args: ['shop.demo.test', 'A', '+dnssec'],
    check: (t, r) => {
      t.is(r.status, 'NOERROR');
      t.regex(r.output, /; EDNS: version: 0, flags: do;/);
    },
  },
  {
    title: 'without DO, no DO in the response',
    args: ['shop.demo.test', 'A'],
    check: (t, r) => t.regex(r.output, /; EDNS: version: 0, flags:;/),
  },
  {
    title: 'QCLASS ANY is answered from class IN',
    args: ['-q', 'shop.demo.test', '-c', 'ANY', '-t', 'A', '+subnet=10.2.0.0/24'],
    check: (t, r) => {
      t.is(r.status, 'NOERROR');
      t.deepEqual(r.answer.map((rr) => rr.data), popBAddresses);
    },
  },
  {
    title: 'a dot inside a label (RFC 2181 §11) names nothing here: NXDOMAIN, as NSD says',
    args: ['shop\\.x.demo.test', 'A'],
    check: (t, r) => {
      t.is(r.status, 'NXDOMAIN');
      t.regex(r.output, /shop\\\.x\.demo\.test\.\s+IN\s+A/);
    },
  },
];

for (const { title, args, check } of cases) {
  for (const transport of transports) {
    test(`${title} [${transport}]`, async (t) => {
      check(t, await dig(server.udpPort, transport, args));
    });
  }
}

test('without ECS the packet source locates the client (loopback: no table entry, any healthy front-end)', async (t) => {
  const result = await dig(server.udpPort, 'udp', ['shop.demo.test', 'A']);
  t.is(result.answer.length, 1);
  t.true([...popAAddresses, ...popBAddresses].includes(result.answer[0]?.data as string));
  t.is(result.clientSubnet, undefined);
});

test('UDP and TCP listen on the same port', (t) => {
  t.is(server.udpPort, server.tcpPort);
});

test('one client subnet keeps its front-end; subnets spread over the POP front-ends', async (t) => {
  const repeated = await Promise.all(
    Array.from({ length: 5 }, (_, i) => dig(server.udpPort, i % 2 ? 'tcp' : 'udp', ['shop.demo.test', '+subnet=10.1.7.0/24'])),
  );
  t.is(new Set(repeated.map((r) => r.answer[0]?.data)).size, 1);
  const spread = await Promise.all(
    Array.from({ length: 16 }, (_, i) => dig(server.udpPort, 'udp', ['shop.demo.test', `+subnet=10.1.${i}.0/24`])),
  );
  const seen = new Set(spread.map((r) => r.answer[0]?.data));
  t.deepEqual([...seen].sort(), [...popAAddresses].sort(), 'both pop-a front-ends used, never pop-b');
});
