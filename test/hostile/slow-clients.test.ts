/**
 * Issue 17, case 2: clients that stop reading, and uploads that trickle, must not keep origin slots.
 * A back-end with 16 origin slots (fixed) and a short stall deadline; 64 clients ask for 64 MiB and read
 * nothing, then 40 clients upload at 1 byte/s. Each attacker's slot comes back within the deadline
 * (counted in overlay_backend_abandoned_requests_total) and good requests keep their bar while the
 * attackers stay connected.
 */
import { createServer } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import test from 'ava';
import { parseHostPort, pollUntil } from '@overlay/common';
import { SITE, TUNNEL_KEY, frontEndConfig, get, goodLatency, goodTraffic, metric, startRole, startStack, tempDir, withinBar, type Stack } from './stack.js';

const STALL_MS = 1_500;
const UPLOAD_WINDOW_MS = 1_500;

async function slowStack(t: Parameters<typeof startStack>[0]): Promise<Stack> {
  return startStack(t, {
    backEndState: {
      limits: { adaptive: false, min: 16, max: 16, initial: 16 },
      queue: { queueTimeoutMs: 10_000 },
      pool: { stallTimeoutMs: STALL_MS, minUploadBytesPerS: 256, uploadWindowMs: UPLOAD_WINDOW_MS },
    },
  });
}

function attackers(t: { teardown(fn: () => void): void }, hostPort: string, count: number, request: string): Socket[] {
  const { host, port } = parseHostPort(hostPort);
  const sockets: Socket[] = [];
  for (let i = 0; i < count; i++) {
    const socket = connect({ host, port, localAddress: '127.0.0.2' });
    socket.on('error', () => {});
    socket.write(request);
    sockets.push(socket);
  }
  t.teardown(() => sockets.forEach((socket) => socket.destroy()));
  return sockets;
}

test('64 clients that never read a 64 MiB download give their origin slots back', async (t) => {
  const stack = await slowStack(t);
  const admin = String(stack.backEnd.ready.admin);
  const baseline = await goodLatency(stack.http);
  const sockets = attackers(t, stack.http, 64, `GET /bytes/${64 * 1024 * 1024} HTTP/1.1\r\nHost: ${SITE}\r\n\r\n`);
  for (const socket of sockets) socket.pause();
  const started = Date.now();
  // Good traffic from the first moment of the attack (reported, see docs/back-end.md "Slow clients":
  // until the stalled slots come back, good requests queue behind the attackers).
  const early = await goodTraffic(stack.http, 40);
  // Every attacker's slot comes back: abandoned once stalled, or refused at the queue while it waited.
  const resolved = async () =>
    (await metric(admin, 'overlay_backend_abandoned_requests_total', { reason: 'slow-reader' })) +
    (await metric(admin, 'overlay_backend_requests_total', { status: '503' }));
  t.true(await pollUntil(async () => (await resolved()) >= 64, { timeoutMs: 60_000 }), 'every non-reader let go of its slot');
  const released = Date.now() - started;
  const abandoned = await metric(admin, 'overlay_backend_abandoned_requests_total', { reason: 'slow-reader' });
  const attacked = await goodLatency(stack.http);
  t.log('unattacked', baseline, 'first moments of the attack', early, `all 64 let go after ${released} ms (${abandoned} abandoned)`, 'attackers still connected', attacked);
  t.true(abandoned >= 16, 'stalled responses were abandoned, not merely timed out in the queue');
  t.true(withinBar(attacked, baseline));
});

test('40 uploads trickling 1 byte/s are cut (408 before a head, a reset after) and free their slots', async (t) => {
  const stack = await slowStack(t);
  const admin = String(stack.backEnd.ready.admin);
  const baseline = await goodLatency(stack.http);
  const sockets = attackers(t, stack.http, 40, `POST /echo HTTP/1.1\r\nHost: ${SITE}\r\nContent-Length: 100000\r\n\r\n`);
  const trickle = setInterval(() => sockets.forEach((socket) => socket.destroyed || socket.write('x')), 1_000);
  t.teardown(() => clearInterval(trickle));
  const early = await goodTraffic(stack.http, 100);
  const resolved = async () =>
    (await metric(admin, 'overlay_backend_abandoned_requests_total', { reason: 'slow-upload' })) +
    (await metric(admin, 'overlay_backend_requests_total', { status: '503' }));
  t.true(await pollUntil(async () => (await resolved()) >= 40, { timeoutMs: 60_000 }), 'every trickler cut, or refused while it queued');
  t.true((await metric(admin, 'overlay_backend_abandoned_requests_total', { reason: 'slow-upload' })) >= 16);
  const attacked = await goodLatency(stack.http);
  t.log('unattacked', baseline, 'first moments of the attack', early, 'after', attacked);
  t.true(early.successRate >= 0.99);
  t.true(withinBar(attacked, baseline));
});

test('an upload slower than the minimum rate to an origin that waits for the whole body gets 408 ERR_UPLOAD_TOO_SLOW; a fast one is served', async (t) => {
  // An origin that answers only once it has the whole body, so the cut comes before any response head.
  const origin = createServer((req, res) => {
    let size = 0;
    req.on('data', (chunk: Buffer) => (size += chunk.length));
    req.on('end', () => res.end(`got ${size}`));
  });
  await new Promise<void>((resolve) => origin.listen(0, '127.0.0.1', resolve));
  t.teardown(() => {
    origin.closeAllConnections();
    origin.close();
  });
  const dir = await tempDir(t);
  const backEnd = await startRole(t, dir, 'back-end', {
    id: 'be-h', tunnel: { listen: '127.0.0.1:0', keys: [TUNNEL_KEY] }, admin: '127.0.0.1:0',
    state: { sites: { shop: { origins: [{ url: `http://127.0.0.1:${(origin.address() as AddressInfo).port}` }] } }, pool: { minUploadBytesPerS: 256, uploadWindowMs: UPLOAD_WINDOW_MS } },
  });
  const frontEnd = await startRole(t, dir, 'front-end', frontEndConfig(String(backEnd.ready.tunnel)));
  const http = String(frontEnd.ready.http);
  t.true(await pollUntil(async () => (await get(http, '/')).status === 200, { timeoutMs: 15_000 }));

  const [slow] = attackers(t, http, 1, `POST /upload HTTP/1.1\r\nHost: ${SITE}\r\nContent-Length: 1000\r\n\r\n`);
  let answer = '';
  slow.on('data', (chunk: Buffer) => (answer += chunk.toString('latin1')));
  const trickle = setInterval(() => slow.destroyed || slow.write('x'), 1_000);
  t.teardown(() => clearInterval(trickle));
  const started = Date.now();
  t.true(await pollUntil(() => answer.includes('\r\n\r\n'), { timeoutMs: 20_000 }));
  t.regex(answer, /^HTTP\/1\.1 408 /);
  t.regex(answer, /ERR_UPLOAD_TOO_SLOW/);
  t.log(`cut after ${Date.now() - started} ms`);

  const { host, port } = parseHostPort(http);
  const fast = await new Promise<string>((resolve, reject) => {
    const socket = connect({ host, port });
    let text = '';
    socket.on('data', (chunk: Buffer) => (text += chunk.toString('latin1')));
    socket.on('error', reject);
    socket.on('close', () => resolve(text));
    socket.write(`POST /upload HTTP/1.1\r\nHost: ${SITE}\r\nContent-Length: 100000\r\nConnection: close\r\n\r\n${'y'.repeat(100_000)}`);
  });
  t.regex(fast, /^HTTP\/1\.1 200 /);
  t.regex(fast, /got 100000/);
});
