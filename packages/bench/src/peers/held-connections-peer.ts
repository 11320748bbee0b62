/**
 * Holds many idle client connections for the scale benchmark, in its own process so that their cost
 * and their event-loop work stay out of the processes being measured. Each connection first does one
 * exchange, so it is known to reach the far side: an HTTP GET answered 200 (then the connection idles in
 * keep-alive), or a WebSocket upgrade answered 101 (then the stream idles).
 */
import { randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { servePeer } from '../measure.js';

type Kind = 'http' | 'ws';

interface Target {
  port: number;
  /** Host header. */
  host: string;
  path: string;
  kind: Kind;
}

interface Held {
  socket: Socket;
  kind: Kind;
  ponged: boolean;
}

/** Most connections held at once: the scenario needs 10,000; the cap keeps a wrong argument from eating every port. */
const MAX_HELD = 20_000;
const HANDSHAKE_TIMEOUT_MS = 15_000;
/** Largest response head (and 1 KiB-ish body) read during a handshake, bytes. */
const MAX_HANDSHAKE_BYTES = 64 * 1024;
const HEAD_END = Buffer.from('\r\n\r\n');
const CHUNKED_END = Buffer.from('0\r\n\r\n');
const WS_PONG = 0x8a;

const held = new Set<Held>();
let closedByPeer = 0;

function requestFor(target: Target): string {
  const head = `GET ${target.path} HTTP/1.1\r\nHost: ${target.host}\r\n`;
  if (target.kind === 'http') return `${head}\r\n`;
  const key = randomBytes(16).toString('base64');
  return `${head}Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`;
}

/** The status once `data` holds a whole answer (head only for a 101, head and body otherwise), else undefined. */
function completeStatus(data: Buffer): number | undefined {
  const headEnd = data.indexOf(HEAD_END);
  if (headEnd < 0) return undefined;
  const head = data.subarray(0, headEnd).toString('latin1');
  const status = Number(head.slice(9, 12));
  if (status === 101) return status;
  const body = data.length - headEnd - HEAD_END.length;
  const length = /\r\ncontent-length:\s*(\d+)/i.exec(head);
  if (length) return body >= Number(length[1]) ? status : undefined;
  if (/\r\ntransfer-encoding:[^\r]*chunked/i.test(head)) return data.subarray(-CHUNKED_END.length).equals(CHUNKED_END) ? status : undefined;
  return status;
}

function open(target: Target): Promise<Held> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port: target.port, noDelay: true });
    let received = Buffer.alloc(0);
    const fail = (error: Error): void => {
      clearTimeout(timer);
      socket.destroy();
      reject(error);
    };
    const timer = setTimeout(() => fail(new Error(`no answer within ${HANDSHAKE_TIMEOUT_MS} ms`)), HANDSHAKE_TIMEOUT_MS);
    const onError = (error: Error): void => fail(error);
    const onClose = (): void => fail(new Error('closed before answering'));
    const onData = (chunk: Buffer): void => {
      received = Buffer.concat([received, chunk]);
      if (received.length > MAX_HANDSHAKE_BYTES) return fail(new Error(`answer longer than ${MAX_HANDSHAKE_BYTES} bytes`));
      const status = completeStatus(received);
      if (status === undefined) return;
      clearTimeout(timer);
      socket.off('data', onData).off('error', onError).off('close', onClose);
      const expected = target.kind === 'ws' ? 101 : 200;
      if (status !== expected) return fail(new Error(`answered ${status}, expected ${expected}: ${received.subarray(0, 300).toString('latin1')}`));
      resolve(keep(socket, target.kind));
    };
    socket.on('error', onError).on('close', onClose).on('data', onData);
    socket.once('connect', () => socket.write(requestFor(target)));
  });
}

function keep(socket: Socket, kind: Kind): Held {
  const entry: Held = { socket, kind, ponged: false };
  held.add(entry);
  socket.on('error', () => {});
  // Only a pong is expected on an idle WebSocket; anything else is ignored.
  socket.on('data', (chunk: Buffer) => {
    if (chunk[0] === WS_PONG) entry.ponged = true;
  });
  socket.once('close', () => {
    if (held.delete(entry)) closedByPeer++;
  });
  return entry;
}

/** A masked (as clients must), empty WebSocket ping. */
function pingFrame(): Buffer {
  return Buffer.concat([Buffer.from([0x89, 0x80]), randomBytes(4)]);
}

servePeer({
  /** Opens `count` connections at once; resolves when each has answered or failed. */
  async open(args) {
    const target = args as unknown as Target;
    const count = Number(args.count);
    if (held.size + count > MAX_HELD) throw new Error(`would hold more than ${MAX_HELD} connections`);
    const outcomes = await Promise.allSettled(Array.from({ length: count }, () => open(target)));
    const failures = outcomes.filter((o): o is PromiseRejectedResult => o.status === 'rejected');
    return { opened: count - failures.length, failed: failures.length, error: failures[0] ? String(failures[0].reason?.message ?? failures[0].reason) : undefined };
  },
  status: () => ({ held: held.size, closedByPeer }),
  /** Pings every held WebSocket; resolves with how many answered within `timeoutMs`. */
  async ping(args) {
    const sockets = [...held].filter((h) => h.kind === 'ws');
    for (const h of sockets) {
      h.ponged = false;
      h.socket.write(pingFrame());
    }
    const deadline = Date.now() + Number(args.timeoutMs);
    let answered = 0;
    while (Date.now() < deadline) {
      answered = sockets.filter((h) => h.ponged).length;
      if (answered === sockets.length) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    return { asked: sockets.length, answered };
  },
  close() {
    const count = held.size;
    const entries = [...held];
    held.clear();
    closedByPeer = 0;
    for (const h of entries) h.socket.destroy();
    return count;
  },
});
