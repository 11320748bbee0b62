import { request as httpRequest } from 'node:http';
import { startDemoOrigin, type DemoOrigin } from '@overlay/demo-origin';
import type { TunnelStream } from '@overlay/tunnel';
import type { FrontEnd } from '@overlay/frontend';
import test, { type ExecutionContext } from 'ava';
import { backEndsOf, metricSum, scrape, send, startTestFrontEnd, waitFor, waitForTunnels } from './support/helpers.js';
import { startTestBackEnd, type TestBackEnd } from './support/test-backend.js';

interface Pair {
  frontEnd: FrontEnd;
  a: TestBackEnd;
  b: TestBackEnd;
  origin: DemoOrigin;
}

/** A front-end with one site served by two back-ends, everything torn down after the test. */
async function twoBackEnds(t: ExecutionContext, http: Record<string, number> = {}): Promise<Pair> {
  const origin = await startDemoOrigin({ id: 'origin-f', host: '127.0.0.1', port: 0 });
  const a = await startTestBackEnd('be-a', { demo: { origin: origin.url } });
  const b = await startTestBackEnd('be-b', { demo: { origin: origin.url } });
  t.teardown(async () => {
    await Promise.all([a.close(), b.close()]);
    await origin.close();
  });
  const frontEnd = await startTestFrontEnd(
    {
      http: { listen: '127.0.0.1:0', closeGraceMs: 100, ...http },
      cache: { enabled: false },
      state: { backEnds: backEndsOf(a, b), sites: { demo: { domains: ['demo.test'], backEnds: ['be-a', 'be-b'] } } },
    },
    t,
  );
  await waitForTunnels(frontEnd, ['be-a', 'be-b']);
  return { frontEnd, a, b, origin };
}

const get = (frontEnd: FrontEnd, path = '/bytes/100') => send(frontEnd.http, { host: 'demo.test', path });
const post = (frontEnd: FrontEnd) => send(frontEnd.http, { host: 'demo.test', path: '/echo', method: 'POST', body: 'payload' });

test('a back-end whose tunnel is down is skipped at once', async (t) => {
  const { frontEnd, a } = await twoBackEnds(t);
  await a.close();
  const started = Date.now();
  for (let i = 0; i < 20; i++) {
    const reply = await get(frontEnd);
    t.is(reply.status, 200);
    t.is(reply.headers['x-overlay-backend'], 'be-b');
  }
  t.true(Date.now() - started < 3_000, 'no waiting on the dead route');
});

/**
 * Both back-ends answer "busy, retryable"; whichever gets the first attempt stays busy for it, and the
 * other is switched to serving as that attempt arrives, so the outcome does not depend on which is picked.
 */
async function firstAttemptBusy(t: ExecutionContext, request: (frontEnd: FrontEnd) => Promise<{ status: number; headers: Record<string, unknown> }>) {
  const pair = await twoBackEnds(t);
  let first: TestBackEnd | undefined;
  const onStream = (holder: TestBackEnd) => {
    first ??= holder;
    (holder === pair.a ? pair.b : pair.a).behaviour = 'serve';
    pair.a.onStream = pair.b.onStream = undefined;
  };
  pair.a.behaviour = pair.b.behaviour = 'busy';
  pair.a.onStream = pair.b.onStream = onStream;
  const reply = await request(pair.frontEnd);
  const holder = first as TestBackEnd;
  return { ...pair, reply, holder, other: holder === pair.a ? pair.b : pair.a };
}

test('an idempotent request answered "retryable" by one back-end is retried once on the other', async (t) => {
  const { frontEnd, reply, holder, other } = await firstAttemptBusy(t, (frontEnd) => get(frontEnd));
  t.is(reply.status, 200);
  t.is(reply.headers['x-overlay-backend'], other.id);
  t.is(holder.streams, 1);
  t.is(other.streams, 1);
  const metrics = await scrape(frontEnd.admin);
  t.is(metricSum(metrics, 'overlay_frontend_retries_total', { backend: holder.id, code: 'ERR_QUEUE_FULL' }), 1);
});

