/**
 * Response rate limiting on real sockets, loopback not exempt: a resolver-shaped load (one /24 asking
 * 300 distinct names a second) keeps > 99 % of its answers, while one name flooded at 1000 qps toward
 * one network is limited, with every other limited reply a TC slip.
 */
import dgram from 'node:dgram';
import test from 'ava';
import type { RedirectorStateInput } from '@overlay/redirector';
import { demoState } from './helpers/fixture.js';
import { startTestRedirector } from './helpers/server.js';
import { query, responseHeader } from './helpers/wire.js';

const NAMES = 300;

function manyNames(): RedirectorStateInput {
  const state = demoState();
  const zone = state.zones['demo.test'] as { records?: unknown[] };
  zone.records = Array.from({ length: NAMES }, (_, i) => ({ name: `host-${i}`, type: 'A', data: `192.0.2.${i % 250}` }));
  return state;
}

interface Load {
  sent: number;
  answered: number;
  slipped: number;
}

/** Sends `perSecond` queries a second for `seconds` from `source`, naming `nameOf(i)`; counts the replies. */
async function load(port: number, source: string, perSecond: number, seconds: number, nameOf: (i: number) => string): Promise<Load> {
  const socket = dgram.createSocket('udp4');
  const result: Load = { sent: 0, answered: 0, slipped: 0 };
  socket.on('message', (message) => {
    const header = responseHeader(message);
    if (header.tc) result.slipped++;
    else if (header.ancount > 0) result.answered++;
  });
  await new Promise<void>((resolve) => socket.bind(0, source, resolve));
  const tick = 20;
  const started = Date.now();
  while (Date.now() - started < seconds * 1000) {
    const due = Math.floor(((Date.now() - started + tick) / 1000) * perSecond);
    while (result.sent < due) {
      socket.send(query({ id: result.sent & 0xffff, name: nameOf(result.sent) }), port, '127.0.0.1');
      result.sent++;
    }
    await new Promise((resolve) => setTimeout(resolve, tick));
  }
  await new Promise((resolve) => setTimeout(resolve, 500));
  socket.close();
  return result;
}

test('a resolver /24 asking 300 distinct names a second keeps > 99 % of its answers; one name at 1000 qps is limited', async (t) => {
  const server = await startTestRedirector(manyNames(), { rateLimit: { exempt: [] } });
  t.teardown(() => server.close());
  const resolver = await load(server.udpPort, '127.0.5.1', 300, 6, (i) => `host-${i % NAMES}.demo.test`);
  t.log(`resolver-shaped: ${resolver.answered}/${resolver.sent} answered, ${resolver.slipped} slipped`);
  t.true(resolver.sent >= 1500, `sent ${resolver.sent}`);
  t.true(resolver.answered >= resolver.sent * 0.99, `answered ${resolver.answered} of ${resolver.sent}`);
  const flood = await load(server.udpPort, '127.0.6.1', 1000, 3, () => 'shop.demo.test');
  t.log(`one-name flood: ${flood.answered}/${flood.sent} answered, ${flood.slipped} slipped`);
  t.true(flood.answered < flood.sent * 0.6, `answered ${flood.answered} of ${flood.sent}`);
  t.true(flood.slipped > 0, 'limited replies slip as TC');
  // The flood's bucket is its own: the resolver's network still gets that same name.
  const after = await load(server.udpPort, '127.0.5.1', 50, 1, () => 'shop.demo.test');
  t.true(after.answered >= after.sent * 0.99, `resolver after the flood: ${after.answered}/${after.sent}`);
});
