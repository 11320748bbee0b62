/** Answers too large for UDP: TC set, OPT (and ECS) kept, the full answer over TCP. */
import test from 'ava';
import type { RunningRedirector } from '@overlay/redirector';
import { dig, requireDig } from './helpers/dig.js';
import { crowdedState } from './helpers/fixture.js';
import { metricsText, startTestRedirector } from './helpers/server.js';

// 64 AAAA records of 28 bytes each: more than 1232 bytes, so even the largest UDP answer we send is too small.
const FRONT_ENDS = 64;
let server: RunningRedirector;

test.before(async () => {
  await requireDig();
  server = await startTestRedirector(crowdedState(FRONT_ENDS));
});
test.after.always(async () => server?.close());

test('UDP with a 512-byte buffer: TC, no records, OPT and ECS kept', async (t) => {
  const r = await dig(server.udpPort, 'udp', ['shop.demo.test', 'AAAA', '+bufsize=512', '+ignore', '+subnet=10.1.2.0/24']);
  t.true(r.flags.includes('tc'), r.output);
  t.is(r.answer.length, 0);
  t.deepEqual(r.edns, { version: 0, udp: 1232 });
  t.is(r.clientSubnet, '10.1.2.0/24/16');
});

test('UDP asking for 4096 bytes is capped at 1232: still TC', async (t) => {
  const r = await dig(server.udpPort, 'udp', ['shop.demo.test', 'AAAA', '+bufsize=4096', '+ignore']);
  t.true(r.flags.includes('tc'), r.output);
  t.is(r.edns?.udp, 1232);
});

test('UDP without EDNS: the 512-byte limit, TC, no OPT invented', async (t) => {
  const r = await dig(server.udpPort, 'udp', ['shop.demo.test', 'AAAA', '+noedns', '+ignore']);
  t.true(r.flags.includes('tc'));
  t.is(r.edns, undefined);
});

test('TCP carries the whole answer, no TC', async (t) => {
  const r = await dig(server.tcpPort, 'tcp', ['shop.demo.test', 'AAAA', '+subnet=10.1.2.0/24']);
  t.false(r.flags.includes('tc'));
  t.is(r.answer.length, FRONT_ENDS);
  t.is(r.clientSubnet, '10.1.2.0/24/16');
});

test('dig retries a truncated UDP answer over TCP and gets everything', async (t) => {
  const r = await dig(server.udpPort, 'udp', ['shop.demo.test', 'AAAA', '+bufsize=512']);
  t.is(r.answer.length, FRONT_ENDS);
  t.regex(r.output, /Truncated, retrying in TCP mode/);
});

test('truncations are counted in /metrics', async (t) => {
  await dig(server.udpPort, 'udp', ['shop.demo.test', 'AAAA', '+bufsize=512', '+ignore']);
  t.regex(await metricsText(server), /overlay_dns_truncated_total\{transport="udp"[^}]*\} [1-9]/);
});
