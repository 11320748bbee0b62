import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Duplex } from 'node:stream';
import { packPayload, unpackPayload } from './codec.js';
import { TunnelError, TunnelErrorCode } from './errors.js';
import type { Settings } from './options.js';

/**
 * Mutual authentication with a pre-shared key, before any frame (docs/protocol.md, "Handshake"):
 *
 *   initiator → CLIENT_HELLO  magic "OVT1" | version | flags | nonce(32) | len u16 | msgpack {id, tunnel, settings}
 *   acceptor  → SERVER_HELLO  magic | version | flags | nonce(32) | mac(32) | len u16 | msgpack {id, settings}
 *   initiator → CLIENT_AUTH   mac(32)
 *   acceptor  → RESULT        status u8 | len u16 | reason utf8
 *
 * The acceptor's mac is HMAC-SHA256(key, "OVT1 server" | CLIENT_HELLO | SERVER_HELLO without its mac); the
 * initiator's is HMAC-SHA256(key, "OVT1 client" | CLIENT_HELLO | SERVER_HELLO). Each side proves the key over
 * the other's fresh nonce, so a recorded handshake cannot be replayed against either.
 */
export const MAGIC = Buffer.from('OVT1', 'latin1');
export const PROTOCOL_VERSION = 1;
const NONCE_SIZE = 32;
const MAC_SIZE = 32;
const MAX_HELLO_PAYLOAD = 4096;
/**
 * Bytes a peer may send before the handshake ends: a hello and a mac fit many times over, and an initiator
 * waits for RESULT before its first frame. More is an unauthenticated peer filling this end's memory.
 */
const MAX_UNREAD_BYTES = 64 * 1024;
const SERVER_LABEL = Buffer.from('OVT1 server', 'latin1');
const CLIENT_LABEL = Buffer.from('OVT1 client', 'latin1');

export const HandshakeStatus = { OK: 0, AUTH_FAILED: 1, UNSUPPORTED_VERSION: 2, REFUSED: 3 } as const;

export interface PeerHello {
  /** The peer's gateway id. */
  id: string;
  /** The initiator's tunnel id: connections striped for one tunnel share it. */
  tunnel: string;
  settings: Settings;
}

/** Reads exact byte counts from a socket during the handshake; what arrives after it is handed back. */
class ExactReader {
  private buffered: Buffer[] = [];
  private length = 0;
  private want = 0;
  private waiter: ((err?: Error) => void) | null = null;
  private failure: Error | null = null;

  constructor(private readonly socket: Duplex) {
    socket.on('data', this.onData);
    socket.on('end', this.onEnd);
    socket.on('close', this.onEnd);
    socket.on('error', this.onError);
  }

  private readonly onData = (chunk: Buffer) => {
    this.buffered.push(chunk);
    this.length += chunk.length;
    if (this.length > MAX_UNREAD_BYTES) {
      this.fail(new TunnelError(TunnelErrorCode.HANDSHAKE, `peer sent more than ${MAX_UNREAD_BYTES} bytes during the handshake`));
      return;
    }
    if (this.waiter && this.length >= this.want) this.wake();
  };

  private readonly onEnd = () => this.fail(new TunnelError(TunnelErrorCode.HANDSHAKE, 'peer closed the connection during the handshake'));

  private readonly onError = (err: Error) => this.fail(new TunnelError(TunnelErrorCode.HANDSHAKE, `connection error during the handshake: ${err.message}`, { cause: err }));

  fail(err: Error): void {
    this.failure ??= err;
    this.wake();
  }

  private wake(): void {
    const waiter = this.waiter;
    this.waiter = null;
    waiter?.(this.failure ?? undefined);
  }

  async read(size: number): Promise<Buffer> {
    if (this.length < size) {
      if (this.failure) throw this.failure;
      this.want = size;
      await new Promise<void>((resolve, reject) => {
        this.waiter = (err) => (err ? reject(err) : resolve());
      });
    }
    const all = this.buffered.length === 1 ? this.buffered[0] : Buffer.concat(this.buffered, this.length);
    const out = all.subarray(0, size);
    const rest = all.subarray(size);
    this.buffered = rest.length ? [rest] : [];
    this.length = rest.length;
    return out;
  }

  /** Stops listening; returns bytes that arrived past the handshake (the first frames). */
  detach(): Buffer {
    this.socket.off('data', this.onData);
    this.socket.off('end', this.onEnd);
    this.socket.off('close', this.onEnd);
    this.socket.off('error', this.onError);
    return Buffer.concat(this.buffered, this.length);
  }
}

