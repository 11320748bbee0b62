/** Cached answers: never served to a client, a case or a state they were not worked out for. */
import assert from 'node:assert/strict';
import test from 'ava';
import fc from 'fast-check';
import { Packet } from 'dns2';
import { GenerationCache, PairCache, Redirector, type ClientInfo, type RedirectorStateInput } from '@overlay/redirector';
import { demoState } from './helpers/fixture.js';
import { ecs, findOpt, query, responseHeader } from './helpers/wire.js';

const off = { enabled: false };
const fromResolver: ClientInfo = { address: '192.0.2.53', transport: 'udp' };

/** 10/8 prefers pop-a, but 10.1.2.128/25 inside it prefers pop-b: one /24 holds clients of both entries. */
function nestedState(): RedirectorStateInput {
  return { ...demoState(), popPreferences: { '10.0.0.0/8': ['pop-a', 'pop-b'], '10.1.2.128/25': ['pop-b', 'pop-a'], '10.2.0.0/16': ['pop-b'] } };
}

function ask(redirector: Redirector, name: string, subnet?: [number, number[]], type = 1, id = 7): Buffer {
  const options = subnet ? [ecs(1, subnet[0], subnet[1])] : [];
  return redirector.respond(query({ id, name, type, edns: { options } }), fromResolver) as Buffer;
}

function addresses(response: Buffer): string[] {
  return Packet.parse(response).answers.map((record) => record.address as string);
}

function scope(response: Buffer): number | undefined {
  return findOpt(response)?.options.get(8)?.[3];
}

test('clients of different POP entries within one /24 get their own answers and scopes', (t) => {
  const redirector = new Redirector({ state: nestedState(), rateLimit: off });
  const popA = ['127.0.1.1', '127.0.1.3'];
  for (let round = 0; round < 2; round++) {
    const low = ask(redirector, 'shop.demo.test', [32, [10, 1, 2, 3]]);
    const high = ask(redirector, 'shop.demo.test', [32, [10, 1, 2, 200]]);
    t.true(popA.includes(addresses(low)[0] as string), `round ${round}`);
    t.deepEqual(addresses(high), ['127.0.1.2'], `round ${round}`);
    // 10.1.2.3 matches 10/8 but shares 24 bits with 10.1.2.128/25: the answer holds for its /25 only.
    t.is(scope(low), 25);
    t.is(scope(high), 25);
  }
  // Same entry and network as 10.1.2.3, so the same front-end; the scope is worked out per client.
  t.deepEqual(addresses(ask(redirector, 'shop.demo.test', [32, [10, 1, 2, 4]])), addresses(ask(redirector, 'shop.demo.test', [32, [10, 1, 2, 3]])));
  t.is(scope(ask(redirector, 'shop.demo.test', [32, [10, 1, 3, 1]])), 24);
  t.is(scope(ask(redirector, 'shop.demo.test', [16, [10, 1]])), 23);
});

test('answers that do not depend on the client carry scope 0 even after a located answer for the same name', (t) => {
  const redirector = new Redirector({ state: nestedState(), rateLimit: off });
  ask(redirector, 'shop.demo.test', [24, [10, 2, 0]]);
  t.is(scope(ask(redirector, 'shop.demo.test', [24, [10, 2, 0]], 15)), 0, 'NODATA for MX');
  t.is(scope(ask(redirector, 'demo.test', [24, [10, 2, 0]], 6)), 0, 'SOA');
  t.is(scope(ask(redirector, 'shop.demo.test', [0, []])), 0, 'source /0: the client was withheld');
});

test('update() drops every cached answer at once', (t) => {
  const redirector = new Redirector({ state: demoState(), rateLimit: off });
  const state = demoState();
  t.deepEqual(addresses(ask(redirector, 'shop.demo.test', [24, [10, 2, 1]])), ['127.0.1.2']);
  t.is(responseHeader(ask(redirector, 'new.demo.test')).rcode, 3, 'NXDOMAIN, now cached');
  redirector.update({
    ...state,
    frontEnds: { ...state.frontEnds, 'pop-b-1': { addresses: ['127.0.1.2'], pop: 'pop-b', healthy: false } },
    sites: { ...state.sites, news: { domains: ['new.demo.test'], frontEnds: ['pop-b-1'] } },
  });
  const moved = addresses(ask(redirector, 'shop.demo.test', [24, [10, 2, 1]]));
  t.true(['127.0.1.1', '127.0.1.3'].includes(moved[0] as string), 'pop-b-1 is down: a pop-a front-end');
  const created = ask(redirector, 'new.demo.test');
  t.is(responseHeader(created).rcode, 0);
  t.deepEqual(addresses(created), ['127.0.1.2'], 'its only front-end, though down');
});

