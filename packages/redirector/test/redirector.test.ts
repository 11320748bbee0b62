/** The socket-free core: bytes in, bytes out. */
import test from 'ava';
import fc from 'fast-check';
import { decodeQuery, Redirector } from '@overlay/redirector';
import { Packet } from 'dns2';
import { crowdedState, demoState, popBAddresses } from './helpers/fixture.js';
import { ecs, findOpt, query, responseHeader } from './helpers/wire.js';

const udp = { address: '192.0.2.53', transport: 'udp' } as const;
const tcp = { address: '192.0.2.53', transport: 'tcp' } as const;

test('ECS answer: pop-b front-end, ECS echoed with scope = matched /16', (t) => {
  const redirector = new Redirector({ state: demoState() });
  const response = redirector.respond(query({ name: 'shop.demo.test', edns: { options: [ecs(1, 24, [10, 2, 7])] } }), udp) as Buffer;
  t.deepEqual(Packet.parse(response).answers.map((a) => a.address), popBAddresses);
  t.deepEqual([...(findOpt(response)?.options.get(8) ?? [])], [0, 1, 24, 16, 10, 2, 7]);
});

test('ECS is echoed with scope 0 when the answer does not depend on the client (SOA, NXDOMAIN)', (t) => {
  const redirector = new Redirector({ state: demoState() });
  for (const name of ['demo.test', 'nope.demo.test']) {
    const response = redirector.respond(query({ name, type: 6, edns: { options: [ecs(1, 24, [10, 2, 7])] } }), udp) as Buffer;
    t.is(findOpt(response)?.options.get(8)?.[3], 0, name);
  }
});

test('IPv6 ECS /56 echoed byte for byte (the option dns2 would misread)', (t) => {
  const redirector = new Redirector({ state: demoState() });
  const address = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0x56];
  const response = redirector.respond(query({ name: 'shop.demo.test', edns: { options: [ecs(2, 56, address)] } }), udp) as Buffer;
  t.deepEqual([...(findOpt(response)?.options.get(8) ?? [])], [0, 2, 56, 0, ...address]);
});

test('truncation over UDP keeps the OPT record and the ECS option; TCP gets it all', (t) => {
  const redirector = new Redirector({ state: crowdedState(64) });
  const ask = query({ name: 'shop.demo.test', type: 28, edns: { udpSize: 512, options: [ecs(1, 24, [10, 1, 2])] } });
  const truncated = redirector.respond(ask, udp) as Buffer;
  t.true(truncated.length <= 512);
  t.like(responseHeader(truncated), { tc: true, qdcount: 1, ancount: 0, arcount: 1 });
  t.deepEqual(findOpt(truncated)?.udpSize, 1232);
  t.deepEqual([...(findOpt(truncated)?.options.get(8) ?? [])], [0, 1, 24, 16, 10, 1, 2]);
  const whole = redirector.respond(ask, tcp) as Buffer;
  t.like(responseHeader(whole), { tc: false, ancount: 64 });
});

test('glue is dropped before anything else, without TC (RFC 2181 §9)', (t) => {
  const state = demoState();
  const ns = Array.from({ length: 20 }, (_, i) => ({ name: `ns${i}.demo.test`, addresses: [`192.0.2.${i}`, `2001:db8::${i + 1}`] }));
  const redirector = new Redirector({ state: { ...state, zones: { 'demo.test': { ns } } } });
  const response = redirector.respond(query({ name: 'demo.test', type: 2 }), udp) as Buffer;
  t.like(responseHeader(response), { tc: false, ancount: 20, arcount: 0 });
  t.true(response.length <= 512);
});

test('BADVERS: extended rcode 1 in the OPT TTL, header rcode 0', (t) => {
  const redirector = new Redirector({ state: demoState() });
  const response = redirector.respond(query({ name: 'demo.test', edns: { version: 1 } }), udp) as Buffer;
  t.is(responseHeader(response).rcode, 0);
  t.is(findOpt(response)?.extendedRcode, 1);
});

test('ECS family 0 is ignored, as NSD does: an answer, and no ECS echoed', (t) => {
  const redirector = new Redirector({ state: demoState() });
  const response = redirector.respond(query({ name: 'shop.demo.test', edns: { options: [ecs(0, 0, [])] } }), udp) as Buffer;
  t.like(responseHeader(response), { rcode: 0, ancount: 1 });
  t.is(findOpt(response)?.options.size, 0);
});

test('malformed ECS: FORMERR with an OPT but no ECS', (t) => {
  const redirector = new Redirector({ state: demoState() });
  const response = redirector.respond(query({ name: 'shop.demo.test', edns: { options: [ecs(1, 8, [10, 1])] } }), udp) as Buffer;
  t.is(responseHeader(response).rcode, 1);
  t.is(findOpt(response)?.options.size, 0);
});

test('no response to non-query input is ever larger than the input', (t) => {
  const redirector = new Redirector({ state: demoState() });
  const valid = query({ name: 'shop.demo.test', edns: { options: [ecs(1, 24, [10, 1, 2])] } });
  const mutated = fc
    .tuple(fc.nat({ max: valid.length }), fc.uint8Array({ maxLength: 12 }), fc.nat({ max: valid.length }))
    .map(([at, noise, cut]) => {
      const bytes = Buffer.from(valid);
      Buffer.from(noise).copy(bytes, at);
      return bytes.subarray(0, Math.max(cut, 1));
    });
  fc.assert(
    fc.property(fc.oneof(fc.uint8Array({ maxLength: 400 }).map((b) => Buffer.from(b)), mutated), (bytes) => {
      const response = redirector.respond(bytes, tcp);
      return decodeQuery(bytes).kind === 'query' || response === undefined || response.length <= bytes.length;
    }),
    { numRuns: 3000 },
  );
  t.pass();
});

test('rate-limited slip answers are truncated, empty and never larger than the query', (t) => {
  let now = 0;
  const redirector = new Redirector({ state: demoState(), rateLimit: { burst: 1, slip: 1, exempt: [] }, now: () => now });
  const ask = query({ name: 'shop.demo.test' });
  t.false(responseHeader(redirector.respond(ask, udp) as Buffer).tc);
  const slipped = redirector.respond(ask, udp) as Buffer;
  t.like(responseHeader(slipped), { tc: true, ancount: 0 });
  t.true(slipped.length <= ask.length);
  now += 1000;
  t.false(responseHeader(redirector.respond(ask, udp) as Buffer).tc, 'refilled');
});
