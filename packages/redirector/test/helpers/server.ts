import dgram from 'node:dgram';
import net from 'node:net';
import { silentLogger, Registry } from '@overlay/common';
import { startRedirector, type RedirectorConfigInput, type RedirectorStateInput, type RunningRedirector } from '@overlay/redirector';
import { demoState } from './fixture.js';

export async function startTestRedirector(
  state: RedirectorStateInput = demoState(),
  config: Partial<RedirectorConfigInput> = {},
): Promise<RunningRedirector> {
  return startRedirector(
    { listen: { host: '127.0.0.1', port: 0 }, admin: { host: '127.0.0.1', port: 0 }, ...state, ...config },
    { log: silentLogger, registry: new Registry() },
  );
}

/** Datagrams sent before pausing, so neither side's socket buffer overflows (loopback drops, too). */
const UDP_BATCH = 20;

/** Sends each datagram from one socket, in paced batches, and collects every reply until `waitMs` after the last. */
export async function udpExchange(port: number, datagrams: Buffer[], waitMs = 400): Promise<Buffer[]> {
  const socket = dgram.createSocket('udp4');
  const replies: Buffer[] = [];
  socket.on('message', (message) => replies.push(message));
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  for (const [index, datagram] of datagrams.entries()) {
    await new Promise<void>((resolve, reject) => socket.send(datagram, port, '127.0.0.1', (err) => (err ? reject(err) : resolve())));
    if (index % UDP_BATCH === UDP_BATCH - 1) await new Promise((resolve) => setTimeout(resolve, 5));
  }
  await new Promise((resolve) => setTimeout(resolve, waitMs));
  socket.close();
  return replies;
}

/** Opens a TCP connection and collects length-prefixed replies until `count` arrived or the peer closed. */
export function tcpConnect(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => resolve(socket));
    socket.once('error', reject);
  });
}

export function readFrames(socket: net.Socket, count: number, timeoutMs = 3000): Promise<{ frames: Buffer[]; closed: boolean }> {
  return new Promise((resolve) => {
    let buffered = Buffer.alloc(0);
    const frames: Buffer[] = [];
    const finish = (closed: boolean): void => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('close', onClose);
      resolve({ frames, closed });
    };
    const onData = (chunk: Buffer): void => {
      buffered = Buffer.concat([buffered, chunk]);
      while (buffered.length >= 2 && buffered.length >= 2 + buffered.readUInt16BE(0)) {
        const length = buffered.readUInt16BE(0);
        frames.push(buffered.subarray(2, 2 + length));
        buffered = buffered.subarray(2 + length);
      }
      if (frames.length >= count) finish(false);
    };
    const onClose = (): void => finish(true);
    const timer = setTimeout(() => finish(false), timeoutMs);
    socket.on('data', onData);
    socket.on('close', onClose);
  });
}

export async function metricsText(running: RunningRedirector): Promise<string> {
  const response = await fetch(`http://127.0.0.1:${running.adminPort}/metrics`);
  return response.text();
}
