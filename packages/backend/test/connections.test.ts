import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import test from 'ava';
import { exchange, httpHead, quietHealth, sleep, startHarness, waitFor } from './helpers.js';

/** An origin that answers `/slow/{ms}` after that long and counts the connections open to it right now. */
async function countingOrigin(t: { teardown(fn: () => Promise<void>): void }) {
  const state = { open: 0, peak: 0 };
  const server = createServer((req, res) => {
    // Health probes get their own connection, closed after the answer: only the pool's are counted.
    if (req.url === '/healthz') res.setHeader('connection', 'close');
    const ms = Number(/^\/slow\/(\d+)/.exec(req.url ?? '')?.[1] ?? 0);
    setTimeout(() => res.end('ok'), ms);
  });
  server.on('connection', (socket) => {
    state.open++;
    state.peak = Math.max(state.peak, state.open);
    socket.once('close', () => state.open--);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.teardown(() => new Promise<void>((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  }));
  return { state, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

test('origin connections follow the limit: a lowered limit closes the idle ones past it within a second, and no more are opened than it allows', async (t) => {
  const origin = await countingOrigin(t);
  const sites = { shop: { origins: [{ url: origin.url }] } };
  const { backEnd, client } = await startHarness(t, { sites, limits: { adaptive: false, initial: 8, max: 64 }, health: quietHealth });
  const burst = (count: number, ms: number) => Promise.all(Array.from({ length: count }, () => exchange(client, httpHead('shop', 'GET', `/slow/${ms}`))));

  await burst(8, 300);
  await sleep(50);
  t.is(origin.state.open, 8, 'eight concurrent requests left eight keep-alive connections');

  backEnd.update({ limits: { adaptive: false, initial: 3, max: 64 } });
  const lowered = performance.now();
  await waitFor(() => origin.state.open <= 3, 'idle connections past the new limit closed', 5_000);
  const tookMs = performance.now() - lowered;
  t.log(`8 → ${origin.state.open} connections ${tookMs.toFixed(0)} ms after the limit fell to 3`);
  t.true(tookMs < 2_500, 'within about one 1 s check, not the 3-minute idle timer');

  origin.state.peak = origin.state.open;
  const answers = await burst(12, 100);
  t.true(answers.every((answer) => answer.head.status === 200));
  t.true(origin.state.peak <= 3, `at most 3 connections under a burst of 12 (peak ${origin.state.peak})`);
  await sleep(50);
  t.true(origin.state.open <= 3);

  backEnd.update({ limits: { adaptive: false, initial: 6, max: 64 } });
  await burst(6, 300);
  t.is(origin.state.open, 6, 'a raised limit opens connections on demand up to it');
});
