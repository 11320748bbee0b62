import test from 'ava';
import { WebSocket } from 'ws';
import { fetchOnce, originFor } from './helpers.js';

test('GET /ws echoes text as text and binary as binary, with x-origin on the handshake', async (t) => {
  const origin = await originFor(t, { id: 'ws-origin' });
  const ws = new WebSocket(`${origin.url.replace('http', 'ws')}/ws`);
  t.teardown(() => ws.terminate());
  let handshakeOrigin: string | string[] | undefined;
  ws.once('upgrade', (res) => { handshakeOrigin = res.headers['x-origin']; });
  await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
  t.is(handshakeOrigin, 'ws-origin');

  const replies: Array<{ data: Buffer; isBinary: boolean }> = [];
  const big = Buffer.alloc(3 * 1024 * 1024, 7);
  const allIn = new Promise<void>((resolve) => {
    ws.on('message', (data: Buffer, isBinary) => {
      replies.push({ data, isBinary });
      if (replies.length === 3) resolve();
    });
  });
  ws.send('hello');
  ws.send(Buffer.from([0, 1, 2, 255]));
  ws.send(big);
  await allIn;
  t.deepEqual(replies.map((reply) => reply.isBinary), [false, true, true]);
  t.is(replies[0].data.toString(), 'hello');
  t.deepEqual([...replies[1].data], [0, 1, 2, 255]);
  t.true(replies[2].data.equals(big));
});

test('GET /ws without an upgrade says 426', async (t) => {
  const origin = await originFor(t);
  const reply = await fetchOnce(origin, '/ws');
  t.is(reply.status, 426);
  t.is(reply.headers['x-origin'], 'origin-test');
});

test('close() ends open WebSockets', async (t) => {
  const origin = await originFor(t);
  const ws = new WebSocket(`${origin.url.replace('http', 'ws')}/ws`);
  await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
  const closed = new Promise((resolve) => ws.once('close', resolve));
  await origin.close();
  await closed;
  t.is(ws.readyState, WebSocket.CLOSED);
});
