/** update(state) takes effect on the very next query, over UDP and TCP. */
import test from 'ava';
import type { RedirectorStateInput } from '@overlay/redirector';
import { ConfigError } from '@overlay/common';
import { dig, requireDig, type Transport } from './helpers/dig.js';
import { demoState, popAAddresses, popBAddresses } from './helpers/fixture.js';
import { metricsText, startTestRedirector } from './helpers/server.js';

test.before(async () => {
  await requireDig();
});

function withFrontEnd(id: string, change: Record<string, unknown>): RedirectorStateInput {
  const state = demoState();
  const frontEnds = state.frontEnds as Record<string, Record<string, unknown>>;
  frontEnds[id] = { ...frontEnds[id], ...change };
  return state;
}

for (const transport of ['udp', 'tcp'] as Transport[]) {
  test(`an unhealthy front-end leaves the answers at once; with none healthy every assigned one is answered [${transport}]`, async (t) => {
    const server = await startTestRedirector();
    t.teardown(() => server.close());
    const ask = async (): Promise<string[]> =>
      (await dig(server.udpPort, transport, ['shop.demo.test', '+subnet=10.2.0.0/24'])).answer.map((rr) => rr.data).sort();

    t.deepEqual(await ask(), popBAddresses);
    server.update(withFrontEnd('pop-b-1', { healthy: false }));
    const failedOver = await ask();
    t.is(failedOver.length, 1);
    t.true(popAAddresses.includes(failedOver[0] as string), 'next preferred POP');

    const allDown = demoState();
    for (const frontEnd of Object.values(allDown.frontEnds ?? {})) frontEnd.healthy = false;
    server.update(allDown);
    t.deepEqual(await ask(), [...popAAddresses, ...popBAddresses].sort(), 'better a possibly-down answer than none');

    server.update(demoState());
    t.deepEqual(await ask(), popBAddresses, 'recovered');
  });
}

test('a loaded front-end (load ≥ 0.9) is skipped while another healthy one exists', async (t) => {
  const server = await startTestRedirector(withFrontEnd('pop-b-1', { load: 0.95 }));
  t.teardown(() => server.close());
  const r = await dig(server.udpPort, 'udp', ['shop.demo.test', '+subnet=10.2.0.0/24']);
  t.true(popAAddresses.includes(r.answer[0]?.data as string));
  const metrics = await metricsText(server);
  t.regex(metrics, /overlay_dns_answers_total\{front_end="pop-a-\d"\} 1/);
  t.notRegex(metrics, /front_end="pop-b-1"/);
});

test('answerCount answers several front-ends, best POP first', async (t) => {
  const server = await startTestRedirector({ ...demoState(), answerCount: 2 });
  t.teardown(() => server.close());
  const r = await dig(server.udpPort, 'tcp', ['shop.demo.test', '+subnet=10.2.0.0/24']);
  t.is(r.answer.length, 2);
  t.is(r.answer[0]?.data, popBAddresses[0]);
  t.true(popAAddresses.includes(r.answer[1]?.data as string));
});

test('an invalid update is refused with a ConfigError naming the field, and the old state keeps serving', async (t) => {
  const server = await startTestRedirector();
  t.teardown(() => server.close());
  const bad = demoState();
  (bad.sites as Record<string, { domains: string[]; frontEnds: string[] }>).shop = { domains: ['shop.other.test'], frontEnds: [] };
  const error = t.throws(() => server.update(bad), { instanceOf: ConfigError });
  t.is(error?.field, 'sites.shop.domains[0]');
  const r = await dig(server.udpPort, 'udp', ['shop.demo.test', '+subnet=10.2.0.0/24']);
  t.deepEqual(r.answer.map((rr) => rr.data), popBAddresses);
});
