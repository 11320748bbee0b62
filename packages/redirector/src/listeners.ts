import dgram from 'node:dgram';
import dns from 'node:dns';
import net from 'node:net';
import type { Logger } from '@overlay/common';
import { loadBatchedUdp } from './batched-udp.js';
import { TcpSlots, type TcpSlotPolicy } from './tcp-slots.js';
import { frameMessage, TcpMessageReader } from './wire/tcp-framing.js';

/** Answers one message from `remoteAddress`; undefined sends nothing. Must not throw. */
export type MessageHandler = (message: Buffer, remoteAddress: string) => Buffer | undefined;

export interface TcpListenerOptions {
  host: string;
  port: number;
  policy: TcpSlotPolicy;
  handle: MessageHandler;
  log: Logger;
  onConnectionCount: (open: number) => void;
  /** A connection closed by the server: to make room for a new one, or past a deadline. */
  onClosed: (reason: 'evicted' | 'expired') => void;
}

export interface TcpListener {
  port: number;
  close(): Promise<void>;
}

/**
 * The socket's lookup. Every address it is given is numeric (the bind address, resolved up front, and the
 * sources the kernel reported), so it answers at once instead of deferring each send a tick via dns.lookup.
 */
function numericLookup(family: 4 | 6): dgram.SocketOptions['lookup'] {
  const lookup = (address: string, _family: unknown, callback: (err: null, address: string, family: number) => void): void =>
    callback(null, address, family);
  return lookup as dgram.SocketOptions['lookup'];
}

export interface UdpListenerOptions {
  host: string;
  port: number;
  /** SO_RCVBUF asked for, bytes; the kernel caps it at net.core.rmem_max. */
  receiveBufferBytes: number;
  /** Use the batched addon when it is built (batched-udp.ts); node:dgram otherwise. */
  batched: boolean;
  handle: MessageHandler;
  log: Logger;
}

/** How a UDP listener moves datagrams: the batched addon, or node:dgram one datagram at a time. */
export type UdpIo = 'batched' | 'dgram';

export interface UdpListener {
  /** The bound address, numeric. */
  address: string;
  port: number;
  io: UdpIo;
  /** The receive buffer the kernel granted, bytes: Linux reports twice what was asked (its bookkeeping share). */
  receiveBufferBytes: number;
  close(): Promise<void>;
}

/** Why batched UDP was asked for and not used, or undefined when it is available. */
export function batchedUdpUnavailable(): string | undefined {
  const addon = loadBatchedUdp();
  return 'unavailable' in addon ? addon.unavailable : undefined;
}

export async function listenUdp(options: UdpListenerOptions): Promise<UdpListener> {
  const { host, port, receiveBufferBytes, handle } = options;
  const family = net.isIPv6(host) ? 6 : 4;
  const { address } = await dns.promises.lookup(host, family);
  const addon = options.batched ? loadBatchedUdp() : undefined;
  if (addon && 'open' in addon) {
    const endpoint = addon.open(family, address, port, receiveBufferBytes, handle);
    // The addon calls back once, for the first close: later calls share its promise.
    let closed: Promise<void> | undefined;
    const close = (): Promise<void> => (closed ??= new Promise((resolve) => endpoint.close(resolve)));
    return { address, port: endpoint.port, io: 'batched', receiveBufferBytes: endpoint.receiveBufferBytes, close };
  }
  const socket = await listenDgram(family, address, options);
  return {
    address,
    port: socket.address().port,
    io: 'dgram',
    receiveBufferBytes: Math.floor(socket.getRecvBufferSize() / 2),
    close: () => new Promise((resolve) => socket.close(() => resolve())),
  };
}

function listenDgram(family: 4 | 6, address: string, options: UdpListenerOptions): Promise<dgram.Socket> {
  const { port, receiveBufferBytes, handle, log } = options;
  const socket = dgram.createSocket({ type: family === 6 ? 'udp6' : 'udp4', lookup: numericLookup(family), recvBufferSize: receiveBufferBytes });
  socket.on('message', (message, remote) => {
    const response = handle(message, remote.address);
    // No send callback: with one, Node defers a call per datagram to the next tick. A failed send (a full
    // socket buffer) loses one answer, and the client retries, as it would after any lost datagram.
    if (response) socket.send(response, remote.port, remote.address);
  });
  return new Promise((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(port, address, () => {
      socket.off('error', reject);
      socket.on('error', (err) => log.warn({ err }, 'udp socket error'));
      resolve(socket);
    });
  });
}

/**
 * DNS over TCP (RFC 7766): many queries per connection, answered in the order they arrive (each is
 * answered synchronously), reading paused while the client is not reading its answers. Who holds a
 * connection is decided by TcpSlots: a new client is always let in, at the idlest one's expense, and
 * idle or trickling connections are closed on deadlines that bytes do not extend.
 */
export function listenTcp(options: TcpListenerOptions): Promise<TcpListener> {
  const slots = new TcpSlots<net.Socket>(options.policy);
  const sockets = new Set<net.Socket>();
  const now = (): number => performance.now();
  const close = (sockets: net.Socket[], reason: 'evicted' | 'expired'): void => {
    for (const socket of sockets) {
      socket.destroy();
      options.onClosed(reason);
    }
  };
  const sweep = setInterval(() => {
    close(slots.expired(now()), 'expired');
    options.onConnectionCount(slots.size);
  }, Math.max(50, Math.min(options.policy.minIdleTimeoutMs, options.policy.messageTimeoutMs) / 4));
  sweep.unref();
  // allowHalfOpen: a client may send its queries and FIN; it still gets every answer before we close.
  const server = net.createServer({ allowHalfOpen: true }, (socket) => {
    const remoteAddress = socket.remoteAddress;
    if (remoteAddress === undefined) return void socket.destroy();
    sockets.add(socket);
    close(slots.admit(socket, remoteAddress, now()), 'evicted');
    options.onConnectionCount(slots.size);
    const reader = new TcpMessageReader();
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => {
      const messages = reader.push(chunk);
      slots.received(socket, now(), messages.length > 0, reader.inProgress);
      for (const message of messages) {
        const response = options.handle(message, remoteAddress);
        if (response && !socket.destroyed && !socket.write(frameMessage(response))) socket.pause();
      }
    });
    socket.on('drain', () => socket.resume());
    socket.on('end', () => socket.end());
    socket.on('error', (err) => options.log.debug({ err, remote: remoteAddress }, 'tcp connection error'));
    socket.on('close', () => {
      sockets.delete(socket);
      slots.release(socket);
      options.onConnectionCount(slots.size);
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      server.on('error', (err) => options.log.warn({ err }, 'tcp listener error'));
      resolve({
        port: (server.address() as net.AddressInfo).port,
        close: () =>
          new Promise<void>((done) => {
            clearInterval(sweep);
            server.close(() => done());
            for (const socket of sockets) socket.destroy();
          }),
      });
    });
  });
}
