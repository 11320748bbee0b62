/**
 * Idle and trickling TCP connections cannot lock new clients out (issue 16, issue 17 point 5): the real
 * dig still gets answers over TCP while hundreds of connections sit idle or trickle bytes.
 */
import net from 'node:net';
import test from 'ava';
import { dig, requireDig } from './helpers/dig.js';
import { popBAddresses } from './helpers/fixture.js';
import { startTestRedirector } from './helpers/server.js';

function connectFrom(port: number, localAddress: string): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port, host: '127.0.0.1', localAddress }, () => resolve(socket));
    socket.on('error', () => undefined);
    socket.once('error', reject);
  });
}

function closedWithin(socket: net.Socket, ms: number): Promise<number | undefined> {
  const started = Date.now();
  return new Promise((resolve) => {
    if (socket.destroyed) return resolve(0);
    const timer = setTimeout(() => resolve(undefined), ms);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve(Date.now() - started);
    });
  });
}

test.before(async () => {
  await requireDig();
});

test('300 idle TCP connections, then dig +tcp is answered at once', async (t) => {
  const server = await startTestRedirector();
  t.teardown(() => server.close());
  const sockets: net.Socket[] = [];
  t.teardown(() => sockets.forEach((socket) => socket.destroy()));
  // From eight loopback sources, so both the per-source share and the whole table fill.
  for (let i = 0; i < 300; i++) sockets.push(await connectFrom(server.tcpPort, `127.0.3.${(i % 8) + 1}`));
  for (let i = 0; i < 3; i++) {
    const r = await dig(server.tcpPort, 'tcp', ['shop.demo.test', 'A', '+subnet=10.2.0.0/24', '+tries=1', '+time=2']);
    t.is(r.status, 'NOERROR');
    t.deepEqual(r.answer.map((rr) => rr.data), popBAddresses);
  }
  const open = sockets.filter((socket) => !socket.destroyed).length;
  t.true(open <= 256, `at most maxConnections stay open, got ${open}`);
});

test('256 connections trickling a byte a second toward a 65,535-byte message do not lock out new queries, and are closed', async (t) => {
  const server = await startTestRedirector(undefined, { tcp: { messageTimeoutMs: 2000 } });
  t.teardown(() => server.close());
  const sockets: net.Socket[] = [];
  t.teardown(() => sockets.forEach((socket) => socket.destroy()));
  for (let i = 0; i < 256; i++) {
    const socket = await connectFrom(server.tcpPort, `127.0.4.${(i % 8) + 1}`);
    socket.write(Buffer.from([0xff, 0xff, 0x00]));
    sockets.push(socket);
  }
  const trickle = setInterval(() => {
    for (const socket of sockets) if (!socket.destroyed) socket.write(Buffer.from([0]));
  }, 1000);
  t.teardown(() => clearInterval(trickle));
  const firstClosed = closedWithin(sockets[0] as net.Socket, 15_000);
  let answered = 0;
  for (let i = 0; i < 10; i++) {
    const r = await dig(server.tcpPort, 'tcp', ['shop.demo.test', 'A', '+tries=1', '+time=2']).catch(() => undefined);
    if (r?.status === 'NOERROR' && r.answer.length === 1) answered++;
  }
  t.is(answered, 10, 'every new TCP query answered during the trickle');
  const after = await firstClosed;
  t.not(after, undefined, 'a trickling connection is closed although it keeps sending bytes');
});

test('a whole message must arrive within messageTimeoutMs: bytes every 200 ms do not extend it', async (t) => {
  const server = await startTestRedirector(undefined, { tcp: { messageTimeoutMs: 1000, idleTimeoutMs: 60_000 } });
  t.teardown(() => server.close());
  const socket = await connectFrom(server.tcpPort, '127.0.0.1');
  t.teardown(() => socket.destroy());
  socket.write(Buffer.from([0x00, 0x40]));
  const trickle = setInterval(() => !socket.destroyed && socket.write(Buffer.from([0])), 200);
  t.teardown(() => clearInterval(trickle));
  const after = await closedWithin(socket, 10_000);
  t.not(after, undefined, 'closed');
  t.true((after as number) >= 700, `not before the deadline (${after} ms)`);
});
