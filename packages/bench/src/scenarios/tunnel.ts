import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { pollUntil } from '@overlay/common';
import { TunnelClient, type TunnelStream } from '@overlay/tunnel';
import { median, result, type BenchResult, type Scenario } from '../harness.js';
import { cpuSeconds, Peer, settledMemory } from '../measure.js';

const PEER = fileURLToPath(new URL('../peers/tunnel-peer.js', import.meta.url));
const BULK_BYTES = 1024 * 1024 * 1024;
const CHUNK = randomBytes(64 * 1024);
const RR_CONCURRENCY = 64;
/** Exchange rounds, raw TCP and tunnel interleaved, the median of each standing: a shared machine's load moves in seconds. */
const RR_ROUNDS = 5;
const RR_SECONDS = 1;
const IDLE_STREAMS = 10_000;

interface PeerInfo { rawPort: number; tunnelPort: number; key: string }

async function rawSocket(port: number, mode: string): Promise<Socket> {
  const socket = connect({ host: '127.0.0.1', port, noDelay: true });
  await once(socket, 'connect');
  socket.write(mode);
  return socket;
}

/** Writes `total` bytes with backpressure. */
async function pump(target: NodeJS.WritableStream & { write(chunk: Buffer): boolean }, total: number): Promise<void> {
  for (let sent = 0; sent < total; sent += CHUNK.length) {
    if (!target.write(CHUNK)) await once(target as never, 'drain');
  }
}

async function timed(peer: Peer, body: () => Promise<void>): Promise<{ seconds: number; cpu: number }> {
  const cpuBefore = cpuSeconds() + (await peer.call<number>('cpu'));
  const start = performance.now();
  await body();
  const seconds = (performance.now() - start) / 1000;
  const cpu = cpuSeconds() + (await peer.call<number>('cpu')) - cpuBefore;
  return { seconds, cpu };
}

async function bulkRaw(info: PeerInfo): Promise<void> {
  const socket = await rawSocket(info.rawPort, 's');
  const reply = once(socket, 'data');
  await pump(socket, BULK_BYTES);
  socket.end();
  const [count] = (await reply) as [Buffer];
  if (Number(count.toString()) !== BULK_BYTES) throw new Error(`raw sink counted ${count}`);
}

async function bulkTunnel(client: TunnelClient): Promise<void> {
  const stream = client.openStream({ priority: 2, meta: { mode: 'sink' } });
  const reply = once(stream, 'reply') as Promise<[{ count: number }]>;
  stream.resume();
  await pump(stream, BULK_BYTES);
  stream.end();
  const [{ count }] = await reply;
  if (count !== BULK_BYTES) throw new Error(`tunnel sink counted ${count}`);
}

async function exchangesRaw(info: PeerInfo): Promise<number> {
  const deadline = performance.now() + RR_SECONDS * 1000;
  let done = 0;
  const request = Buffer.alloc(1024, 1);
  await Promise.all(
    Array.from({ length: RR_CONCURRENCY }, async () => {
      const socket = await rawSocket(info.rawPort, 'e');
      let received = 0;
      let wake: (() => void) | null = null;
      socket.on('data', (chunk: Buffer) => {
        received += chunk.length;
        if (received >= 1024 && wake) wake();
      });
      while (performance.now() < deadline) {
        socket.write(request);
        if (received < 1024) await new Promise<void>((resolve) => (wake = resolve));
        wake = null;
        received -= 1024;
        done++;
      }
      socket.end();
    }),
  );
  return done / RR_SECONDS;
}

async function exchangesTunnel(client: TunnelClient): Promise<number> {
  const deadline = performance.now() + RR_SECONDS * 1000;
  let done = 0;
  const request = Buffer.alloc(1024, 1);
  await Promise.all(
    Array.from({ length: RR_CONCURRENCY }, async () => {
      while (performance.now() < deadline) {
        const stream = client.openStream({ priority: 2, meta: { mode: 'rr' } });
        let received = 0;
        stream.on('data', (chunk: Buffer) => (received += chunk.length));
        stream.end(request);
        await once(stream, 'end');
        if (received !== 1024) throw new Error(`exchange got ${received} bytes`);
        done++;
      }
    }),
  );
  return done / RR_SECONDS;
}

