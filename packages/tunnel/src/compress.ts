import lz4 from 'lz4';
import { protocolError } from './errors.js';
import { WireError } from './frame.js';
import type { WriteBatch } from './write-batch.js';

/** lz4 block compression of DATA payloads: `u32 BE original length | lz4 block` (docs/protocol.md). */
const MAX_INPUT = 16 * 1024 * 1024;

export function compressionScratch(): Buffer {
  return Buffer.allocUnsafe(lz4.encodeBound(64 * 1024 + 4096));
}

/**
 * Compresses the batch's open frame in place when that makes it smaller; returns the bytes saved
 * (0 when the payload did not shrink and was left as it was).
 */
export function compressInto(batch: WriteBatch<unknown>, scratch: Buffer): number {
  const payload = batch.framePayload();
  const length = payload.length;
  if (lz4.encodeBound(length) > scratch.length) return 0;
  const compressed = lz4.encodeBlock(payload, scratch);
  if (compressed <= 0 || compressed + 4 >= length) return 0;
  batch.shrinkPayload(compressed + 4, (target, offset) => {
    target.writeUInt32BE(length, offset);
    scratch.copy(target, offset + 4, 0, compressed);
  });
  batch.frameFlags |= 0x02;
  return length - compressed - 4;
}

/** The length a COMPRESSED payload says it inflates to; a claim past the frame limit is a COMPRESSION_ERROR. */
export function inflatedLength(payload: Buffer, maxLength: number): number {
  if (payload.length < 5) throw protocolError('compressed payload shorter than its header', WireError.COMPRESSION_ERROR);
  const length = payload.readUInt32BE(0);
  if (length > Math.min(maxLength, MAX_INPUT)) throw protocolError(`compressed payload claims ${length} bytes, past the frame limit`, WireError.COMPRESSION_ERROR);
  return length;
}

/**
 * Inflates a COMPRESSED payload into `target` at `offset`, where `length` (its inflatedLength) bytes are
 * free; a corrupt block, or one inflating to another length, is a COMPRESSION_ERROR.
 */
export function decompressInto(payload: Buffer, target: Buffer, offset: number, length: number): void {
  let written: number;
  try {
    written = lz4.decodeBlock(payload.subarray(4), target.subarray(offset, offset + length));
  } catch (err) {
    throw protocolError(`corrupt lz4 block: ${(err as Error).message}`, WireError.COMPRESSION_ERROR);
  }
  if (written !== length) throw protocolError(`lz4 block inflated to ${written} bytes, header said ${length}`, WireError.COMPRESSION_ERROR);
}
