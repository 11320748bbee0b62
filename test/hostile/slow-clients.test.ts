/**
 * Issue 17, case 2: clients that stop reading, and uploads that trickle, must not keep origin slots.
 * A back-end with 16 origin slots (fixed) and a short stall deadline; 64 clients ask for 64 MiB and read
 * nothing, then 40 clients upload at 1 byte/s. Each attacker's slot comes back within the deadline
 * (counted in overlay_backend_abandoned_requests_total) and good requests keep their bar while the
 * attackers stay connected.
 */
import { connect, type Socket } from 'node:net';
import test from 'ava';
import { parseHostPort, pollUntil } from '@overlay/common';
import { SITE, goodTraffic, metric, sleep, startStack, withinBar, type Stack } from './stack.js';

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
  const baseline = await goodTraffic(stack.http, 200);
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
  const attacked = await goodTraffic(stack.http, 200);
  t.log('unattacked', baseline, 'first moments of the attack', early, `all 64 let go after ${released} ms (${abandoned} abandoned)`, 'attackers still connected', attacked);
  t.true(abandoned >= 16, 'stalled responses were abandoned, not merely timed out in the queue');
  t.true(withinBar(attacked, baseline));
});

test('40 uploads trickling 1 byte/s are cut (408 before a head, a reset after) and free their slots', async (t) => {
  const stack = await slowStack(t);
  const admin = String(stack.backEnd.ready.admin);
  const baseline = await goodTraffic(stack.http, 200);
  const sockets = attackers(t, stack.http, 40, `POST /echo HTTP/1.1\r\nHost: ${SITE}\r\nContent-Length: 100000\r\n\r\n`);
  const trickle = setInterval(() => sockets.forEach((socket) => socket.destroyed || socket.write('x')), 1_000);
  t.teardown(() => clearInterval(trickle));
  const early = await goodTraffic(stack.http, 100);
  const resolved = async () =>
    (await metric(admin, 'overlay_backend_abandoned_requests_total', { reason: 'slow-upload' })) +
    (await metric(admin, 'overlay_backend_requests_total', { status: '503' }));
  t.true(await pollUntil(async () => (await resolved()) >= 40, { timeoutMs: 60_000 }), 'every trickler cut, or refused while it queued');
  t.true((await metric(admin, 'overlay_backend_abandoned_requests_total', { reason: 'slow-upload' })) >= 16);
  const attacked = await goodTraffic(stack.http, 200);
  t.log('unattacked', baseline, 'first moments of the attack', early, 'after', attacked);
  t.true(early.successRate >= 0.99);
  t.true(withinBar(attacked, baseline));
});
