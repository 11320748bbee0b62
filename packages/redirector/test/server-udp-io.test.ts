/**
 * UDP in batches (batched-udp.ts, native/udp-batch.c) and the node:dgram fallback: bursts larger than one
 * batch, two clients at once, an oversized datagram, and a close under load.
 */
import dgram from 'node:dgram';
import test from 'ava';
import { demoState, popBAddresses } from './helpers/fixture.js';
import { startTestRedirector } from './helpers/server.js';
import { query, responseHeader } from './helpers/wire.js';
import type { RedirectorConfigInput, RunningRedirector, UdpIo } from '@overlay/redirector';

/** More queries than one batch (64) holds, sent at once. */
const BURST = 300;

/** A name of the site in a case pattern of its own for `id` (as 0x20 randomizes), so a reply shows whose question it echoes. */
function casedName(id: number): string {
  const name = 'shop.demo.test';
  return [...name].map((char, at) => ((id >> at % 9) & 1 ? char.toUpperCase() : char)).join('');
}

async function client(host = '127.0.0.1'): Promise<dgram.Socket> {
  // Room for every reply of a burst, so the test measures the server, not this socket.
  const socket = dgram.createSocket({ type: 'udp4', recvBufferSize: 4 * 1024 * 1024 });
  await new Promise<void>((resolve) => socket.bind(0, host, resolve));
  return socket;
}

/** Sends a burst of distinct queries without pacing and returns each reply's question name by id. */
async function burst(server: RunningRedirector, socket: dgram.Socket, firstId: number): Promise<Map<number, string>> {
  const echoed = new Map<number, string>();
  socket.on('message', (message) => {
    const { id } = responseHeader(message);
    // The question name as the reply echoes it, labels joined back with dots.
    const labels: string[] = [];
    for (let at = 12; message[at] !== 0; at += (message[at] as number) + 1) labels.push(message.toString('latin1', at + 1, at + 1 + (message[at] as number)));
    echoed.set(id, labels.join('.'));
  });
  for (let id = firstId; id < firstId + BURST; id++) socket.send(query({ id, name: casedName(id) }), server.udpPort, '127.0.0.1');
  const deadline = Date.now() + 5000;
  while (echoed.size < BURST && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
  return echoed;
}

function checkEchoes(t: import('ava').ExecutionContext, echoed: Map<number, string>, firstId: number): void {
  t.is(echoed.size, BURST, 'every query answered');
  const wrong = [...echoed].filter(([id, name]) => name !== casedName(id));
  t.deepEqual(wrong, [], 'each reply echoes its own question, case and all');
  t.true([...echoed.keys()].every((id) => id >= firstId && id < firstId + BURST), 'replies only to this client');
}

/** A burst of several batches through the UDP I/O `config` leads to, each reply to its own question. */
const burstAnswered = test.macro(async (t, config: Partial<RedirectorConfigInput>, io: UdpIo, why: string) => {
  const server = await startTestRedirector(undefined, config);
  t.teardown(() => server.close());
  t.is(server.udpIo, io, why);
  const socket = await client();
  t.teardown(() => socket.close());
  checkEchoes(t, await burst(server, socket, 1000), 1000);
});

test('one process answers UDP in batches: a burst of several batches, each reply to its own question', burstAnswered, {}, 'batched', 'pnpm build compiles native/udp-batch.c when cc and Node headers are there');
test('with udpBatching off, UDP goes through node:dgram and answers the same', burstAnswered, { udpBatching: false }, 'dgram', 'udpBatching: false');

test('two clients bursting at once each get only their own replies', async (t) => {
  const server = await startTestRedirector();
  t.teardown(() => server.close());
  const [first, second] = [await client(), await client()];
  t.teardown(() => [first, second].forEach((socket) => socket.close()));
  const [a, b] = await Promise.all([burst(server, first, 1000), burst(server, second, 5000)]);
  checkEchoes(t, a, 1000);
  checkEchoes(t, b, 5000);
});

test('queries from two source addresses mixed in the same batches are each located by their own source', async (t) => {
  // Without ECS the source address locates the client: 127.0.0.2 prefers pop-b, the rest of loopback pop-a.
  const state = demoState();
  state.popPreferences = { '127.0.0.2/32': ['pop-b', 'pop-a'], '127.0.0.0/8': ['pop-a', 'pop-b'] };
  const server = await startTestRedirector(state);
  t.teardown(() => server.close());
  const sockets = [await client('127.0.0.1'), await client('127.0.0.2')];
  t.teardown(() => sockets.forEach((socket) => socket.close()));
  const answered = sockets.map(() => [] as string[]);
  sockets.forEach((socket, from) => socket.on('message', (message) => answered[from]?.push([...message.subarray(-4)].join('.'))));
  // Alternating sources, sent without pacing, so batches hold both and each source follows the other.
  for (let id = 0; id < BURST; id++) sockets[id % 2]?.send(query({ id, name: 'shop.demo.test' }), server.udpPort, '127.0.0.1');
  const deadline = Date.now() + 5000;
  while (answered[0].length + answered[1].length < BURST && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
  t.is(answered[0].length + answered[1].length, BURST);
  t.false(answered[0].some((address) => popBAddresses.includes(address)), '127.0.0.1 is answered pop-a');
  t.true(answered[1].every((address) => popBAddresses.includes(address)), '127.0.0.2 is answered pop-b');
});

test('a datagram longer than any query gets no answer, and the next query does', async (t) => {
  const server = await startTestRedirector();
  t.teardown(() => server.close());
  const socket = await client();
  t.teardown(() => socket.close());
  const replies: Buffer[] = [];
  socket.on('message', (message) => replies.push(message));
  const oversized = Buffer.concat([query({ id: 1, name: 'shop.demo.test' }), Buffer.alloc(9000)]);
  socket.send(oversized, server.udpPort, '127.0.0.1');
  socket.send(query({ id: 2, name: 'shop.demo.test' }), server.udpPort, '127.0.0.1');
  const deadline = Date.now() + 2000;
  while (replies.length === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
  await new Promise((resolve) => setTimeout(resolve, 100));
  t.deepEqual(replies.map((reply) => responseHeader(reply).id), [2]);
});

test('closing while a client floods the socket ends cleanly and frees the port', async (t) => {
  const server = await startTestRedirector();
  const socket = await client();
  t.teardown(() => socket.close());
  const flood = setInterval(() => {
    for (let id = 0; id < 100; id++) socket.send(query({ id, name: 'shop.demo.test' }), server.udpPort, '127.0.0.1');
  }, 1);
  await new Promise((resolve) => setTimeout(resolve, 200));
  await server.close();
  clearInterval(flood);
  // The port is free again: a new socket can bind it.
  const again = dgram.createSocket('udp4');
  await new Promise<void>((resolve, reject) => {
    again.once('error', reject);
    again.bind(server.udpPort, '127.0.0.1', resolve);
  });
  again.close();
  t.pass();
});
