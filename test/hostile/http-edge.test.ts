/**
 * Issue 17, case 7 (HTTP): pipelined good requests before a malformed one are answered first; two Host
 * fields are a 400; absolute-form targets (RFC 9112 §3.2.2) are served. Through real processes.
 */
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import test from 'ava';
import { parseHostPort } from '@overlay/common';
import { requireCommand, run } from '../helpers.js';
import { SITE, goodLatency, hookCleanup, metric, startStack, withinBar, type Stack } from './stack.js';

let stack: Stack;
const cleanup = hookCleanup();

/** Writes `bytes` on a fresh connection and returns everything the front-end sent until it closed. */
async function exchangeRaw(hostPort: string, bytes: string): Promise<string> {
  const { host, port } = parseHostPort(hostPort);
  const socket = connect({ host, port });
  await once(socket, 'connect');
  let answer = '';
  socket.on('data', (chunk: Buffer) => {
    answer += chunk.toString('latin1');
  });
  socket.on('error', () => {});
  socket.write(bytes);
  await Promise.race([once(socket, 'close'), new Promise((resolve) => setTimeout(resolve, 15_000))]);
  socket.destroy();
  return answer;
}

const statuses = (answer: string) => [...answer.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => Number(m[1]));

test.before(async () => {
  await requireCommand('curl', 'curl');
  stack = await startStack(cleanup);
});
test.after.always(() => cleanup.run());

test('pipelined good requests, then a malformed one: both answers, in order, then 400 and the close', async (t) => {
  const good = (n: number) => `GET /bytes/${n} HTTP/1.1\r\nHost: ${SITE}\r\n\r\n`;
  const answer = await exchangeRaw(stack.http, `${good(11)}${good(22)}GET /bytes/3 HTTP/1.1\r\nHo st: x\r\n\r\n`);
  t.deepEqual(statuses(answer), [200, 200, 400]);
  t.regex(answer, /content-length: 11\r\n/i);
  t.regex(answer, /content-length: 22\r\n/i);
  t.true(answer.indexOf('content-length: 11') < answer.indexOf('content-length: 22'));
  t.regex(answer.slice(answer.lastIndexOf('HTTP/1.1 400')), /connection: close/i);
});

test('two Host header fields get 400 and a close (RFC 9112 §3.2)', async (t) => {
  const answer = await exchangeRaw(stack.http, `GET / HTTP/1.1\r\nHost: ${SITE}\r\nHost: other.test\r\n\r\nGET / HTTP/1.1\r\nHost: ${SITE}\r\n\r\n`);
  t.deepEqual(statuses(answer), [400]);
  t.regex(answer, /connection: close/i);
  t.true((await metric(String(stack.frontEnd.ready.admin), 'overlay_frontend_client_refusals_total', { reason: 'duplicate-host' })) >= 1);
});

test('an absolute-form target is served, its authority taking the place of Host (curl through the front-end as a proxy)', async (t) => {
  const raw = await exchangeRaw(stack.http, `GET http://${SITE}/bytes/7 HTTP/1.1\r\nHost: ignored.test\r\nConnection: close\r\n\r\n`);
  t.deepEqual(statuses(raw), [200]);
  t.regex(raw, /content-length: 7\r\n/i);
  const { stdout } = await run('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code} %{size_download}', '-x', `http://${stack.http}`, `http://${SITE}/bytes/1000`]);
  t.is(stdout, '200 1000');
});

test('a lone malformed request still gets 400 at once', async (t) => {
  const answer = await exchangeRaw(stack.http, 'GET / HTTP/1.1\r\nHo st: x\r\n\r\n');
  t.deepEqual(statuses(answer), [400]);
});

test('slow heads: 200 trickling connections from one address never lock out another; each head has a whole-phase deadline', async (t) => {
  const slow = await startStack(t, { frontEndHttp: { headersTimeoutMs: 3_000, requestTimeoutMs: 10_000, maxHeadConnectionsPerSource: 64 } });
  const baseline = await goodLatency(slow.http);
  const { host, port } = parseHostPort(slow.http);
  const trickles: Array<{ socket: Socket; opened: number; closedAfter?: number }> = [];
  const timer = setInterval(() => {
    for (const entry of trickles) if (!entry.socket.destroyed) entry.socket.write('x');
  }, 200);
  t.teardown(() => {
    clearInterval(timer);
    for (const entry of trickles) entry.socket.destroy();
  });
  for (let i = 0; i < 200; i++) {
    const socket = connect({ host, port, localAddress: '127.0.0.2' });
    const entry: (typeof trickles)[number] = { socket, opened: Date.now() };
    socket.on('error', () => {});
    socket.on('close', () => (entry.closedAfter = Date.now() - entry.opened));
    socket.write(`GET / HTTP/1.1\r\nHost: ${SITE}\r\nX-Slow: `);
    trickles.push(entry);
  }
  const attacked = await goodLatency(slow.http, 5, 40); // within the tricklers' 3 s head deadline
  t.log('unattacked', baseline, 'attacked', attacked);
  t.true(withinBar(attacked, baseline));
  await new Promise((resolve) => setTimeout(resolve, 6_000));
  // Bytes arriving every 200 ms did not extend the 3 s head deadline: every trickler is gone by now.
  const open = trickles.filter((entry) => entry.closedAfter === undefined).length;
  t.is(open, 0);
  t.true(trickles.every((entry) => (entry.closedAfter as number) < 6_000));
  t.true((await metric(String(slow.frontEnd.ready.admin), 'overlay_frontend_client_refusals_total', { reason: 'head-slot-evicted' })) >= 200 - 64);
});
