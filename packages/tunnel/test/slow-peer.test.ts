import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import test from 'ava';
import {
  FrameDecoder, FrameType, TunnelErrorCode, WireError, defaultSettings, encodeFrame, initiatorHandshake, packPayload,
  unpackPayload, type TunnelError, type TunnelServer, type TunnelSession,
} from '@overlay/tunnel';
import { KEY, tunnelPair, waitFor } from './fixtures.js';

/** An authenticated peer on a real socket that never reads what the server sends (until `resume`). */
async function deafPeer(server: TunnelServer, port: number): Promise<{ socket: Socket; session: TunnelSession; goaways: () => number[] }> {
  const sessionUp = once(server, 'session').then(([s]) => s as TunnelSession);
  const socket = connect({ host: '127.0.0.1', port });
  await once(socket, 'connect');
  const { rest } = await initiatorHandshake(socket, { key: Buffer.from(KEY), id: 'deaf', tunnel: 'deaf', settings: defaultSettings, timeoutMs: 2_000 });
  socket.pause();
  socket.on('error', () => {});
  const codes: number[] = [];
  const decoder = new FrameDecoder(1 << 20, (type, _flags, _id, payload) => {
    if (type === FrameType.GOAWAY) codes.push((unpackPayload(payload, 'GOAWAY') as { code: number }).code);
  });
  if (rest.length) decoder.push(rest);
  // Frames are decoded only once the test resumes the socket.
  socket.on('data', (chunk: Buffer) => decoder.push(chunk));
  return { socket, session: await sessionUp, goaways: () => codes };
}

/**
 * Writes frames from `next` as fast as the socket takes them, for `ms` or until `frames` were written,
 * `batch` frames per write (the same batch again when `repeat`). Returns how many were written.
 */
async function flood(socket: Socket, next: (i: number) => Buffer, ms: number, options: { batch?: number; repeat?: boolean; frames?: number } = {}): Promise<number> {
  const end = Date.now() + ms;
  const size = options.batch ?? 1_000;
  let i = 0;
  let bytes: Buffer | undefined;
  while (Date.now() < end && !socket.destroyed && i < (options.frames ?? Infinity)) {
    if (!bytes || !options.repeat) bytes = Buffer.concat(Array.from({ length: size }, (_, j) => next(i + j)));
    i += size;
    // `once` rejects on 'error': a reset socket ends the flood, it is not a failure of the test.
    if (!socket.write(bytes)) await Promise.race([once(socket, 'drain'), once(socket, 'close')]).catch(() => undefined);
  }
  return i;
}

const PING = encodeFrame(FrameType.PING, 0, 0, Buffer.alloc(8));

test('a peer that sends PINGs and never reads gets one waiting answer: control bytes and memory stay bounded', async (t) => {
  const pair = await tunnelPair(t);
  const peer = await deafPeer(pair.server, pair.port);
  const rssBefore = process.memoryUsage().rss;
  let maxControl = 0;
  const sampler = setInterval(() => (maxControl = Math.max(maxControl, peer.session.getStats().controlBytes)), 20);
  const pings = await flood(peer.socket, () => PING, 30_000, { batch: 10_000, repeat: true, frames: 2_000_000 });
  clearInterval(sampler);
  const grown = process.memoryUsage().rss - rssBefore;
  t.log(`${pings} PINGs, most control bytes waiting ${maxControl}, RSS grew ${Math.round(grown / 2 ** 20)} MiB`);
  // Unanswered, each would wait as an 18-byte answer: far more than the socket buffers hold.
  t.true(pings > 1_000_000, `the flood reached the server (${pings} PINGs)`);
  // One PING answer, one PING and one QOS report of our own at most.
  t.true(maxControl < 1_024, `control bytes waiting: ${maxControl}`);
  t.true(grown < 64 * 2 ** 20, `RSS grew ${grown} bytes`);
  t.false(peer.session.closed, 'PINGs are allowed: the session stays up');
  peer.socket.destroy();
});

test('a peer whose requests pile up replies it never reads is closed with GOAWAY ENHANCE_YOUR_CALM', async (t) => {
  const maxControlBytes = 256 * 1024;
  const pair = await tunnelPair(t, { session: { maxControlBytes, settings: { ...defaultSettings, maxStreams: 4 } } });
  const peer = await deafPeer(pair.server, pair.port);
  const closed = once(peer.session, 'close') as Promise<[TunnelError]>;
  let maxControl = 0;
  const sampler = setInterval(() => (maxControl = Math.max(maxControl, peer.session.getStats().controlBytes)), 5);
  // Every OPEN past the fourth is refused with a RESET the peer never reads.
  const open = (i: number) => encodeFrame(FrameType.OPEN, 0, 2 * i + 1, packPayload({ p: 2, m: {} }));
  void flood(peer.socket, open, 20_000);
  const [error] = await closed;
  clearInterval(sampler);
  t.is(error.code, TunnelErrorCode.CONTROL_OVERFLOW);
  t.true(maxControl <= maxControlBytes, `control bytes waiting: ${maxControl}`);
  peer.socket.resume();
  await waitFor(() => peer.goaways().length > 0, 'the GOAWAY behind the unread replies', 10_000);
  t.deepEqual(peer.goaways(), [WireError.ENHANCE_YOUR_CALM]);
  await waitFor(() => pair.server.sessions.size === 1, 'only the good session left');
});
