import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { parseHostPort, pollUntil, startProcess, type StartedProcess } from '@overlay/common';
import { TunnelClient } from '@overlay/tunnel';
import { OVERLAY } from '../../../test/helpers.js';
import { countingProxy, demoOrigin, exchange, httpHead, KEY, sleep } from './helpers.js';

const TOKEN = 'budget-test-manager-token-0123';
/** The origin's budget, shared by both back-ends. */
const BUDGET = 8;
/** 10× overload: this many closed-loop clients, half through each back-end. */
const CLIENTS = 10 * BUDGET;
const SERVICE_MS = 100;

const dir = mkdtempSync(join(tmpdir(), 'overlay-budget-'));
const write = (name: string, value: unknown) => {
  writeFileSync(join(dir, name), JSON.stringify(value, null, 2));
  return join(dir, name);
};

async function start(t: { teardown(fn: () => Promise<unknown>): void }, role: string, file: string): Promise<StartedProcess> {
  const started = await startProcess(process.execPath, [OVERLAY, role, '--config', file]);
  t.teardown(() => started.stop());
  return started;
}

async function api(base: string, method: string, path: string, body?: unknown): Promise<any> {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
  return res.json();
}

/** Each back-end's reported share of the origin, once both have one. */
async function shares(manager: string, url: string, ids: string[]): Promise<Record<string, number | undefined>> {
  const { backEnds } = await api(manager, 'GET', '/v1/back-ends');
  return Object.fromEntries(ids.map((id) => [id, backEnds[id]?.origins?.find((origin: { url: string }) => origin.url === url)?.share]));
}

test('two back-ends serving one origin with maxConcurrency 8 never put more than 8 in service under a 10× overload; a back-end leaving frees its share', async (t) => {
  const origin = await demoOrigin(t, { id: 'o-1' });
  const proxy = await countingProxy(t, origin);
  const manager = await start(t, 'manager', write('manager.json', {
    role: 'both', listen: '127.0.0.1:0', token: TOKEN, dataDir: join(dir, 'data'), reportTimeoutMs: 3_000, feed: { reportPushDelayMs: 50 },
  }));
  const managerUrl = String(manager.ready.url);
  const backEnds: StartedProcess[] = [];
  for (const id of ['be-1', 'be-2']) {
    backEnds.push(await start(t, 'back-end', write(`${id}.json`, {
      id, tunnel: { listen: '127.0.0.1:0', keys: [KEY] }, admin: '127.0.0.1:0', drainTimeoutMs: 1_000,
      manager: { url: managerUrl, token: TOKEN },
      state: { health: { intervalMs: 60_000 } },
    })));
  }
  await api(managerUrl, 'PUT', '/v1/sites/shop', {
    domains: ['shop.test'], origins: [{ url: proxy.url, maxConcurrency: BUDGET }], backEnds: ['be-1', 'be-2'],
  });
  let both: Record<string, number | undefined> = {};
  t.true(await pollUntil(async () => {
    both = await shares(managerUrl, proxy.url, ['be-1', 'be-2']);
    return (both['be-1'] ?? 0) > 0 && (both['be-2'] ?? 0) > 0;
  }, { timeoutMs: 15_000, intervalMs: 100 }), `both back-ends get a share: ${JSON.stringify(both)}`);
  t.true((both['be-1'] ?? 0) + (both['be-2'] ?? 0) <= BUDGET, `shares ${JSON.stringify(both)}`);

  const clients = backEnds.map((backEnd, index) => {
    const { host, port } = parseHostPort(String(backEnd.ready.tunnel));
    return new TunnelClient({ id: `fe-${index}`, host, port, key: KEY }).start();
  });
  t.teardown(async () => {
    await Promise.race([Promise.all(clients.map((client) => client.close())), sleep(1_000)]);
    for (const client of clients) for (const session of client.sessions) session.destroy();
  });
  await Promise.all(clients.map((client) => client.ready(5_000)));
  proxy.reset();

  const served = [0, 0];
  const statuses = new Map<number, number>();
  const until = performance.now() + 6_000;
  const reported: Array<Record<string, number | undefined>> = [];
  const watching = (async () => {
    while (performance.now() < until) {
      reported.push(await shares(managerUrl, proxy.url, ['be-1', 'be-2']));
      await sleep(500);
    }
  })();
  await Promise.all(Array.from({ length: CLIENTS }, async (_, index) => {
    const side = index % 2;
    while (performance.now() < until) {
      const answer = await exchange(clients[side], httpHead('shop', 'GET', `/slow/${SERVICE_MS}`)).catch(() => undefined);
      if (!answer) return;
      statuses.set(answer.head.status, (statuses.get(answer.head.status) ?? 0) + 1);
      if (answer.head.status === 200) served[side]++;
    }
  }));
  await watching;

  t.log(`origin peak ${proxy.stats.maxInFlight}, served ${served.join(' + ')}, statuses ${JSON.stringify([...statuses])}, shares seen ${JSON.stringify(reported.slice(-3))}`);
  t.true(proxy.stats.maxInFlight <= BUDGET, `the origin saw ${proxy.stats.maxInFlight} at once`);
  t.true(proxy.stats.maxInFlight >= BUDGET / 2, 'the budget is used, not starved');
  t.true(served[0] > 0 && served[1] > 0, 'both back-ends serve');
  for (const seen of reported) t.true((seen['be-1'] ?? 0) + (seen['be-2'] ?? 0) <= BUDGET, `reported shares ${JSON.stringify(seen)}`);

  // be-2 goes away: once the manager sees it silent, be-1 gets the whole budget.
  await backEnds[1].stop();
  t.true(await pollUntil(async () => (await shares(managerUrl, proxy.url, ['be-1']))['be-1'] === BUDGET, { timeoutMs: 15_000, intervalMs: 200 }), 'be-1 holds the whole budget');
});