/** Names a key without revealing it, so an acceptor holding several keys (a rotation) picks the right one. */
export function keyId(key: Buffer): string {
  return createHmac('sha256', key).update('OVT1 key id').digest('hex').slice(0, 16);
}

function mac(key: Buffer, label: Buffer, ...parts: Buffer[]): Buffer {
  const hmac = createHmac('sha256', key).update(label);
  for (const part of parts) hmac.update(part);
  return hmac.digest();
}

function helloPayload(value: unknown): Buffer {
  const payload = packPayload(value);
  if (payload.length > MAX_HELLO_PAYLOAD) throw new TunnelError(TunnelErrorCode.HANDSHAKE, 'hello payload too large');
  const length = Buffer.allocUnsafe(2);
  length.writeUInt16BE(payload.length, 0);
  return Buffer.concat([length, payload]);
}

async function readHelloPayload(reader: ExactReader): Promise<{ raw: Buffer; value: Record<string, unknown> }> {
  const lengthBytes = await reader.read(2);
  const length = lengthBytes.readUInt16BE(0);
  if (length > MAX_HELLO_PAYLOAD) throw new TunnelError(TunnelErrorCode.HANDSHAKE, `hello payload of ${length} bytes is too large`);
  const payload = await reader.read(length);
  let value: unknown;
  try {
    value = unpackPayload(payload, 'hello');
  } catch (err) {
    throw new TunnelError(TunnelErrorCode.HANDSHAKE, (err as Error).message);
  }
  if (!value || typeof value !== 'object') throw new TunnelError(TunnelErrorCode.HANDSHAKE, 'hello payload is not a map');
  return { raw: Buffer.concat([lengthBytes, payload]), value: value as Record<string, unknown> };
}

function checkPrefix(prefix: Buffer): void {
  if (!prefix.subarray(0, 4).equals(MAGIC)) throw new TunnelError(TunnelErrorCode.HANDSHAKE, 'peer does not speak the overlay tunnel protocol (bad magic)');
  if (prefix[4] !== PROTOCOL_VERSION) throw new TunnelError(TunnelErrorCode.HANDSHAKE, `peer speaks tunnel protocol version ${prefix[4]}, this end ${PROTOCOL_VERSION}`);
}

function readSettings(value: unknown): Settings {
  const s = value as Partial<Settings> | undefined;
  const ok =
    s && typeof s === 'object' &&
    Number.isInteger(s.initialWindow) && (s.initialWindow as number) > 0 &&
    Number.isInteger(s.sessionWindow) && (s.sessionWindow as number) > 0 &&
    Number.isInteger(s.maxFramePayload) && (s.maxFramePayload as number) >= 1024 &&
    Number.isInteger(s.maxStreams) && (s.maxStreams as number) > 0 &&
    typeof s.compression === 'boolean';
  if (!ok) throw new TunnelError(TunnelErrorCode.HANDSHAKE, 'peer sent invalid settings');
  return s as Settings;
}

function withTimeout<T>(promise: Promise<T>, ms: number, reader: ExactReader): Promise<T> {
  const timer = setTimeout(() => reader.fail(new TunnelError(TunnelErrorCode.HANDSHAKE_TIMEOUT, `handshake not finished within ${ms} ms`)), ms);
  return promise.finally(() => clearTimeout(timer));
}

export interface HandshakeResult {
  peer: PeerHello;
  /** Bytes received after the handshake: the start of the frame stream. */
  rest: Buffer;
}

export interface InitiatorHandshake {
  key: Buffer;
  id: string;
  tunnel: string;
  settings: Settings;
  timeoutMs: number;
}

export async function initiatorHandshake(socket: Duplex, options: InitiatorHandshake): Promise<HandshakeResult> {
  const reader = new ExactReader(socket);
  try {
    return await withTimeout(runInitiator(socket, reader, options), options.timeoutMs, reader);
  } finally {
    reader.detach();
  }
}

