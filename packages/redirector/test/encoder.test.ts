/** The hand encoder against dns2's decoder, and the question echoed byte for byte. */
import assert from 'node:assert/strict';
import test from 'ava';
import fc from 'fast-check';
import ipaddr from 'ipaddr.js';
import { Packet } from 'dns2';
import { decodeQuery, encodeSections, writeResponse, type Question, type ResourceRecord } from '@overlay/redirector';
import { query, responseHeader } from './helpers/wire.js';

const A = 1;
const NS = 2;
const SOA = 6;
const AAAA = 28;

function questionOf(name: string, type = A): Question {
  const decoded = decodeQuery(query({ name, type }));
  if (decoded.kind !== 'query') throw new Error(`not a query: ${decoded.kind}`);
  return decoded.question;
}

const header = { id: 0xbeef, opcode: 0, rd: true, cd: false };

/** What dns2 makes of one record, in the shape of our ResourceRecord (names lower case, addresses normalized). */
function normalize(resource: object): Record<string, unknown> {
  const record = resource as Record<string, unknown>;
  const common = { name: String(record.name).toLowerCase(), type: record.type, ttl: record.ttl };
  switch (record.type) {
    case A:
    case AAAA:
      return { ...common, address: ipaddr.parse(String(record.address)).toNormalizedString() };
    case NS:
      return { ...common, ns: String(record.ns).toLowerCase() };
    default:
      return {
        ...common,
        primary: String(record.primary).toLowerCase(),
        admin: String(record.admin).toLowerCase(),
        serial: record.serial,
        refresh: record.refresh,
        retry: record.retry,
        expiration: record.expiration,
        minimum: record.minimum,
      };
  }
}

const label = fc.stringMatching(/^[a-z0-9]{1,8}$/);
/** Names under a few shared suffixes, so compression has work to do. */
const name = fc
  .tuple(fc.array(label, { maxLength: 3 }), fc.constantFrom('demo.test', 'test', 'b.demo.test', 'example.org'))
  .map(([labels, suffix]) => [...labels, suffix].join('.'));
const ttl = fc.integer({ min: 0, max: 2_147_483_647 });
const uint32 = fc.integer({ min: 0, max: 0xffff_ffff });
const record: fc.Arbitrary<ResourceRecord> = fc.oneof(
  fc.record({ name, type: fc.constant(A), ttl, address: fc.ipV4() }),
  fc.record({ name, type: fc.constant(AAAA), ttl, address: fc.ipV6().map((text) => ipaddr.parse(text).toString()) }),
  fc.record({ name, type: fc.constant(NS), ttl, ns: name }),
  fc.record({
    name,
    type: fc.constant(SOA),
    ttl,
    primary: name,
    admin: name,
    serial: uint32,
    refresh: uint32,
    retry: uint32,
    expiration: uint32,
    minimum: uint32,
  }),
) as fc.Arbitrary<ResourceRecord>;
/** A name in random case, as resolvers using 0x20 ask. */
const casedName = fc.tuple(name, fc.array(fc.boolean(), { minLength: 40, maxLength: 40 })).map(([text, upper]) =>
  [...text].map((char, i) => (upper[i] ? char.toUpperCase() : char)).join(''),
);

test('dns2 decodes every hand-encoded record as written, with the question in the case asked', (t) => {
  fc.assert(
    fc.property(casedName, fc.array(record, { maxLength: 6 }), fc.array(record, { maxLength: 3 }), fc.array(record, { maxLength: 4 }), (asked, answers, authorities, additionals) => {
      const question = questionOf(asked);
      const sections = encodeSections(question.key, { answers, authorities, additionals });
      const { message, truncated } = writeResponse({ header, rcode: 0, authoritative: true, question, sections }, 65_535);
      const parsed = Packet.parse(message);
      assert.equal(truncated, false);
      assert.equal(parsed.header.id, 0xbeef);
      assert.equal(parsed.questions[0]?.name, asked);
      assert.deepEqual(parsed.answers.map(normalize), answers.map(normalize));
      assert.deepEqual(parsed.authorities.map(normalize), authorities.map(normalize));
      assert.deepEqual(parsed.additionals.map(normalize), additionals.map(normalize));
    }),
    { numRuns: 300 },
  );
  t.pass();
});

