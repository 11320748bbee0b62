import dgram from 'node:dgram';
import dns from 'node:dns';
import net from 'node:net';
import type { Logger } from '@overlay/common';
import { frameMessage, TcpMessageReader } from './wire/tcp-framing.js';

/** Answers one message from `remoteAddress`; undefined sends nothing. Must not throw. */
export type MessageHandler = (message: Buffer, remoteAddress: string) => Buffer | undefined;

export interface TcpListenerOptions {
  host: string;
  port: number;
  idleTimeoutMs: number;
  maxConnections: number;
  handle: MessageHandler;
  log: Logger;
  onConnectionCount: (open: number) => void;
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
  /** SO_RCVBUF asked for, bytes; the kernel caps it at net.core.rmem_max (see grantedReceiveBuffer). */
  receiveBufferBytes: number;
  handle: MessageHandler;
  log: Logger;
}

/** The receive buffer the kernel granted: Linux reports twice what was asked (its bookkeeping share). */
export function grantedReceiveBuffer(socket: dgram.Socket): number {
  return Math.floor(socket.getRecvBufferSize() / 2);
}

export async function listenUdp(options: UdpListenerOptions): Promise<dgram.Socket> {
  const { host, port, receiveBufferBytes, handle, log } = options;
  const family = net.isIPv6(host) ? 6 : 4;
  const { address } = await dns.promises.lookup(host, family);
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
 * answered synchronously), reading paused while the client is not reading its answers, idle connections
 * closed, and at most `maxConnections` open at once.
 */
export function listenTcp(options: TcpListenerOptions): Promise<TcpListener> {
  const sockets = new Set<net.Socket>();
  // allowHalfOpen: a client may send its queries and FIN; it still gets every answer before we close.
  const server = net.createServer({ allowHalfOpen: true }, (socket) => {
    const remoteAddress = socket.remoteAddress;
    if (remoteAddress === undefined) return void socket.destroy();
    sockets.add(socket);
    options.onConnectionCount(sockets.size);
    const reader = new TcpMessageReader();
    socket.setNoDelay(true);
    socket.setTimeout(options.idleTimeoutMs, () => socket.destroy());
    socket.on('data', (chunk: Buffer) => {
      for (const message of reader.push(chunk)) {
        const response = options.handle(message, remoteAddress);
        if (response && !socket.destroyed && !socket.write(frameMessage(response))) socket.pause();
      }
    });
    socket.on('drain', () => socket.resume());
    socket.on('end', () => socket.end());
    socket.on('error', (err) => options.log.debug({ err, remote: remoteAddress }, 'tcp connection error'));
    socket.on('close', () => {
      sockets.delete(socket);
      options.onConnectionCount(sockets.size);
    });
  });
  server.maxConnections = options.maxConnections;
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      server.on('error', (err) => options.log.warn({ err }, 'tcp listener error'));
      resolve({
        port: (server.address() as net.AddressInfo).port,
        close: () =>
          new Promise<void>((done) => {
            for (const socket of sockets) socket.destroy();
            server.close(() => done());
          }),
      });
    });
  });
}
