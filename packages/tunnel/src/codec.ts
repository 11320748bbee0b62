import { Packr, Unpackr } from 'msgpackr';
import { FrameType, HEADER_SIZE, MAX_FRAME_TYPE, WireError } from './frame.js';
import { protocolError } from './errors.js';

// Plain maps only: msgpackr's record extension keeps state across messages, which a frame must not need.
const packr = new Packr({ useRecords: false, moreTypes: false, encodeUndefinedAsNil: true });
const unpackr = new Unpackr({ useRecords: false, moreTypes: false, mapsAsObjects: true });

export function packPayload(value: unknown): Buffer {
  return packr.pack(value);
}

/** Decodes a control payload; anything that is not one msgpack value is a protocol error. */
export function unpackPayload(payload: Buffer, what: string): unknown {
  try {
    return unpackr.unpack(payload);
  } catch (err) {
    throw protocolError(`malformed ${what} payload: ${(err as Error).message}`);
  }
}

export function writeHeader(target: Buffer, offset: number, type: number, flags: number, streamId: number, length: number): void {
  target[offset] = type;
  target[offset + 1] = flags;
  target.writeUInt32BE(streamId, offset + 2);
  target.writeUInt32BE(length, offset + 6);
}

/** One whole frame in a fresh buffer: for control frames, which are small and rare. */
export function encodeFrame(type: number, flags: number, streamId: number, payload?: Buffer): Buffer {
  const length = payload?.length ?? 0;
  const frame = Buffer.allocUnsafe(HEADER_SIZE + length);
  writeHeader(frame, 0, type, flags, streamId, length);
  if (payload) payload.copy(frame, HEADER_SIZE);
  return frame;
}

/** An ACK: `received` bytes of the connection read so far (up to 2^53). */
export function encodeAck(received: number): Buffer {
  const payload = Buffer.allocUnsafe(8);
  payload.writeUInt32BE(Math.floor(received / 2 ** 32), 0);
  payload.writeUInt32BE(received % 2 ** 32, 4);
  return encodeFrame(FrameType.ACK, 0, 0, payload);
}

export function decodeAck(payload: Buffer): number {
  return payload.readUInt32BE(0) * 2 ** 32 + payload.readUInt32BE(4);
}

/**
 * `owned` is true when the payload is a buffer of its own (assembled across reads), false when it is a
 * view into the chunk being decoded.
 */
export type FrameHandler = (type: number, flags: number, streamId: number, payload: Buffer, owned: boolean) => void;

/**
 * Incremental decoder: feed it bytes split anywhere, it calls `onFrame` once per whole frame, in order.
 * Payloads are views into the pushed chunk when they fit in it (valid only during the call), else a copy.
 * Throws a TunnelError on an unknown type or a length past `maxPayload`.
 */
export class FrameDecoder {
  private readonly header = Buffer.alloc(HEADER_SIZE);
  private headerFilled = 0;
  private payload: Buffer | null = null;
  private payloadFilled = 0;
  private type = 0;
  private flags = 0;
  private streamId = 0;

  constructor(
    private readonly maxPayload: number,
    private readonly onFrame: FrameHandler,
  ) {}

  /** True when no frame is half-received: a clean place for the peer to stop. */
  get idle(): boolean {
    return this.headerFilled === 0 && this.payload === null;
  }

  push(chunk: Buffer): void {
    let offset = 0;
    const end = chunk.length;
    while (offset < end) {
      if (this.payload !== null) {
        const take = Math.min(end - offset, this.payload.length - this.payloadFilled);
        chunk.copy(this.payload, this.payloadFilled, offset, offset + take);
        this.payloadFilled += take;
        offset += take;
        if (this.payloadFilled === this.payload.length) {
          const payload = this.payload;
          this.payload = null;
          this.onFrame(this.type, this.flags, this.streamId, payload, true);
        }
        continue;
      }
      let headerAt: Buffer;
      let headerOffset: number;
      if (this.headerFilled === 0 && end - offset >= HEADER_SIZE) {
        headerAt = chunk;
        headerOffset = offset;
        offset += HEADER_SIZE;
      } else {
        const take = Math.min(end - offset, HEADER_SIZE - this.headerFilled);
        chunk.copy(this.header, this.headerFilled, offset, offset + take);
        this.headerFilled += take;
        offset += take;
        if (this.headerFilled < HEADER_SIZE) return;
        this.headerFilled = 0;
        headerAt = this.header;
        headerOffset = 0;
      }
      const type = headerAt[headerOffset];
      const flags = headerAt[headerOffset + 1];
      const streamId = headerAt.readUInt32BE(headerOffset + 2);
      const length = headerAt.readUInt32BE(headerOffset + 6);
      if (type > MAX_FRAME_TYPE) throw protocolError(`unknown frame type 0x${type.toString(16)}`);
      if (length > this.maxPayload) {
        throw protocolError(`frame payload of ${length} bytes exceeds the limit of ${this.maxPayload}`, WireError.FRAME_SIZE_ERROR);
      }
      if (end - offset >= length) {
        this.onFrame(type, flags, streamId, chunk.subarray(offset, offset + length), false);
        offset += length;
      } else {
        this.type = type;
        this.flags = flags;
        this.streamId = streamId;
        this.payload = Buffer.allocUnsafe(length);
        this.payloadFilled = 0;
      }
    }
  }
}
