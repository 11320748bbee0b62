/** Hostile input over UDP from a raw socket: never a crash, never an answer larger than the query. */
import test from 'ava';
import fc from 'fast-check';
import { dig, requireDig } from './helpers/dig.js';
import { metricsText, startTestRedirector, udpExchange } from './helpers/server.js';
import { ecs, encodeName, optRecord, query, responseHeader } from './helpers/wire.js';

test.before(async () => {
  await requireDig();
});

function withId(message: Buffer, id: number): Buffer {
  const copy = Buffer.from(message);
  if (copy.length >= 2) copy.writeUInt16BE(id, 0);
  return copy;
}

function header(flags: number, counts: [number, number, number, number]): Buffer {
  const bytes = Buffer.alloc(12);
  bytes.writeUInt16BE(flags, 2);
  counts.forEach((count, i) => bytes.writeUInt16BE(count, 4 + 2 * i));
  return bytes;
}

const type = Buffer.from([0, 1, 0, 1]);
const crafted: Record<string, Buffer> = {
  'pointer to itself': Buffer.concat([header(0, [1, 0, 0, 0]), Buffer.from([0xc0, 0x0c]), type]),
  'pointer forwards': Buffer.concat([header(0, [1, 0, 0, 0]), Buffer.from([0xc0, 0x20]), type, Buffer.alloc(20)]),
  'reserved label type': Buffer.concat([header(0, [1, 0, 0, 0]), Buffer.from([0x40, 0x61, 0]), type]),
  'label past the end': Buffer.concat([header(0, [1, 0, 0, 0]), Buffer.from([0x3f, 0x61, 0x62])]),
  'ECS bits past the prefix': query({ name: 'shop.demo.test', edns: { options: [ecs(1, 20, [10, 1, 0xff])] } }),
  'ECS unknown family': query({ name: 'shop.demo.test', edns: { options: [ecs(3, 8, [10])] } }),
  'ECS prefix longer than IPv4': query({ name: 'shop.demo.test', edns: { options: [ecs(1, 40, [10, 1, 2, 3, 4])] } }),
  'option overruns the OPT': Buffer.concat([
    query({ name: 'shop.demo.test' }).subarray(0, 10),
    Buffer.from([0, 1]),
    query({ name: 'shop.demo.test' }).subarray(12),
    optRecord(1232, 0, [Buffer.from([0, 8, 0, 40, 0, 1])]),
  ]),
  'two OPT records': Buffer.concat([
    header(0, [1, 0, 0, 2]),
    encodeName('shop.demo.test'),
    type,
    optRecord(1232, 0, []),
    optRecord(1232, 0, []),
  ]),
  'huge counts, no records': Buffer.concat([header(0, [1, 0xffff, 0xffff, 0xffff]), encodeName('shop.demo.test'), type]),
};

test('crafted, random and cut-short datagrams: no reply larger than its query, no reply to responses, server alive', async (t) => {
  const server = await startTestRedirector();
  t.teardown(() => server.close());
  const valid = query({ name: 'shop.demo.test', edns: { options: [ecs(1, 24, [10, 1, 2])] } });
  const prefixes = Array.from({ length: valid.length }, (_, n) => valid.subarray(0, n));
  const random = fc.sample(fc.uint8Array({ minLength: 0, maxLength: 300 }), { seed: 4242, numRuns: 300 }).map((bytes) => Buffer.from(bytes));
  const inputs = [...Object.values(crafted), ...prefixes, ...random];
  const sent = inputs.map((input, index) => withId(input, 1000 + index));
  const responseQuery = withId(header(0x8000, [1, 0, 0, 0]), 999);

  const replies = await udpExchange(server.udpPort, [...sent, responseQuery], 800);

  t.true(replies.length > Object.keys(crafted).length, 'readable malformed input is answered (FORMERR)');
  for (const reply of replies) {
    const id = responseHeader(reply).id;
    t.not(id, 999, 'a message with QR set is never answered');
    const input = sent[id - 1000] as Buffer;
    t.true(reply.length <= input.length, `reply of ${reply.length} bytes to a ${input.length}-byte query`);
  }
  for (const [name, input] of Object.entries(crafted)) {
    const index = Object.values(crafted).indexOf(input);
    const reply = replies.find((r) => responseHeader(r).id === 1000 + index);
    t.is(reply && responseHeader(reply).rcode, 1, `${name}: FORMERR`);
  }
  const alive = await dig(server.udpPort, 'udp', ['shop.demo.test', '+subnet=10.2.0.0/24']);
  t.is(alive.status, 'NOERROR');
});

test('rate limit per client network: a burst, then drops with every 2nd slipped as TC; TCP unaffected', async (t) => {
  const server = await startTestRedirector(undefined, { rateLimit: { exempt: [], responsesPerSecond: 5, burst: 5, slip: 2 } });
  t.teardown(() => server.close());
  const queries = Array.from({ length: 40 }, (_, i) => query({ id: i, name: 'shop.demo.test' }));
  const replies = await udpExchange(server.udpPort, queries, 300);
  const full = replies.filter((r) => !responseHeader(r).tc);
  const slipped = replies.filter((r) => responseHeader(r).tc);
  t.true(full.length >= 5 && full.length <= 7, `full answers: ${full.length}`);
  t.true(slipped.length >= 15 && slipped.length <= 18, `slipped: ${slipped.length}`);
  for (const reply of slipped) t.is(responseHeader(reply).ancount, 0);
  const overTcp = await dig(server.tcpPort, 'tcp', ['shop.demo.test']);
  t.is(overTcp.answer.length, 1);
  const metrics = await metricsText(server);
  t.regex(metrics, /overlay_dns_rate_limited_total\{action="drop"\} (1[5-9]|2\d)/);
  t.regex(metrics, /overlay_dns_rate_limited_total\{action="slip"\} 1\d/);
});

test('loopback is exempt from the rate limit by default', async (t) => {
  const server = await startTestRedirector();
  t.teardown(() => server.close());
  // Well past the default burst (100) and rate (50/s): limiting would answer ~110 of these in full.
  const queries = Array.from({ length: 200 }, (_, i) => query({ id: i, name: 'shop.demo.test' }));
  const replies = await udpExchange(server.udpPort, queries, 500);
  t.is(replies.length, 200);
  t.true(replies.every((r) => !responseHeader(r).tc));
});

test('/metrics counts queries by type and rcode, answers per front-end; /healthz reports state', async (t) => {
  const server = await startTestRedirector();
  t.teardown(() => server.close());
  await dig(server.udpPort, 'udp', ['shop.demo.test', '+subnet=10.2.0.0/24']);
  await dig(server.udpPort, 'tcp', ['nope.demo.test', 'AAAA']);
  const metrics = await metricsText(server);
  t.regex(metrics, /overlay_dns_queries_total\{transport="udp",qtype="A",rcode="NOERROR"\} 1/);
  t.regex(metrics, /overlay_dns_queries_total\{transport="tcp",qtype="AAAA",rcode="NXDOMAIN"\} 1/);
  t.regex(metrics, /overlay_dns_answers_total\{front_end="pop-b-1"\} 1/);
  const health = (await (await fetch(`http://127.0.0.1:${server.adminPort}/healthz`)).json()) as Record<string, unknown>;
  t.like(health, { ok: true, zones: 1, frontEnds: 3, healthyFrontEnds: 3 });
});