test('sections encoded once serve any case of the name: the question bytes are the asker\'s, the rest identical', (t) => {
  const records: ResourceRecord[] = [
    { name: 'shop.demo.test', type: A, ttl: 20, address: '127.0.1.1' },
    { name: 'demo.test', type: NS, ttl: 3600, ns: 'ns1.demo.test' },
  ];
  const sections = encodeSections('shop.demo.test', { answers: records, authorities: [], additionals: [] });
  const messages = ['shop.demo.test', 'ShOp.DeMo.TeSt', 'SHOP.DEMO.TEST'].map((asked) => {
    const raw = query({ name: asked });
    const decoded = decodeQuery(raw);
    if (decoded.kind !== 'query') throw new Error(decoded.kind);
    const { message } = writeResponse({ header, rcode: 0, authoritative: true, question: decoded.question, sections }, 512);
    const questionLength = decoded.question.wireEnd - decoded.question.wireStart + 4;
    t.deepEqual(message.subarray(12, 12 + questionLength), raw.subarray(12, 12 + questionLength), asked);
    t.is(Packet.parse(message).answers[0]?.name.toLowerCase(), 'shop.demo.test');
    return message.subarray(12 + questionLength);
  });
  t.deepEqual(messages[1], messages[0]);
  t.deepEqual(messages[2], messages[0]);
});

test('answer names point into the question (compression) instead of repeating it', (t) => {
  const question = questionOf('shop.demo.test');
  const answers: ResourceRecord[] = [{ name: 'shop.demo.test', type: A, ttl: 20, address: '127.0.1.1' }];
  const sections = encodeSections(question.key, { answers, authorities: [], additionals: [] });
  // Pointer to offset 12, type, class, TTL, RDLENGTH, 4 address bytes.
  t.is(sections.bytes.length, 2 + 10 + 4);
  t.deepEqual([...sections.bytes.subarray(0, 2)], [0xc0, 12]);
});

test('a compressed question is echoed spelled out', (t) => {
  // ID 0x0161 and flags 0 read as the name "a" at offset 0; the question is a pointer to it.
  const raw = Buffer.from([0x01, 0x61, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 0x00, 0, A, 0, 1]);
  const decoded = decodeQuery(raw);
  if (decoded.kind !== 'query') return t.fail(decoded.kind);
  t.is(decoded.question.name, 'a');
  const { message } = writeResponse({ header: decoded.header, rcode: 5, authoritative: false, question: decoded.question }, 512);
  t.deepEqual([...message.subarray(12)], [1, 0x61, 0, 0, A, 0, 1]);
  t.is(Packet.parse(message).questions[0]?.name, 'a');
});

test('fitting: glue goes first (pointers still valid), then everything but the question with TC', (t) => {
  const question = questionOf('demo.test', NS);
  const ns = Array.from({ length: 12 }, (_, i) => `ns${i}.demo.test`);
  const sections = encodeSections(question.key, {
    answers: ns.map((host) => ({ name: 'demo.test', type: NS, ttl: 3600, ns: host })),
    authorities: [],
    additionals: ns.map((host, i) => ({ name: host, type: AAAA, ttl: 3600, address: `2001:db8::${i + 1}` })),
  });
  const frame = { header, rcode: 0, authoritative: true, question, sections, edns: { udpPayloadSize: 1232 } };
  const whole = writeResponse(frame, 65_535);
  t.like(responseHeader(whole.message), { tc: false, ancount: 12, arcount: 13 });
  const withoutGlue = writeResponse(frame, whole.message.length - 1);
  t.like(responseHeader(withoutGlue.message), { tc: false, ancount: 12, arcount: 1 });
  t.deepEqual(Packet.parse(withoutGlue.message).answers.map((rr) => rr.ns), ns);
  const bare = writeResponse(frame, 12 + 11 + 4 + 11);
  t.true(bare.truncated);
  t.like(responseHeader(bare.message), { tc: true, qdcount: 1, ancount: 0, arcount: 1 });
  t.is(writeResponse(frame, 30).message.length, 12, 'not even the question fits: a bare header');
});

test('OPT: our payload size, BADVERS split into the extended rcode, ECS echoed with only the source prefix octets', (t) => {
  const question = questionOf('shop.demo.test');
  const clientSubnet = { sourcePrefixLength: 20, scopePrefixLength: 16, address: { family: 4 as const, bytes: Uint8Array.from([10, 1, 0x20, 0]) } };
  const { message } = writeResponse({ header, rcode: 16, authoritative: false, question, edns: { udpPayloadSize: 1232, clientSubnet } }, 512);
  t.is(responseHeader(message).rcode, 0);
  const opt = Packet.parse(message).additionals[0];
  t.like(opt, { type: 41, class: 1232, extendedRcode: 1, version: 0, doFlag: false });
  t.deepEqual([...message.subarray(message.length - 11)], [0, 8, 0, 7, 0, 1, 20, 16, 10, 1, 0x20]);
});
