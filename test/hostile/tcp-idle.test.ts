/**
 * TCP-mode sites: a carried connection that moves too little is closed at both ends. A back-end with 4
 * origin slots (fixed) serves a TCP site whose origin echoes, or floods when the first byte is `f`; the
 * front-end's site has a 1 s idle window. Silent clients, a trickling one (below `minBytesPerS`) and one
 * that stopped reading a flood are each cut, their origin connections close and the slots come back,
 * while a client that keeps talking stays.
 */
import { createServer, connect, type AddressInfo, type Server, type Socket } from 'node:net';
import test from 'ava';
import { parseHostPort, pollUntil } from '@overlay/common';
import { TUNNEL_KEY, metric, startRole, tempDir, type Cleanup } from './stack.js';

const IDLE_MS = 1_000;
const MIN_BYTES_PER_S = 64;
const SLOTS = 4;

interface TcpStack {
  listen: { host: string; port: number };
  frontAdmin: string;
  backAdmin: string;
  /** Origin connections open now. */
  originOpen: () => number;
}

/** Echoes; a connection whose first byte is `f` gets an endless flood instead (to fill a non-reader). */
function startOrigin(t: Cleanup): Promise<{ server: Server; open: Set<Socket> }> {
  const open = new Set<Socket>();
  const chunk = Buffer.alloc(64 * 1024, 'z');
  const server = createServer((socket) => {
    open.add(socket);
    socket.on('close', () => open.delete(socket));
    socket.on('error', () => {});
    socket.once('data', (first: Buffer) => {
      if (first[0] !== 0x66) {
        socket.write(first);
        socket.pipe(socket);
        return;
      }
      const flood = () => {
        while (!socket.destroyed && socket.write(chunk));
      };
      socket.on('drain', flood);
      flood();
    });
  });
  t.teardown(() => {
    for (const socket of open) socket.destroy();
    server.close();
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ server, open })));
}

async function startTcpStack(t: Cleanup): Promise<TcpStack> {
  const origin = await startOrigin(t);
  const dir = await tempDir(t);
  const backEnd = await startRole(t, dir, 'back-end', {
    id: 'be-h',
    tunnel: { listen: '127.0.0.1:0', keys: [TUNNEL_KEY] },
    admin: '127.0.0.1:0',
    state: {
      sites: { echo: { mode: 'tcp', origins: [{ url: `tcp://127.0.0.1:${(origin.server.address() as AddressInfo).port}` }] } },
      limits: { adaptive: false, min: SLOTS, max: SLOTS, initial: SLOTS },
      queue: { queueTimeoutMs: 30_000 },
    },
  });
  const frontEnd = await startRole(t, dir, 'front-end', {
    id: 'fe-h',
    http: { listen: '127.0.0.1:0' },
    admin: '127.0.0.1:0',
    state: {
      backEnds: { 'be-h': { tunnel: String(backEnd.ready.tunnel), key: TUNNEL_KEY } },
      sites: { echo: { domains: ['echo.test'], mode: 'tcp', listen: '127.0.0.1:0', backEnds: ['be-h'], idleTimeoutMs: IDLE_MS, minBytesPerS: MIN_BYTES_PER_S } },
    },
  });
  return { listen: parseHostPort((frontEnd.ready.tcp as Record<string, string>).echo), frontAdmin: String(frontEnd.ready.admin), backAdmin: String(backEnd.ready.admin), originOpen: () => origin.open.size };
}

interface Client {
  socket: Socket;
  received: () => number;
  closedAt: Promise<number>;
}

function client(t: Cleanup, stack: TcpStack): Client {
  const socket = connect(stack.listen);
  let received = 0;
  socket.on('data', (chunk: Buffer) => (received += chunk.length));
  socket.on('error', () => {});
  t.teardown(() => socket.destroy());
  return { socket, received: () => received, closedAt: new Promise((resolve) => socket.once('close', () => resolve(Date.now()))) };
}

/** Echo round trip on a fresh connection: proves a slot and the path are free. */
async function echoes(t: Cleanup, stack: TcpStack, timeoutMs = 10_000): Promise<boolean> {
  const good = client(t, stack);
  good.socket.write('hello');
  const ok = await pollUntil(() => good.received() >= 5 || good.socket.destroyed, { timeoutMs }) && good.received() >= 5;
  good.socket.destroy();
  return ok;
}

async function released(stack: TcpStack): Promise<boolean> {
  return pollUntil(async () =>
    stack.originOpen() === 0 &&
    (await metric(stack.frontAdmin, 'overlay_frontend_backend_held_streams')) === 0 &&
    (await metric(stack.backAdmin, 'overlay_backend_origin_in_flight')) === 0, { timeoutMs: 10_000 });
}

test('silent, trickling and non-reading TCP clients are cut after the idle window and free their origin slots; a talking one stays', async (t) => {
  const stack = await startTcpStack(t);
  // The ready line means listening; the tunnel comes up just after.
  t.true(await pollUntil(() => echoes(t, stack, 2_000), { timeoutMs: 15_000 }), 'the TCP site works');
  t.true(await released(stack));

  // More attackers than slots: the ones queued at the back-end get their turn once the first are cut.
  const started = Date.now();
  const silent = Array.from({ length: 2 * SLOTS }, () => client(t, stack));
  const trickler = client(t, stack);
  const trickle = setInterval(() => trickler.socket.destroyed || trickler.socket.write('x'), 100); // 10 B/s
  t.teardown(() => clearInterval(trickle));
  const nonReader = client(t, stack);
  nonReader.socket.write('f');
  nonReader.socket.pause();
  // Talks 20 B every 100 ms (400 B/s with the echo): well above the minimum.
  const talker = client(t, stack);
  const talk = setInterval(() => talker.socket.destroyed || talker.socket.write('0123456789abcdefghij'), 100);
  t.teardown(() => clearInterval(talk));

  // A client that reads nothing never sees the close (its FIN waits behind the unread bytes): the
  // front-end's count and the origin's side show it.
  const cut = 2 * SLOTS + 2;
  const closed = await Promise.all([...silent, trickler].map((c) => c.closedAt));
  t.true(await pollUntil(async () => (await metric(stack.frontAdmin, 'overlay_frontend_tcp_connections_total', { outcome: 'idle' })) === cut, { timeoutMs: 10 * IDLE_MS }));
  t.true(await pollUntil(() => stack.originOpen() === 1, { timeoutMs: 5_000 }), 'only the talker keeps an origin connection');
  t.log(`silent and trickling clients closed ${closed.map((at) => at - started).join(', ')} ms after connecting; all ${cut} cut after ${Date.now() - started} ms (idle window ${IDLE_MS} ms, ${SLOTS} origin slots)`);
  t.true(closed.every((at) => at - started >= IDLE_MS - 50), 'none is cut before a whole window went by');
  t.false(talker.socket.destroyed, 'a connection above the minimum rate stays');
  t.true(talker.received() > 0);
  t.true(await echoes(t, stack), 'a new connection gets a slot');

  clearInterval(talk);
  talker.socket.destroy();
  t.true(await released(stack), 'origin connections closed, no raw stream held at either end');
});
