/** DNS over TCP with hand-written bytes: pipelining, framing, half-close, idle timeout, connection cap. */
import test from 'ava';
import { Packet } from 'dns2';
import { startTestRedirector, readFrames, tcpConnect } from './helpers/server.js';
import { frame, query, responseHeader } from './helpers/wire.js';

const NOERROR = 0;
const NXDOMAIN = 3;
const REFUSED = 5;
const FORMERR = 1;

const pipeline = [
  { q: query({ id: 101, name: 'shop.demo.test' }), rcode: NOERROR },
  { q: query({ id: 102, name: 'nope.demo.test' }), rcode: NXDOMAIN },
  { q: query({ id: 103, name: 'demo.test', type: 6 }), rcode: NOERROR },
  { q: query({ id: 104, name: 'www.example.com' }), rcode: REFUSED },
  { q: Buffer.from([0, 105, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]), rcode: FORMERR },
  { q: query({ id: 106, name: 'shop.demo.test', type: 28, edns: {} }), rcode: NOERROR },
];

test('several pipelined queries in one write are answered in order on one connection', async (t) => {
  const server = await startTestRedirector();
  t.teardown(() => server.close());
  const socket = await tcpConnect(server.tcpPort);
  t.teardown(() => socket.destroy());
  socket.write(Buffer.concat(pipeline.map(({ q }) => frame(q))));
  const { frames } = await readFrames(socket, pipeline.length);
  t.deepEqual(
    frames.map((f) => [responseHeader(f).id, responseHeader(f).rcode]),
    pipeline.map(({ q, rcode }) => [q.readUInt16BE(0), rcode]),
  );
  const aaaa = Packet.parse(frames[5] as Buffer);
  t.true(['2001:db8:a::1', '2001:db8:b::1'].includes(aaaa.answers[0]?.address as string), 'dns2 decodes our answer');
});

test('queries split at every byte boundary still frame correctly', async (t) => {
  const server = await startTestRedirector();
  t.teardown(() => server.close());
  const socket = await tcpConnect(server.tcpPort);
  t.teardown(() => socket.destroy());
  socket.setNoDelay(true);
  const bytes = Buffer.concat(pipeline.slice(0, 3).map(({ q }) => frame(q)));
  const replies = readFrames(socket, 3);
  for (let i = 0; i < bytes.length; i++) {
    socket.write(bytes.subarray(i, i + 1));
    if (i % 7 === 0) await new Promise((resolve) => setImmediate(resolve));
  }
  const { frames } = await replies;
  t.deepEqual(frames.map((f) => responseHeader(f).id), [101, 102, 103]);
});

test('a client that sends its queries and half-closes still gets every answer, then the close', async (t) => {
  const server = await startTestRedirector();
  t.teardown(() => server.close());
  const socket = await tcpConnect(server.tcpPort);
  t.teardown(() => socket.destroy());
  socket.end(Buffer.concat(pipeline.slice(0, 4).map(({ q }) => frame(q))));
  const { frames } = await readFrames(socket, 4);
  t.is(frames.length, 4);
  const closed = await readFrames(socket, 1, 2000);
  t.true(closed.closed);
});

test('an idle connection is closed after the idle timeout', async (t) => {
  const server = await startTestRedirector(undefined, { tcp: { idleTimeoutMs: 200 } });
  t.teardown(() => server.close());
  const socket = await tcpConnect(server.tcpPort);
  t.teardown(() => socket.destroy());
  const started = Date.now();
  const { closed } = await readFrames(socket, 1, 3000);
  t.true(closed);
  t.true(Date.now() - started >= 150, 'not before the timeout');
});

test('a connection beyond the cap closes the idlest one; the new one and the busy one are answered', async (t) => {
  const server = await startTestRedirector(undefined, { tcp: { maxConnections: 2 } });
  t.teardown(() => server.close());
  const first = await tcpConnect(server.tcpPort);
  first.on('error', () => undefined);
  const firstClosed = new Promise<boolean>((resolve) => {
    first.once('close', () => resolve(true));
    setTimeout(() => resolve(false), 5000);
  });
  await new Promise((resolve) => setTimeout(resolve, 50));
  const second = await tcpConnect(server.tcpPort);
  second.write(frame(query({ id: 6, name: 'shop.demo.test' })));
  t.is((await readFrames(second, 1)).frames.length, 1, 'the second asked, so the first is the idlest');
  const third = await tcpConnect(server.tcpPort);
  t.teardown(() => [first, second, third].forEach((socket) => socket.destroy()));
  third.write(frame(query({ id: 7, name: 'shop.demo.test' })));
  const answered = await readFrames(third, 1);
  t.is(responseHeader(answered.frames[0] as Buffer).id, 7);
  t.true(await firstClosed, 'the idlest connection made room');
  second.write(frame(query({ id: 8, name: 'shop.demo.test' })));
  const { frames } = await readFrames(second, 1);
  t.is(responseHeader(frames[0] as Buffer).id, 8);
});

test('garbage frames on a connection get no answer larger than themselves, and the connection goes on', async (t) => {
  const server = await startTestRedirector();
  t.teardown(() => server.close());
  const socket = await tcpConnect(server.tcpPort);
  t.teardown(() => socket.destroy());
  const garbage = [
    Buffer.alloc(0),
    Buffer.from([0xee, 0xee, 0xee]),
    Buffer.from('01020100deadbeefcafebabe0000000000', 'hex'),
    query({ id: 9, name: 'shop.demo.test' }).subarray(0, 20),
  ];
  socket.write(Buffer.concat([...garbage.map(frame), frame(query({ id: 10, name: 'shop.demo.test' }))]));
  const { frames } = await readFrames(socket, 3);
  t.is(frames.length, 3, 'the two readable garbage frames and the query');
  const last = frames[frames.length - 1] as Buffer;
  t.is(responseHeader(last).id, 10);
  for (const reply of frames.slice(0, -1)) {
    const id = responseHeader(reply).id;
    const sent = garbage.find((g) => g.length >= 2 && g.readUInt16BE(0) === id);
    t.truthy(sent);
    t.true(reply.length <= (sent as Buffer).length);
  }
});
