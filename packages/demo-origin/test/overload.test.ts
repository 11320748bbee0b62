import test from 'ava';
import { Agent } from 'node:http';
import { fetchOnce, originFor } from './helpers.js';

/** Fires `count` concurrent requests and returns completed requests per second. */
async function throughput(origin: Parameters<typeof fetchOnce>[0], path: string, count: number): Promise<number> {
  const agent = new Agent({ keepAlive: true, maxSockets: count });
  const started = performance.now();
  const replies = await Promise.all(Array.from({ length: count }, () => fetchOnce(origin, path, { agent })));
  const seconds = (performance.now() - started) / 1000;
  agent.destroy();
  if (replies.some((reply) => reply.status !== 200)) throw new Error('a request failed');
  return count / seconds;
}

// Serial: these measure elapsed time, so they should not share the event loop with each other.
async function sequence<T>(times: number, run: () => Promise<T>): Promise<T[]> {
  const results: T[] = [];
  for (let i = 0; i < times; i++) results.push(await run());
  return results;
}

test.serial('capacity: past N concurrent requests throughput collapses', async (t) => {
  const origin = await originFor(t, { capacity: 4, serviceMs: 40 });
  // Best of three at capacity: the first batch also pays for connection set-up and warm-up.
  const atCapacity = Math.max(...(await sequence(3, () => throughput(origin, '/work/1024', 4))));
  const overloaded = await throughput(origin, '/work/1024', 16);
  // Modelled: 100 req/s at 4, 25 req/s at 16.
  t.true(overloaded < atCapacity * 0.6, `at capacity ${atCapacity.toFixed(0)}/s, 4x overloaded ${overloaded.toFixed(0)}/s`);
  const reply = await fetchOnce(origin, '/work/1024');
  t.is(reply.body.length, 1024);
  t.is(reply.headers['cache-control'], 'no-store');
});

test.serial('capacity: scope "work" leaves other routes alone, scope "all" models them but not /healthz', async (t) => {
  const workOnly = await originFor(t, { capacity: 1, serviceMs: 600 });
  let started = performance.now();
  await fetchOnce(workOnly, '/bytes/10');
  t.true(performance.now() - started < 400);

  const all = await originFor(t, { capacity: 1, serviceMs: 600, capacityScope: 'all' });
  started = performance.now();
  await fetchOnce(all, '/bytes/10');
  t.true(performance.now() - started >= 595);
  started = performance.now();
  await fetchOnce(all, '/healthz');
  t.true(performance.now() - started < 400);
});

test.serial('capacity: a client that leaves frees its share', async (t) => {
  const origin = await originFor(t, { capacity: 1, serviceMs: 300 });
  const { request } = await import('node:http');
  const abandoned = request(`${origin.url}/work/1`);
  abandoned.on('error', () => {});
  abandoned.end();
  await new Promise((resolve) => setTimeout(resolve, 20));
  abandoned.destroy();
  await new Promise((resolve) => setTimeout(resolve, 20));
  const started = performance.now();
  await fetchOnce(origin, '/work/1');
  // Alone it takes 300 ms; sharing with the abandoned one it would take about 4x as long.
  t.true(performance.now() - started < 700);
});