test('a POST answered "retryable" is not sent again: the back-end\'s own answer is passed through', async (t) => {
  const { reply, holder, other } = await firstAttemptBusy(t, (frontEnd) => post(frontEnd));
  t.is(reply.status, 503);
  t.is(reply.headers['x-overlay-backend'], holder.id);
  t.is(other.streams, 0);
});

/** Both back-ends hold the request; the one that got it then loses its tunnel, the other serves again. */
async function loseTunnelWhileWaiting(t: ExecutionContext, request: (frontEnd: FrontEnd) => Promise<{ status: number; headers: Record<string, unknown> }>) {
  const pair = await twoBackEnds(t);
  pair.a.behaviour = 'hang';
  pair.b.behaviour = 'hang';
  const pending = request(pair.frontEnd);
  await waitFor(() => pair.a.streams + pair.b.streams === 1, 'the request to reach a back-end');
  const [holder, other] = pair.a.streams === 1 ? [pair.a, pair.b] : [pair.b, pair.a];
  other.behaviour = 'serve';
  const cutAt = Date.now();
  holder.cutTunnels();
  const reply = await pending;
  return { reply, holder, other, elapsed: Date.now() - cutAt };
}

test('a GET whose tunnel connection is lost before the reply is retried on the other back-end', async (t) => {
  const { reply, other, elapsed } = await loseTunnelWhileWaiting(t, (frontEnd) => get(frontEnd));
  t.is(reply.status, 200);
  t.is(reply.headers['x-overlay-backend'], other.id);
  t.true(elapsed < 2_000);
});

test('a POST whose tunnel connection is lost before the reply fails fast with 502', async (t) => {
  const { reply, other, elapsed } = await loseTunnelWhileWaiting(t, (frontEnd) => post(frontEnd));
  t.is(reply.status, 502);
  t.is(reply.headers['x-overlay-error'], 'ERR_BACKEND_FAILED');
  t.is(other.streams, 0, 'not sent again');
  t.true(elapsed < 2_000);
});

test('no connected back-end: 502 at once; no response head in time: 504', async (t) => {
  const { frontEnd, a, b } = await twoBackEnds(t, { replyTimeoutMs: 300 });
  a.behaviour = 'hang';
  b.behaviour = 'hang';
  const timedOut = await get(frontEnd);
  t.is(timedOut.status, 504);
  t.is(timedOut.headers['x-overlay-error'], 'ERR_REPLY_TIMEOUT');
  await Promise.all([a.close(), b.close()]);
  const started = Date.now();
  const down = await get(frontEnd);
  t.is(down.status, 502);
  t.is(down.headers['x-overlay-error'], 'ERR_NO_BACKEND');
  t.true(Date.now() - started < 1_000);
});

test('a client that leaves before the response head resets its stream at once and is counted as 499', async (t) => {
  const { frontEnd, a, b } = await twoBackEnds(t);
  a.behaviour = 'hang';
  b.behaviour = 'hang';
  const waiting: TunnelStream[] = [];
  for (const backEnd of [a, b]) backEnd.server.on('stream', (stream: TunnelStream) => waiting.push(stream));
  const req = httpRequest({ host: '127.0.0.1', port: frontEnd.http.port, path: '/bytes/100', headers: { host: 'demo.test' } });
  req.on('error', () => {});
  req.end();
  await waitFor(() => waiting.length === 1, 'the back-end got the stream');
  req.destroy();
  // Well within the reply timeout (120 s by default): the front-end stops waiting when the client goes.
  await waitFor(() => waiting[0].destroyed, 'the stream was reset');
  await waitFor(async () => metricSum(await scrape(frontEnd.admin), 'overlay_frontend_requests_total', { status: '499' }) === 1, 'a 499 counted');
  t.is(metricSum(await scrape(frontEnd.admin), 'overlay_frontend_backend_failures_total'), 0, 'no error answer was attempted');
});
