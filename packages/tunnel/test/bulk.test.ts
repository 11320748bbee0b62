import { once } from 'node:events';
import test from 'ava';
import { defaultSessionOptions, JOINED_CHUNK_BYTES, type TunnelStream } from '@overlay/tunnel';
import { tunnelPair } from './fixtures.js';

const BODY_BYTES = 32 * 1024 * 1024;
const WRITE = Buffer.alloc(64 * 1024, 'x');

/** Writes BODY_BYTES of one repeated byte (as compressible as a body gets) with backpressure, then ends. */
async function sendCompressible(stream: TunnelStream): Promise<void> {
  for (let sent = 0; sent < BODY_BYTES; sent += WRITE.length) {
    if (!stream.write(WRITE)) await once(stream, 'drain');
  }
  stream.end();
}

test('a large compressible body: many frames per socket write, reader chunks within the join cap, every byte intact', async (t) => {
  t.timeout(60_000);
  const pair = await tunnelPair(t);
  pair.server.on('stream', (stream: TunnelStream) => {
    stream.on('error', () => {});
    stream.resume();
    void sendCompressible(stream);
  });
  const session = pair.client.sessions[0];
  const writesBefore = pair.serverSession.getStats().writes;
  const framesBefore = session.getStats().framesReceived;
  const stream = pair.client.openStream({ priority: 2 });
  stream.end();
  let received = 0;
  let chunks = 0;
  let largest = 0;
  let wrongByte = false;
  stream.on('data', (chunk: Buffer) => {
    received += chunk.length;
    chunks++;
    largest = Math.max(largest, chunk.length);
    if (chunk.some((byte) => byte !== 0x78)) wrongByte = true;
  });
  await once(stream, 'end');
  t.is(received, BODY_BYTES);
  t.false(wrongByte);
  const writes = pair.serverSession.getStats().writes - writesBefore;
  const frames = session.getStats().framesReceived - framesBefore;
  t.log(`${writes} socket writes, ${frames} frames, ${chunks} chunks for ${BODY_BYTES / 1024 / 1024} MiB`);
  // A write holds writeBatchBytes of wire bytes, not of payload: compressed, that is more payload than a
  // batch on average (at most one batch of payload per write would take 512 writes or more here; quiet
  // runs take about 85, one under a load of 15 with other test files took 376).
  t.true(writes * defaultSessionOptions.writeBatchBytes < BODY_BYTES, `${writes} writes`);
  // The reader's chunks are joined up to the cap, never larger.
  t.true(largest <= JOINED_CHUNK_BYTES, `largest chunk ${largest}`);
  // The window grew while the reader kept up: the sender was not held at the initial 256 KiB.
  t.true(stream.recv.window > defaultSessionOptions.settings.initialWindow, `window ${stream.recv.window}`);
});
