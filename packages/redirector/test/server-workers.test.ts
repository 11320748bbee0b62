/** Worker processes sharing the sockets: every worker answers, takes each update, and the metrics are summed. */
import test from 'ava';
import { dig, requireDig } from './helpers/dig.js';
import { demoState, popBAddresses } from './helpers/fixture.js';
import { metricsText, startTestRedirector, udpExchange } from './helpers/server.js';
import { query, responseHeader } from './helpers/wire.js';

test('two workers share the UDP and TCP sockets, follow updates, and sum their metrics', async (t) => {
  await requireDig();
  const server = await startTestRedirector(undefined, { workers: 2 });
  t.teardown(() => server.close());
  const udp = await dig(server.udpPort, 'udp', ['shop.demo.test', 'A', '+subnet=10.2.0.0/24']);
  t.deepEqual(udp.answer.map((rr) => rr.data), popBAddresses);
  const tcp = await dig(server.tcpPort, 'tcp', ['demo.test', 'SOA']);
  t.is(tcp.status, 'NOERROR');
  const state = demoState();
  state.sites = { shop: { domains: ['shop.demo.test', 'new.demo.test'], frontEnds: ['pop-b-1'] } };
  server.update(state);
  await new Promise((resolve) => setTimeout(resolve, 300));
  // Many datagrams from many source ports, so both workers answer some: each must know the new name.
  const replies = await udpExchange(server.udpPort, Array.from({ length: 60 }, (_, id) => query({ id, name: 'new.demo.test' })));
  t.is(replies.length, 60);
  t.true(replies.every((reply) => responseHeader(reply).rcode === 0 && responseHeader(reply).ancount === 1));
  const metrics = await metricsText(server);
  const answered = [...metrics.matchAll(/^overlay_dns_queries_total\{[^}]*transport="udp"[^}]*\} (\d+)/gm)].reduce((sum, m) => sum + Number(m[1]), 0);
  t.true(answered >= 61, `summed over workers: ${answered}`);
});