async function runInitiator(socket: Duplex, reader: ExactReader, options: InitiatorHandshake): Promise<HandshakeResult> {
  const clientHello = Buffer.concat([
    MAGIC, Buffer.from([PROTOCOL_VERSION, 0]), randomBytes(NONCE_SIZE),
    helloPayload({ id: options.id, tunnel: options.tunnel, kid: keyId(options.key), settings: options.settings }),
  ]);
  socket.write(clientHello);
  const prefix = await reader.read(4 + 2 + NONCE_SIZE);
  checkPrefix(prefix);
  const serverMac = await reader.read(MAC_SIZE);
  const { raw, value } = await readHelloPayload(reader);
  const expected = mac(options.key, SERVER_LABEL, clientHello, prefix, raw);
  if (!timingSafeEqual(expected, serverMac)) {
    throw new TunnelError(TunnelErrorCode.AUTH_FAILED, 'back-end failed to prove the pre-shared key (wrong key, or not our peer)');
  }
  const serverHello = Buffer.concat([prefix, serverMac, raw]);
  socket.write(mac(options.key, CLIENT_LABEL, clientHello, serverHello));
  const status = await reader.read(1);
  const reasonLength = (await reader.read(2)).readUInt16BE(0);
  const reason = (await reader.read(Math.min(reasonLength, 1024))).toString('utf8');
  if (status[0] !== HandshakeStatus.OK) {
    const code = status[0] === HandshakeStatus.AUTH_FAILED ? TunnelErrorCode.AUTH_FAILED : TunnelErrorCode.HANDSHAKE;
    throw new TunnelError(code, `back-end refused the tunnel: ${reason || `status ${status[0]}`}`);
  }
  const peer = { id: String(value.id ?? ''), tunnel: options.tunnel, settings: readSettings(value.settings) };
  return { peer, rest: reader.detach() };
}

export interface AcceptorHandshake {
  /** Accepted keys (several during a rotation); the initiator's key id picks one. */
  keys: Buffer[];
  id: string;
  settings: Settings;
  timeoutMs: number;
}

export async function acceptorHandshake(socket: Duplex, options: AcceptorHandshake): Promise<HandshakeResult> {
  const reader = new ExactReader(socket);
  try {
    return await withTimeout(runAcceptor(socket, reader, options), options.timeoutMs, reader);
  } finally {
    reader.detach();
  }
}

function writeResult(socket: Duplex, status: number, reason: string): void {
  const text = Buffer.from(reason, 'utf8');
  const head = Buffer.allocUnsafe(3);
  head[0] = status;
  head.writeUInt16BE(text.length, 1);
  socket.write(Buffer.concat([head, text]));
}

async function runAcceptor(socket: Duplex, reader: ExactReader, options: AcceptorHandshake): Promise<HandshakeResult> {
  const prefix = await reader.read(4 + 2 + NONCE_SIZE);
  if (!prefix.subarray(0, 4).equals(MAGIC)) throw new TunnelError(TunnelErrorCode.HANDSHAKE, 'peer does not speak the overlay tunnel protocol (bad magic)');
  if (prefix[4] !== PROTOCOL_VERSION) {
    writeResult(socket, HandshakeStatus.UNSUPPORTED_VERSION, `version ${PROTOCOL_VERSION} only`);
    throw new TunnelError(TunnelErrorCode.HANDSHAKE, `peer speaks tunnel protocol version ${prefix[4]}, this end ${PROTOCOL_VERSION}`);
  }
  const { raw, value } = await readHelloPayload(reader);
  const clientHello = Buffer.concat([prefix, raw]);
  const settings = readSettings(value.settings);
  const id = typeof value.id === 'string' ? value.id.slice(0, 128) : '';
  const tunnel = typeof value.tunnel === 'string' ? value.tunnel.slice(0, 128) : '';

  const serverPrefix = Buffer.concat([MAGIC, Buffer.from([PROTOCOL_VERSION, 0]), randomBytes(NONCE_SIZE)]);
  const serverPayload = helloPayload({ id: options.id, settings: options.settings });
  const known = options.keys.find((candidate) => keyId(candidate) === value.kid);
  // With an unknown key id, answer with a mac under a throwaway key: the initiator then reports a key
  // mismatch on its side, and nothing here reveals which keys exist.
  const key = known ?? randomBytes(32);
  const serverMac = mac(key, SERVER_LABEL, clientHello, serverPrefix, serverPayload);
  const serverHello = Buffer.concat([serverPrefix, serverMac, serverPayload]);
  socket.write(serverHello);

  const clientMac = await reader.read(MAC_SIZE).catch((err: unknown) => {
    if (known) throw err;
    throw new TunnelError(TunnelErrorCode.AUTH_FAILED, `front-end ${JSON.stringify(id)} presented a key this back-end does not hold`);
  });
  const expected = mac(key, CLIENT_LABEL, clientHello, serverHello);
  if (!known || !timingSafeEqual(expected, clientMac)) {
    writeResult(socket, HandshakeStatus.AUTH_FAILED, 'authentication failed');
    throw new TunnelError(TunnelErrorCode.AUTH_FAILED, `front-end ${JSON.stringify(id)} failed to prove the pre-shared key`);
  }
  writeResult(socket, HandshakeStatus.OK, '');
  return { peer: { id, tunnel, settings }, rest: reader.detach() };
}
