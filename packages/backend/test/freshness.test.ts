import { createServer } from 'node:http';
import test from 'ava';
import type { BackEnd } from '@overlay/backend';
import { startHarness, waitFor } from './helpers.js';

/** An origin whose probe answer the test sets: a status and, when given, an `x-content-version`. */
async function versionedOrigin(t: { teardown(fn: () => void): void }) {
  const answer: { status: number; version?: string; probes: number; delayMs: number } = { status: 200, version: '7', probes: 0, delayMs: 0 };
  const server = createServer((req, res) => {
    answer.probes++;
    const { status, version } = answer;
    const reply = () => res.writeHead(status, version === undefined ? {} : { 'x-content-version': version }).end();
    if (answer.delayMs > 0) setTimeout(reply, answer.delayMs);
    else reply();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => server.close());
  return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}`, answer };
}

const freshnessOf = (backEnd: BackEnd) => backEnd.status().origins[0]?.freshness;

/** Waits for two more probes, so at least one answer given after the change has been read. */
async function afterProbes(answer: { probes: number }): Promise<void> {
  const seen = answer.probes;
  await waitFor(() => answer.probes >= seen + 2, 'two more probes');
}

test('the probe reads the freshness header of healthy answers; a failed probe keeps it, an answer without it forgets it', async (t) => {
  const origin = await versionedOrigin(t);
  const { backEnd } = await startHarness(t, {
    sites: { news: { origins: [{ url: origin.url }], healthCheck: { path: '/status', intervalMs: 100, freshness: { header: 'X-Content-Version' } } } },
    health: { intervalMs: 60_000, timeoutMs: 1_000, fall: 10 },
  });
  await waitFor(() => freshnessOf(backEnd) === 7, 'version 7 read');
  origin.answer.version = '9';
  await waitFor(() => freshnessOf(backEnd) === 9, 'version 9 read');
  origin.answer.status = 500;
  origin.answer.version = '1';
  await afterProbes(origin.answer);
  t.is(freshnessOf(backEnd), 9, 'a failed probe does not speak for the content');
  origin.answer.status = 200;
  origin.answer.version = undefined;
  await afterProbes(origin.answer);
  t.is(freshnessOf(backEnd), undefined);
});

test('a site that drops freshness forgets what its origins said', async (t) => {
  const origin = await versionedOrigin(t);
  const site = { origins: [{ url: origin.url }], healthCheck: { path: '/status', intervalMs: 100, freshness: { header: 'x-content-version' } } };
  const { backEnd } = await startHarness(t, { sites: { news: site }, health: { intervalMs: 60_000, timeoutMs: 1_000 } });
  await waitFor(() => freshnessOf(backEnd) === 7, 'version 7 read');
  // A probe sent under the old config is still out when the config changes; its answer must not count.
  origin.answer.delayMs = 300;
  const sent = origin.answer.probes;
  await waitFor(() => origin.answer.probes > sent, 'a probe in flight');
  backEnd.update({ sites: { news: { ...site, healthCheck: { path: '/status', intervalMs: 100 } } } });
  t.is(freshnessOf(backEnd), undefined);
  origin.answer.delayMs = 0;
  await afterProbes(origin.answer);
  t.is(freshnessOf(backEnd), undefined, 'probes no longer read it');
});