test('each asker gets the question back in its own case and its own ID', (t) => {
  const redirector = new Redirector({ state: demoState(), rateLimit: off });
  for (const [id, name] of [[1, 'shop.demo.test'], [2, 'SHOP.demo.TEST'], [3, 'sHoP.DeMo.tEsT'], [4, 'nope.DEMO.test'], [5, 'NOPE.demo.test']] as const) {
    const raw = query({ id, name, edns: { options: [ecs(1, 24, [10, 1, 2])] } });
    const response = redirector.respond(raw, fromResolver) as Buffer;
    t.is(response.readUInt16BE(0), id);
    t.deepEqual(response.subarray(12, 12 + name.length + 2), raw.subarray(12, 12 + name.length + 2), name);
    t.is(Packet.parse(response).questions[0]?.name, name);
  }
});

// Every kind of question, in any case, from any client, over either transport, with or without EDNS/ECS;
// site names and clients that share a /24 across POP entries come up most, since that is where keys matter.
const names = ['shop.demo.test', 'shop.demo.test', 'shop.demo.test', 'deep.api.demo.test', 'demo.test', 'ns1.demo.test', 'api.demo.test', 'nope.demo.test', 'www.example.com'];
const subnets: Array<[number, number[]] | undefined> = [
  undefined,
  [24, [10, 1, 2]],
  [32, [10, 1, 2, 200]],
  [32, [10, 1, 2, 3]],
  [25, [10, 1, 2, 128]],
  [24, [10, 2, 9]],
  [16, [10, 1]],
  [0, []],
  [8, [192]],
];
const casedName = fc
  .tuple(fc.constantFrom(...names), fc.array(fc.boolean(), { minLength: 20, maxLength: 20 }))
  .map(([name, upper]) => [...name].map((char, i) => (upper[i] ? char.toUpperCase() : char)).join(''));
const asked = fc.record({
  name: casedName,
  type: fc.constantFrom(1, 1, 1, 28, 255, 2, 6, 15),
  edns: fc.option(fc.record({ udpSize: fc.constantFrom(512, 1232, 4096), subnet: fc.constantFrom(...subnets) }), { nil: undefined, freq: 4 }),
  source: fc.constantFrom('192.0.2.53', '10.1.2.3', '10.2.0.1', '198.51.100.7', '::ffff:10.1.9.9', '2001:db8::53'),
  transport: fc.constantFrom('udp' as const, 'tcp' as const),
  id: fc.integer({ min: 0, max: 0xffff }),
});

test('a warm redirector answers every query byte for byte as a fresh one would', (t) => {
  const state = nestedState();
  fc.assert(
    fc.property(fc.array(asked, { minLength: 1, maxLength: 30 }), (queries) => {
      const warm = new Redirector({ state, rateLimit: off });
      for (const q of queries) {
        const options = q.edns?.subnet ? [ecs(1, q.edns.subnet[0], q.edns.subnet[1])] : [];
        const raw = query({ id: q.id, name: q.name, type: q.type, edns: q.edns && { udpSize: q.edns.udpSize, options } });
        const client = { address: q.source, transport: q.transport };
        const cold = new Redirector({ state, rateLimit: off }).respond(raw, client);
        assert.deepEqual(warm.respond(raw, client), cold);
      }
    }),
    { numRuns: 80 },
  );
  t.pass();
});

test('the memo caches stay bounded and keep what is in use', (t) => {
  const single = new GenerationCache<string, number>(10);
  const pairs = new PairCache<string, number, number>(10);
  for (let i = 0; i < 1000; i++) {
    single.set(`k${i}`, i);
    pairs.set(`k${i % 7}`, i, i);
    // Touched all along: survives every generation swap.
    single.get('k0');
    pairs.get('k0', 0);
  }
  t.true(single.size <= 20);
  t.true(pairs.size <= 20);
  t.is(single.get('k0'), 0);
  t.is(pairs.get('k0', 0), 0);
  t.is(single.get('k5'), undefined, 'old and unused: dropped');
  t.is(pairs.get('k5', 5), undefined);
  t.is(single.get('k999'), 999);
  t.is(pairs.get('k5', 999), 999);
  t.throws(() => new GenerationCache(0));
});