async function idleMemory(peer: Peer, open: () => Promise<() => void>, count: () => Promise<number>): Promise<{ local: number; remote: number }> {
  const localBefore = await settledMemory();
  const remoteBefore = await peer.call<number>('memory');
  const close = await open();
  await pollUntil(async () => (await count()) >= IDLE_STREAMS, { timeoutMs: 10_000, intervalMs: 20 });
  const local = ((await settledMemory()) - localBefore) / IDLE_STREAMS;
  const remote = ((await peer.call<number>('memory')) - remoteBefore) / IDLE_STREAMS;
  close();
  return { local, remote };
}

export const tunnelScenario: Scenario = {
  name: 'tunnel',
  description: `one stream bulk throughput, 1 KiB exchanges on 64 streams (median of ${RR_ROUNDS} interleaved rounds), CPU per GB and memory per idle stream, each against raw TCP between the same two processes`,
  async run(progress) {
    const peer = await Peer.start(PEER);
    const info = await peer.call<PeerInfo>('listen');
    const client = new TunnelClient({ id: 'bench-front-end', host: '127.0.0.1', port: info.tunnelPort, key: info.key, striping: { maxConnections: 4, streamsPerConnection: 4096, idleMs: 60_000 } }).start();
    try {
      await client.ready();
      const results: BenchResult[] = [];

      progress('bulk: raw TCP 1 GiB');
      const raw = await timed(peer, () => bulkRaw(info));
      progress('bulk: tunnel 1 GiB on one stream');
      const tunneled = await timed(peer, () => bulkTunnel(client));
      const gb = BULK_BYTES / 1e9;
      results.push(result('one-stream throughput', 'MB/s', (gb * 1000) / tunneled.seconds, 'raw TCP, same two processes', (gb * 1000) / raw.seconds, 'ratio >= 0.5'));
      results.push(result('CPU per GB moved (both processes)', 'CPU s/GB', tunneled.cpu / gb, 'raw TCP, same two processes', raw.cpu / gb));

      progress(`exchanges: raw TCP (${RR_CONCURRENCY} connections) and tunnel (${RR_CONCURRENCY} concurrent streams), ${RR_ROUNDS} interleaved rounds of ${RR_SECONDS} s`);
      await exchangesTunnel(client); // warm-up: the JIT has not seen a stream open before
      const rawRates: number[] = [];
      const tunnelRates: number[] = [];
      for (let round = 0; round < RR_ROUNDS; round++) {
        rawRates.push(await exchangesRaw(info));
        tunnelRates.push(await exchangesTunnel(client));
      }
      const [rawRate, tunnelRate] = [median(rawRates), median(tunnelRates)];
      results.push(result(`1 KiB request/response, ${RR_CONCURRENCY} concurrent`, 'exchanges/s', tunnelRate, `raw TCP ping-pong, ${RR_CONCURRENCY} persistent connections`, rawRate));

      progress(`memory: ${IDLE_STREAMS} idle raw TCP connections`);
      const rawIdle = await idleMemory(
        peer,
        async () => {
          const sockets: Socket[] = [];
          for (let i = 0; i < IDLE_STREAMS; i += 500) sockets.push(...(await Promise.all(Array.from({ length: 500 }, () => rawSocket(info.rawPort, 'i')))));
          return () => sockets.forEach((socket) => socket.destroy());
        },
        async () => (await peer.call<{ sockets: number }>('idle')).sockets,
      );
      progress(`memory: ${IDLE_STREAMS} idle tunnel streams`);
      const tunnelIdle = await idleMemory(
        peer,
        async () => {
          const streams: TunnelStream[] = [];
          for (let i = 0; i < IDLE_STREAMS; i++) streams.push(client.openStream({ priority: 4, meta: { mode: 'idle' } }).on('error', () => {}));
          return () => streams.forEach((stream) => stream.destroy());
        },
        async () => (await peer.call<{ streams: number }>('idle')).streams,
      );
      results.push(result('memory per idle stream, front-end side', 'bytes', tunnelIdle.local, 'idle raw TCP connection, client side', rawIdle.local, 'value <= 4096'));
      results.push(result('memory per idle stream, back-end side', 'bytes', tunnelIdle.remote, 'idle raw TCP connection, server side', rawIdle.remote, 'value <= 4096'));
      return results;
    } finally {
      await client.close().catch(() => {});
      await peer.stop();
    }
  },
};
