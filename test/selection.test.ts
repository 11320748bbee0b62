import { mkdtempSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { parseHostPort, startProcess, type StartedProcess } from '@overlay/common';
import { startDemoOrigin } from '@overlay/demo-origin';
import { OVERLAY } from './helpers.js';

const KEY = 'selection-test-tunnel-key-0123';
const CONCURRENT = 40;
/** One-way delay of every link but a congested one, ms. */
const LINK_MS = 20;
const dir = mkdtempSync(join(tmpdir(), 'overlay-selection-'));
const agent = new Agent({ keepAlive: true, maxSockets: Infinity });

async function role(t: { teardown(fn: () => Promise<unknown>): void }, name: string, command: string, config: object): Promise<StartedProcess> {
  const file = join(dir, `${name}.json`);
  writeFileSync(file, JSON.stringify(config));
  const started = await startProcess(process.execPath, [OVERLAY, command, '--config', file]);
  t.teardown(() => started.stop());
  return started;
}

/**
 * A TCP hop that holds every chunk `delayMs` in each direction (in order), like a congested link; the
 * delay can change while connections are open.
 */
async function delayingHop(target: { host: string; port: number }): Promise<{ port: number; delayMs: number; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const hop = {
    port: 0,
    delayMs: 0,
    close: () => new Promise<void>((resolve) => {
      for (const socket of sockets) socket.destroy();
      server.close(() => resolve());
    }),
  };
  const relay = (from: Socket, to: Socket) => {
    let due = 0;
    from.on('data', (chunk) => {
      due = Math.max(performance.now() + hop.delayMs, due);
      setTimeout(() => to.write(chunk), due - performance.now());
    });
    from.on('close', () => to.destroy());
    from.on('error', () => to.destroy());
  };
  const server: Server = createServer((client) => {
    const upstream = createConnection(target);
    for (const socket of [client, upstream]) sockets.add(socket);
    relay(client, upstream);
    relay(upstream, client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  hop.port = (server.address() as { port: number }).port;
  return hop;
}

/** `count` requests at once to the front-end for `site`; which back-end answered each. */
async function burst(http: { host: string; port: number }, host: string, count: number, path = '/slow/300'): Promise<Map<string, number>> {
  const answers = await Promise.all(Array.from({ length: count }, () => new Promise<string>((resolve, reject) => {
    const req = request({ ...http, path, headers: { host }, agent }, (res) => {
      let body = '';
      res.on('data', (c) => { body += c; });
      res.on('end', () => resolve(`${res.statusCode} ${String(res.headers['x-overlay-backend'])}${res.statusCode === 200 ? '' : ' ' + body.slice(0, 200)}`));
    });
    req.on('error', reject);
    req.end();
  })));
  const counts = new Map<string, number>();
  for (const answer of answers) counts.set(answer, (counts.get(answer) ?? 0) + 1);
  return counts;
}

/** Each route's link cost as the front-end's selector scores it (from its /metrics). */
async function linkCosts(admin: string, ids: string[]): Promise<Record<string, number>> {
  const text = await (await fetch(`http://${admin}/metrics`)).text();
  const cost = (id: string) => Number(new RegExp(`^overlay_frontend_backend_link_cost_ms\\{[^}]*backend="${id}"[^}]*\\} (\\S+)$`, 'm').exec(text)?.[1] ?? -1);
  return Object.fromEntries(ids.map((id) => [id, cost(id)]));
}

/** Polls until the given back-ends' link costs are within the selector's 25 % tolerance of each other. */
async function equalLinks(admin: string, ids: string[], timeoutMs = 30_000): Promise<Record<string, number>> {
  const deadline = performance.now() + timeoutMs;
  let costs: Record<string, number> = {};
  for (;;) {
    costs = await linkCosts(admin, ids);
    const values = Object.values(costs);
    if (values.every((value) => value > 0) && Math.max(...values) <= Math.min(...values) * 1.25) return costs;
    if (performance.now() > deadline) throw new Error(`the links never measured equal: ${JSON.stringify(costs)}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

test('40 concurrent requests spread evenly over two equal back-ends; a route out of congestion gets traffic again at its next RTT sample', async (t) => {
  const origin = await startDemoOrigin({ id: 'o-sel', host: '127.0.0.1', port: 0 });
  t.teardown(() => origin.close());
  const sites = { even: { origins: [{ url: origin.url }] }, recover: { origins: [{ url: origin.url }] } };
  const backEnds: Record<string, StartedProcess> = {};
  for (const id of ['be-1', 'be-2', 'be-3']) {
    backEnds[id] = await role(t, id, 'back-end', {
      id, tunnel: { listen: '127.0.0.1:0', keys: [KEY] }, admin: '127.0.0.1:0', drainTimeoutMs: 500,
      state: { sites, limits: { adaptive: false, initial: 256, max: 256 }, health: { intervalMs: 60_000 } },
    });
  }
  // Every back-end sits behind a link of its own, 20 ms each way as a long leg would be (on bare loopback
  // the RTT is scheduling noise of the shared machine). be-3's link starts congested (150 ms each way).
  const hops: Record<string, Awaited<ReturnType<typeof delayingHop>>> = {};
  for (const id of ['be-1', 'be-2', 'be-3']) {
    hops[id] = await delayingHop(parseHostPort(String(backEnds[id].ready.tunnel)));
    hops[id].delayMs = LINK_MS;
  }
  t.teardown(() => Promise.all(Object.values(hops).map((hop) => hop.close())));
  const hop = hops['be-3'];
  hop.delayMs = 150;
  const frontEnd = await role(t, 'fe', 'front-end', {
    id: 'fe-1', http: { listen: '127.0.0.1:0' }, admin: '127.0.0.1:0',
    state: {
      backEnds: {
        'be-1': { tunnel: `127.0.0.1:${hops['be-1'].port}`, key: KEY },
        'be-2': { tunnel: `127.0.0.1:${hops['be-2'].port}`, key: KEY },
        'be-3': { tunnel: `127.0.0.1:${hops['be-3'].port}`, key: KEY },
      },
      sites: {
        even: { domains: ['even.test'], backEnds: ['be-1', 'be-2'] },
        recover: { domains: ['recover.test'], backEnds: ['be-1', 'be-3'] },
      },
    },
  });
  const http = parseHostPort(String(frontEnd.ready.http));
  // A few PINGs answered on every tunnel (one a second, after three early ones). The first sample, taken
  // while the processes start, is often tens of ms even on loopback: later ones show it was not
  // congestion, and the selector forgets it (docs/balancing.md).
  await new Promise((resolve) => setTimeout(resolve, 2_500));
  // "Equal routes" as the selector measures them: wait until both links' costs are within its 25 %
  // tolerance (a loaded machine can make two 20 ms links measure 40 and 65 ms for a while).
  const linkCost = await equalLinks(String(frontEnd.ready.admin), ['be-1', 'be-2']);
  t.log(`link costs before the burst: ${JSON.stringify(linkCost)}`);

  const even = await burst(http, 'even.test', CONCURRENT);
  t.log(`even: ${JSON.stringify([...even])}`);
  const one = even.get('200 be-1') ?? 0;
  const two = even.get('200 be-2') ?? 0;
  t.is(one + two, CONCURRENT, 'every request answered by one of the two');
  t.true(Math.abs(one - two) <= CONCURRENT / 10, `within 10 %: ${one} / ${two}`);

  const congestedCost = await linkCosts(String(frontEnd.ready.admin), ['be-1', 'be-3']);
  const congested = await burst(http, 'recover.test', CONCURRENT);
  t.log(`congested (link costs ${JSON.stringify(congestedCost)}): ${JSON.stringify([...congested])}`);
  // 300 ms against 40: it joins only once be-1 has several times as many queued (by design: cost of one more).
  // How many depends on how slow this machine makes be-1's link look (40 ms links measure 55 to 115 ms
  // here): a loaded host gives be-3 10 of 40, a quiet one 5. Equal treatment would be 20.
  const slow = congested.get('200 be-3') ?? 0;
  t.true(slow * 2 <= (congested.get('200 be-1') ?? 0), `the congested route carries at most half of what the good one does: ${slow}`);

  // The link recovers. The next PING (every second) measures it; bursts keep going until be-3 answers one.
  hop.delayMs = LINK_MS;
  const recoveredAt = performance.now();
  let seenAfterMs: number | undefined;
  while (seenAfterMs === undefined && performance.now() - recoveredAt < 15_000) {
    const counts = await burst(http, 'recover.test', CONCURRENT, '/slow/100');
    // Recovered, the routes are equal again (as far as this machine's noisy PINGs tell): a real share.
    if ((counts.get('200 be-3') ?? 0) >= CONCURRENT / 4) seenAfterMs = performance.now() - recoveredAt;
    else t.log(`after ${(performance.now() - recoveredAt).toFixed(0)} ms: ${JSON.stringify([...counts])}`);
  }
  t.log(`be-3 carried traffic again ${seenAfterMs?.toFixed(0)} ms after its link recovered`);
  t.not(seenAfterMs, undefined, 'the recovered route carries its share again');
  // One PING interval (1 s) plus the burst that saw it (100 ms, or 300 ms in flight), with room for a loaded machine.
  t.true((seenAfterMs ?? Infinity) <= 5_000, `within about one PING interval: ${seenAfterMs} ms`);
});
