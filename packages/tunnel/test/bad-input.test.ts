import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import test from 'ava';
import {
  FrameDecoder, FrameFlag, FrameType, TunnelClient, TunnelErrorCode, WireError, defaultSettings, encodeFrame,
  initiatorHandshake, packPayload, unpackPayload, type TunnelError, type TunnelServer, type TunnelSession,
} from '@overlay/tunnel';
import { KEY, tunnelPair, waitFor } from './fixtures.js';

interface RawPeer {
  socket: Socket;
  session: Promise<TunnelSession>;
  /** GOAWAY frames the server sent back. */
  goaways: Array<{ code: number; reason: string }>;
  closed: Promise<unknown>;
}

/** Authenticates a raw socket by hand, then lets the test write any bytes it likes. */
async function rawPeer(server: TunnelServer, port: number): Promise<RawPeer> {
  const session = once(server, 'session').then(([s]) => s as TunnelSession);
  const socket = connect({ host: '127.0.0.1', port });
  await once(socket, 'connect');
  const { rest } = await initiatorHandshake(socket, { key: Buffer.from(KEY), id: 'raw', tunnel: 'raw', settings: defaultSettings, timeoutMs: 2_000 });
  const goaways: Array<{ code: number; reason: string }> = [];
  const decoder = new FrameDecoder(1 << 20, (type, _flags, _id, payload) => {
    if (type === FrameType.GOAWAY) goaways.push(unpackPayload(payload, 'GOAWAY') as { code: number; reason: string });
  });
  socket.on('data', (chunk: Buffer) => decoder.push(chunk));
  if (rest.length) decoder.push(rest);
  socket.on('error', () => {});
  return { socket, session, goaways, closed: once(socket, 'close') };
}

function header(type: number, flags: number, id: number, length: number): Buffer {
  const buf = Buffer.alloc(10);
  buf[0] = type;
  buf[1] = flags;
  buf.writeUInt32BE(id, 2);
  buf.writeUInt32BE(length, 6);
  return buf;
}

const open = (id: number) => encodeFrame(FrameType.OPEN, 0, id, packPayload({ p: 2, m: {} }));

const cases: Array<{ name: string; bytes: () => Buffer[]; code: string; wire: number }> = [
  { name: 'random bytes', bytes: () => [Buffer.from([0xee, 0x13, 0x37, 0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07])], code: TunnelErrorCode.PROTOCOL, wire: WireError.PROTOCOL_ERROR },
  { name: 'an unknown frame type', bytes: () => [header(0x42, 0, 0, 0)], code: TunnelErrorCode.PROTOCOL, wire: WireError.PROTOCOL_ERROR },
  { name: 'an oversized length', bytes: () => [header(FrameType.DATA, 0, 1, 0x7fff_ffff)], code: TunnelErrorCode.FRAME_SIZE, wire: WireError.FRAME_SIZE_ERROR },
  { name: 'DATA on a stream never opened', bytes: () => [encodeFrame(FrameType.DATA, 0, 7, Buffer.from('x'))], code: TunnelErrorCode.PROTOCOL, wire: WireError.PROTOCOL_ERROR },
  { name: 'DATA on a closed stream', bytes: () => [open(1), encodeFrame(FrameType.DATA, FrameFlag.FIN, 1, Buffer.from('x')), encodeFrame(FrameType.DATA, 0, 1, Buffer.from('y'))], code: TunnelErrorCode.STREAM_CLOSED, wire: WireError.STREAM_CLOSED },
  { name: 'OPEN with the wrong parity', bytes: () => [open(2)], code: TunnelErrorCode.PROTOCOL, wire: WireError.PROTOCOL_ERROR },
  { name: 'OPEN reusing an id', bytes: () => [open(3), open(1)], code: TunnelErrorCode.PROTOCOL, wire: WireError.PROTOCOL_ERROR },
  { name: 'a malformed OPEN payload', bytes: () => [encodeFrame(FrameType.OPEN, 0, 1, Buffer.from([0xc1]))], code: TunnelErrorCode.PROTOCOL, wire: WireError.PROTOCOL_ERROR },
  { name: 'a window overrun', bytes: () => [open(1), encodeFrame(FrameType.DATA, 0, 1, Buffer.alloc(60_000)), encodeFrame(FrameType.DATA, 0, 1, Buffer.alloc(60_000)), encodeFrame(FrameType.DATA, 0, 1, Buffer.alloc(60_000)), encodeFrame(FrameType.DATA, 0, 1, Buffer.alloc(60_000)), encodeFrame(FrameType.DATA, 0, 1, Buffer.alloc(60_000))], code: TunnelErrorCode.FLOW_CONTROL, wire: WireError.FLOW_CONTROL_ERROR },
  { name: 'a corrupt compressed payload', bytes: () => [open(1), encodeFrame(FrameType.DATA, FrameFlag.COMPRESSED, 1, Buffer.from([0, 0, 0, 100, 0xff, 0xff, 0xff, 0xff, 0xff]))], code: TunnelErrorCode.COMPRESSION, wire: WireError.COMPRESSION_ERROR },
  { name: 'a compressed payload lying about its size', bytes: () => [open(1), encodeFrame(FrameType.DATA, FrameFlag.COMPRESSED, 1, Buffer.from([0x7f, 0, 0, 0, 0x10, 0x41]))], code: TunnelErrorCode.COMPRESSION, wire: WireError.COMPRESSION_ERROR },
  { name: 'a PING of the wrong size', bytes: () => [encodeFrame(FrameType.PING, 0, 0, Buffer.alloc(3))], code: TunnelErrorCode.FRAME_SIZE, wire: WireError.FRAME_SIZE_ERROR },
  { name: 'a zero WINDOW increment', bytes: () => [encodeFrame(FrameType.WINDOW, 0, 0, Buffer.alloc(4))], code: TunnelErrorCode.PROTOCOL, wire: WireError.PROTOCOL_ERROR },
];

