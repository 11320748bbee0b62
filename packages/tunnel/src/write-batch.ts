import { encodeFrame, writeHeader } from './codec.js';
import { FrameType, HEADER_SIZE } from './frame.js';

/** Payload bytes of a queued control frame: its own, or the 4 of a WINDOW increment. */
export function controlPayloadLength(payload: Buffer | number): number {
  return typeof payload === 'number' ? 4 : payload.length;
}

/** What one socket write takes: views to send, and the pooled buffers behind them to recycle after. */
export interface BatchOut {
  chunks: Buffer[];
  bytes: number;
  owners: Buffer[];
}

/**
 * Assembles frames for one socket write: control frames copied in, DATA frames built in place so that
 * consecutive slices of one stream share a frame header. Buffers come from a small pool and go back
 * once the socket has taken them, so a busy tunnel does not allocate per write.
 */
export class WriteBatch<S = unknown> {
  readonly capacity: number;
  /** The stream whose DATA frame is open, if any. */
  frameStream: S | null = null;
  frameLength = 0;
  frameFlags = 0;
  private frameId = 0;
  private frameStart = 0;
  private current: Buffer | null = null;
  private pos = 0;
  private sealed: Buffer[] = [];
  private sealedBytes = 0;
  private owners: Buffer[] = [];
  private readonly pool: Buffer[] = [];

  constructor(batchBytes: number) {
    this.capacity = batchBytes + 4096;
  }

  /** Bytes assembled and not yet taken. */
  get length(): number {
    return this.sealedBytes + this.pos;
  }

  /** Room left in the current buffer. */
  get room(): number {
    return this.current ? this.capacity - this.pos : this.capacity;
  }

  appendFrame(frame: Buffer): void {
    if (frame.length > this.capacity) {
      this.seal();
      this.sealed.push(frame);
      this.sealedBytes += frame.length;
      return;
    }
    const target = this.ensure(frame.length);
    frame.copy(target, this.pos);
    this.pos += frame.length;
  }

  /** Writes a control frame in place: `payload` is its bytes, or a WINDOW increment (u32 BE). */
  appendControl(type: number, flags: number, streamId: number, payload: Buffer | number): void {
    const length = controlPayloadLength(payload);
    if (typeof payload !== 'number' && HEADER_SIZE + length > this.capacity) {
      this.appendFrame(encodeFrame(type, flags, streamId, payload));
      return;
    }
    const target = this.ensure(HEADER_SIZE + length);
    writeHeader(target, this.pos, type, flags, streamId, length);
    if (typeof payload === 'number') target.writeUInt32BE(payload, this.pos + HEADER_SIZE);
    else payload.copy(target, this.pos + HEADER_SIZE);
    this.pos += HEADER_SIZE + length;
  }

  /** Starts a DATA frame for `stream`, with room for at least `reserve` bytes of header and payload. */
  openFrame(stream: S, id: number, reserve: number): void {
    this.ensure(reserve);
    this.frameStream = stream;
    this.frameId = id;
    this.frameFlags = 0;
    this.frameLength = 0;
    this.frameStart = this.pos;
    this.pos += HEADER_SIZE;
  }

  appendPayload(chunk: Buffer, offset: number, length: number): void {
    chunk.copy(this.current as Buffer, this.pos, offset, offset + length);
    this.pos += length;
    this.frameLength += length;
  }

  /** The open frame's payload, in place (for compression). */
  framePayload(): Buffer {
    const start = this.frameStart + HEADER_SIZE;
    return (this.current as Buffer).subarray(start, start + this.frameLength);
  }

  /** Replaces the open frame's payload with a shorter one written by `write` at the given offset. */
  shrinkPayload(length: number, write: (target: Buffer, offset: number) => void): void {
    write(this.current as Buffer, this.frameStart + HEADER_SIZE);
    this.pos = this.frameStart + HEADER_SIZE + length;
    this.frameLength = length;
  }

  closeFrame(): void {
    if (this.frameStream === null) return;
    writeHeader(this.current as Buffer, this.frameStart, FrameType.DATA, this.frameFlags, this.frameId, this.frameLength);
    this.frameStream = null;
  }

  /** Everything assembled so far, ready to write; null when empty. The open frame must be closed first. */
  take(): BatchOut | null {
    this.seal();
    if (this.sealed.length === 0) return null;
    const out = { chunks: this.sealed, bytes: this.sealedBytes, owners: this.owners };
    this.sealed = [];
    this.sealedBytes = 0;
    this.owners = [];
    return out;
  }

  recycle(owners: Buffer[]): void {
    for (const owner of owners) if (this.pool.length < 4) this.pool.push(owner);
  }

  private ensure(bytes: number): Buffer {
    if (this.current && this.capacity - this.pos >= bytes) return this.current;
    this.seal();
    this.current = this.pool.pop() ?? Buffer.allocUnsafe(this.capacity);
    this.pos = 0;
    return this.current;
  }

  private seal(): void {
    const current = this.current;
    if (!current || this.pos === 0) return;
    if (this.frameStream !== null) throw new Error('sealing a batch with an open frame');
    this.sealed.push(current.subarray(0, this.pos));
    this.sealedBytes += this.pos;
    this.owners.push(current);
    this.current = null;
    this.pos = 0;
  }
}
