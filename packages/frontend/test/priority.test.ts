import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { Agent, request as httpRequest } from 'node:http';
import { createInterface } from 'node:readline';
import type { FrontEnd } from '@overlay/frontend';
import test from 'ava';
import { send, startTestFrontEnd, waitForTunnels } from './support/helpers.js';
import { TEST_KEY } from './support/test-backend.js';

/** Median latency of `count` sequential small requests on one keep-alive connection, ms. */
async function medianLatency(frontEnd: FrontEnd, agent: Agent, count: number): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < count; i++) {
    const started = performance.now();
    const reply = await send(frontEnd.http, { host: 'fast.test', path: '/bytes/2000', agent });
    if (reply.status !== 200 || reply.headers['x-overlay-priority'] !== '0') throw new Error(`unexpected answer ${reply.status}`);
    times.push(performance.now() - started);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(count / 2)];
}

test('high-priority small requests keep close to unloaded latency while low-priority downloads saturate the tunnel', async (t) => {
  // The back-end and its origin run in their own process, as in production: the tunnel, not one shared
  // event loop, is what the downloads saturate.
  const child = spawn(process.execPath, [...process.execArgv, new URL('./support/backend-process.ts', import.meta.url).pathname, 'fast', 'bulk'], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  t.teardown(() => child.stdin?.end());
  const [line] = (await once(createInterface({ input: child.stdout }), 'line')) as [string];
  const { tunnel } = JSON.parse(line) as { tunnel: string };
  const frontEnd = await startTestFrontEnd(
    {
      cache: { enabled: false },
      state: {
        backEnds: { 'be-1': { tunnel, key: TEST_KEY } },
        sites: {
          fast: { domains: ['fast.test'], backEnds: ['be-1'], priorities: { default: 0, rules: [] } },
          bulk: { domains: ['bulk.test'], backEnds: ['be-1'], priorities: { default: 4, rules: [] } },
        },
      },
    },
    t,
  );
  await waitForTunnels(frontEnd, ['be-1']);
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  t.teardown(() => agent.destroy());
  await medianLatency(frontEnd, agent, 20); // warm up
  const unloaded = await medianLatency(frontEnd, agent, 30);

  let received = 0;
  const downloads = Array.from({ length: 6 }, () => {
    const req = httpRequest({ host: '127.0.0.1', port: frontEnd.http.port, path: '/bytes/10000000000', headers: { host: 'bulk.test' }, agent: false }, (res) => {
      res.on('data', (chunk: Buffer) => (received += chunk.length));
    });
    req.on('error', () => {});
    req.end();
    return req;
  });
  t.teardown(() => downloads.forEach((req) => req.destroy()));
  await new Promise((resolve) => setTimeout(resolve, 500));
  const before = received;
  const started = performance.now();
  const loaded = await medianLatency(frontEnd, agent, 30);
  const bulkMBps = (received - before) / 1e6 / ((performance.now() - started) / 1000);
  t.log(`median latency unloaded ${unloaded.toFixed(1)} ms, loaded ${loaded.toFixed(1)} ms; downloads ${bulkMBps.toFixed(0)} MB/s`);
  t.true(bulkMBps > 5, 'the downloads were really running');
  // Generous, so a machine busy with other work does not fail it (on an idle 2-core box: ~3 ms unloaded,
  // 10-25 ms loaded). What it catches is gross breakage: small requests held behind whole downloads
  // (buffering without bound somewhere on the path, or scheduling that lets bulk streams starve the others).
  const bound = Math.max(unloaded * 10, 500);
  t.true(loaded < bound, `loaded median ${loaded.toFixed(1)} ms vs unloaded ${unloaded.toFixed(1)} ms (bound ${bound.toFixed(0)} ms)`);
});
