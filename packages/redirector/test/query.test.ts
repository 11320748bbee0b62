/** The query decoder on hand-written bytes. */
import test from 'ava';
import fc from 'fast-check';
import { decodeQuery } from '@overlay/redirector';
import { ecs, option, query } from './helpers/wire.js';

test('a plain query: header fields, question with case kept and a lower-case key', (t) => {
  const decoded = decodeQuery(query({ id: 77, name: 'ShOp.Demo.Test', type: 28, flags: 0x0110 }));
  t.like(decoded, {
    kind: 'query',
    header: { id: 77, opcode: 0, rd: true, cd: true },
    question: { name: 'ShOp.Demo.Test', key: 'shop.demo.test', type: 28, class: 1 },
    edns: undefined,
  });
});

test('EDNS: payload size, version, DO bit and IPv4 ECS', (t) => {
  const decoded = decodeQuery(query({ name: 'a.test', edns: { udpSize: 4096, options: [ecs(1, 24, [10, 1, 2])] } }));
  if (decoded.kind !== 'query') return t.fail(decoded.kind);
  t.is(decoded.edns?.udpPayloadSize, 4096);
  t.is(decoded.edns?.version, 0);
  t.deepEqual(decoded.edns?.clientSubnet, {
    sourcePrefixLength: 24,
    scopePrefixLength: 0,
    address: { family: 4, bytes: Uint8Array.from([10, 1, 2, 0]) },
  });
});

test('IPv6 ECS /56 as the last option (7 address bytes: where dns2 reads past the end and drops the OPT)', (t) => {
  const address = [0x20, 0x01, 0x0d, 0xb8, 0x12, 0x34, 0x56];
  const decoded = decodeQuery(query({ name: 'a.test', edns: { options: [ecs(2, 56, address)] } }));
  if (decoded.kind !== 'query') return t.fail(decoded.kind);
  t.deepEqual([...(decoded.edns?.clientSubnet?.address.bytes ?? [])], [...address, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
  t.is(decoded.edns?.clientSubnet?.sourcePrefixLength, 56);
});

test('unknown EDNS options (cookie) are skipped', (t) => {
  const decoded = decodeQuery(query({ name: 'a.test', edns: { options: [option(10, Buffer.alloc(8, 1)), ecs(1, 16, [10, 2])] } }));
  t.is(decoded.kind === 'query' ? decoded.edns?.clientSubnet?.sourcePrefixLength : -1, 16);
});

test('EDNS version above 0 is BADVERS', (t) => {
  t.is(decodeQuery(query({ name: 'a.test', edns: { version: 1 } })).kind, 'badvers');
});

const formerr: Array<[string, Buffer]> = [
  ['ECS address longer than its prefix', query({ name: 'a.test', edns: { options: [ecs(1, 16, [10, 1, 2])] } })],
  ['ECS bits set past the prefix', query({ name: 'a.test', edns: { options: [ecs(1, 12, [10, 0xff])] } })],
  ['ECS family 3', query({ name: 'a.test', edns: { options: [ecs(3, 0, [])] } })],
  ['two ECS options', query({ name: 'a.test', edns: { options: [ecs(1, 8, [10]), ecs(1, 8, [10])] } })],
  ['an option cut short', query({ name: 'a.test', edns: { options: [Buffer.from([0, 8, 0])] } })],
  ['a question for OPT', query({ name: 'a.test', type: 41 })],
];

for (const [title, bytes] of formerr) {
  test(`FORMERR: ${title}`, (t) => {
    const decoded = decodeQuery(bytes);
    t.is(decoded.kind, 'formerr');
    if (decoded.kind === 'formerr' && !title.includes('question')) t.truthy(decoded.edns, 'the OPT is still known, so the FORMERR carries one');
  });
}

test('a message with QR set is a response, below 12 bytes unreadable, other opcodes NOTIMP', (t) => {
  t.is(decodeQuery(query({ name: 'a.test', flags: 0x8000 })).kind, 'response');
  t.is(decodeQuery(Buffer.alloc(11)).kind, 'unreadable');
  const notify = decodeQuery(query({ name: 'a.test', flags: 4 << 11 }));
  t.like(notify, { kind: 'notimp', header: { opcode: 4 }, question: { name: 'a.test' } });
});

test('compression pointers: backwards ones are followed, loops and forward ones refused', (t) => {
  // Question name "x" + pointer to offset 12 would loop; a pointer to itself is refused.
  const self = Buffer.concat([query({ name: 'a.test' }).subarray(0, 12), Buffer.from([0xc0, 12, 0, 1, 0, 1])]);
  t.is(decodeQuery(self).kind, 'formerr');
  const labelDot = Buffer.concat([query({ name: 'a.test' }).subarray(0, 12), Buffer.from([3, 0x61, 0x2e, 0x62, 0, 0, 1, 0, 1])]);
  const dotted = decodeQuery(labelDot);
  // RFC 2181 §11: any octet may sit in a label; kept escaped so it matches no configured name (NXDOMAIN).
  t.like(dotted, { kind: 'query', question: { key: 'a\\.b' } });
});

test('never throws, whatever the bytes', (t) => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 600 }), (bytes) => {
      decodeQuery(Buffer.from(bytes));
    }),
    { numRuns: 2000 },
  );
  fc.assert(
    fc.property(fc.nat({ max: 60 }), fc.uint8Array({ minLength: 1, maxLength: 8 }), (at, noise) => {
      const bytes = query({ name: 'shop.demo.test', edns: { options: [ecs(1, 24, [10, 1, 2])] } });
      Buffer.from(noise).copy(bytes, Math.min(at, bytes.length - 1));
      decodeQuery(bytes);
    }),
    { numRuns: 2000 },
  );
  t.pass();
});
