import test from 'ava';
import { defaultSettings, type TunnelSession, type TunnelStream } from '@overlay/tunnel';
import { tunnelPair, waitFor } from './fixtures.js';

const WEIGHTS = [16384, 8192, 4096, 2048, 1024];
const CHUNK = Buffer.alloc(64 * 1024, 7);

/** Writes until destroyed, honouring backpressure. */
function flood(stream: TunnelStream): void {
  const more = () => {
    while (!stream.destroyed && stream.write(CHUNK));
  };
  stream.on('drain', more);
  stream.on('error', () => {});
  more();
}

/** Bytes read from each stream from now on. */
function count(streams: TunnelStream[]): number[] {
  const bytes = streams.map(() => 0);
  streams.forEach((stream, i) => stream.on('data', (chunk: Buffer) => (bytes[i] += chunk.length)));
  return bytes;
}

function share(bytes: number[]): number {
  return bytes[0] / (bytes[0] + bytes[1]);
}

/**
 * A priority-0 and a priority-3 stream, each alone on its own connection of one tunnel: with one
 * blender per connection each would get its connection's fill (a share of about 0.5); with the
 * tunnel's one writer they share by weight, 16384 : 2048 (0.889), in both directions. Windows start
 * large: on loopback a 256 KiB window, not the scheduler, would set each stream's rate.
 */
test('one scheduler per tunnel: streams on different connections share by ring weight, both directions', async (t) => {
  const session = { settings: { ...defaultSettings, initialWindow: 16 * 1024 * 1024 } };
  const pair = await tunnelPair(t, { session }, { session, striping: { maxConnections: 2, streamsPerConnection: 1, idleMs: 60_000 } });
  const atServer = new Map<number, TunnelStream>();
  const connectionOf = new Map<number, TunnelSession>();
  pair.server.on('stream', (stream: TunnelStream, session: TunnelSession) => {
    stream.on('error', () => {});
    atServer.set(stream.priority, stream);
    connectionOf.set(stream.priority, session);
  });
  // Two streams make the tunnel open its second connection; then one on each connection is left.
  const fillers = [pair.client.openStream({ priority: 2 }), pair.client.openStream({ priority: 2 })];
  for (const filler of fillers) filler.on('error', () => {});
  await waitFor(() => pair.client.sessions.length === 2, 'a second connection', 10_000);
  const high = pair.client.openStream({ priority: 0 });
  fillers[1].destroy();
  await waitFor(() => pair.client.sessions.every((session) => session.streamCount === 1), 'one stream per connection');
  const low = pair.client.openStream({ priority: 3 });
  await waitFor(() => atServer.has(0) && atServer.has(3), 'both streams at the back-end');
  t.not(connectionOf.get(0), connectionOf.get(3), 'the two streams are on different connections');

  // Back-end to front-end.
  const down = count([high, low]);
  flood(atServer.get(0) as TunnelStream);
  flood(atServer.get(3) as TunnelStream);
  await waitFor(() => down[0] + down[1] > 64 * 1024 * 1024, '64 MiB down', 30_000);
  const downShare = share(down);
  t.log(`down: share of priority 0 ${downShare.toFixed(3)} over ${Math.round((down[0] + down[1]) / 2 ** 20)} MiB`);
  atServer.get(0)?.destroy();
  atServer.get(3)?.destroy();

  // Front-end to back-end, on two fresh streams.
  atServer.clear();
  const up = [pair.client.openStream({ priority: 0 }), pair.client.openStream({ priority: 3 })];
  await waitFor(() => atServer.has(0) && atServer.has(3), 'both upload streams at the back-end');
  const upBytes = count([atServer.get(0) as TunnelStream, atServer.get(3) as TunnelStream]);
  up.forEach(flood);
  await waitFor(() => upBytes[0] + upBytes[1] > 64 * 1024 * 1024, '64 MiB up', 30_000);
  const upShare = share(upBytes);
  t.log(`up: share of priority 0 ${upShare.toFixed(3)}`);
  for (const stream of [...up, high, low, fillers[0]]) stream.destroy();

  const expected = WEIGHTS[0] / (WEIGHTS[0] + WEIGHTS[3]);
  t.true(Math.abs(downShare - expected) < 0.06, `down share ${downShare} near ${expected}`);
  t.true(Math.abs(upShare - expected) < 0.06, `up share ${upShare} near ${expected}`);
});