for (const entry of cases) {
  test(`${entry.name} closes the session with ${entry.code}; the server stays up and leaks nothing`, async (t) => {
    const pair = await tunnelPair(t);
    const raw = await rawPeer(pair.server, pair.port);
    const session = await raw.session;
    const closed = once(session, 'close') as Promise<[TunnelError]>;
    for (const bytes of entry.bytes()) raw.socket.write(bytes);
    const [error] = await closed;
    t.is(error.code, entry.code);
    await raw.closed;
    t.deepEqual(raw.goaways.map((g) => g.code), [entry.wire]);
    t.true(raw.goaways[0].reason.length > 0);
    await waitFor(() => pair.server.sessions.size === 1, 'the bad session to be dropped');
    t.is(session.streamCount, 0);
    // The good tunnel still works.
    const stream = pair.client.openStream({ meta: {} });
    pair.server.once('stream', (s) => s.end('alive'));
    stream.end();
    const [chunk] = (await once(stream, 'data')) as [Buffer];
    t.is(chunk.toString(), 'alive');
  });
}

test('a truncated frame followed by close leaves no session and no stream behind', async (t) => {
  const pair = await tunnelPair(t);
  const raw = await rawPeer(pair.server, pair.port);
  const session = await raw.session;
  raw.socket.write(open(1));
  raw.socket.write(header(FrameType.DATA, 0, 1, 1000).subarray(0, 7));
  await waitFor(() => session.streamCount === 1, 'the stream to open');
  const [error] = (await Promise.all([once(session, 'close'), raw.socket.end()]))[0] as [TunnelError];
  t.is(error.code, TunnelErrorCode.CONNECTION_LOST);
  t.is(session.streamCount, 0);
  await waitFor(() => pair.server.sessions.size === 1, 'the session to be dropped');
});

test('garbage instead of a handshake is refused and counted, never becomes a session', async (t) => {
  const pair = await tunnelPair(t);
  for (const garbage of [Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'), Buffer.alloc(100, 0xff), Buffer.from('OVT1')]) {
    const socket = connect({ host: '127.0.0.1', port: pair.port });
    socket.on('error', () => {});
    await once(socket, 'connect');
    socket.end(garbage);
    await once(socket, 'close');
  }
  await waitFor(() => pair.server.handshakeFailures === 3, 'three failed handshakes');
  t.is(pair.server.sessions.size, 1);
});

test('a silent connection is dropped at the handshake timeout', async (t) => {
  const pair = await tunnelPair(t, { handshakeTimeoutMs: 200 });
  const socket = connect({ host: '127.0.0.1', port: pair.port });
  socket.on('error', () => {});
  await once(socket, 'close');
  t.is(pair.server.handshakeFailures, 1);
});

test('a wrong key fails authentication on both ends, clearly, and never gets a stream', async (t) => {
  const pair = await tunnelPair(t);
  const streams: unknown[] = [];
  pair.server.on('stream', (s) => streams.push(s));
  const failures = pair.server.handshakeFailures;
  const errors: string[] = [];
  const log = { child: () => log, info() {}, debug() {}, warn() {}, error: (fields: { code: string }) => errors.push(fields.code) };
  const intruder = new TunnelClient({ id: 'intruder', host: '127.0.0.1', port: pair.port, key: 'not-the-right-key-at-all', log: log as never, backoff: { initialMs: 10_000, maxMs: 10_000, factor: 1, jitter: 0 } }).start();
  await waitFor(() => errors.length > 0, 'the intruder to fail');
  t.deepEqual(errors, [TunnelErrorCode.AUTH_FAILED]);
  t.false(intruder.connected);
  t.throws(() => intruder.openStream({ meta: {} }), { code: TunnelErrorCode.UNAVAILABLE });
  await waitFor(() => pair.server.handshakeFailures === failures + 1, 'the server to count the failure');
  t.is(streams.length, 0);
  t.is(pair.server.sessions.size, 1);
  await intruder.close();
});

test('key rotation: the back-end accepts the old and the new key', async (t) => {
  const pair = await tunnelPair(t, { keys: ['the-new-key-0123456789', KEY] });
  const second = new TunnelClient({ id: 'fe-new', host: '127.0.0.1', port: pair.port, key: 'the-new-key-0123456789' }).start();
  await second.ready(3_000);
  t.true(second.connected && pair.client.connected);
  await second.close();
});
