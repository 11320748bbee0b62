import { endianness } from 'node:os';

/**
 * The bytes `/bytes/{n}` serves: position p of one fixed pseudo-random stream, so every origin serves
 * the same bytes for the same n and `/bytes/10` is a prefix of `/bytes/20`. Counter-based (each 32-bit
 * word is a hash of its index), so any offset is reachable without generating what precedes it, and
 * incompressible enough that lz4 cannot shrink it.
 */
const SEED = 0x5eed_0c1a;
/** Chunk size the generator yields, bytes: large enough to be cheap per byte, small enough to stream. */
export const DEMO_CHUNK_BYTES = 64 * 1024;
/** The stream repeats after 2^32 words; offsets past this are refused. */
export const MAX_DEMO_BYTES = 2 ** 34;
const BIG_ENDIAN_HOST = endianness() === 'BE';

/** murmur3's 32-bit finalizer: spreads a Weyl sequence into well-mixed words. */
function mix(index: number): number {
  let h = Math.imul(index, 0x9e3779b1) ^ SEED;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Bytes [start, start + length) of the stream in a new Buffer. */
function slice(start: number, length: number): Buffer {
  const firstWord = Math.floor(start / 4);
  const skip = start - firstWord * 4;
  const words = Math.ceil((skip + length) / 4);
  const buffer = Buffer.allocUnsafeSlow(words * 4);
  const view = new Uint32Array(buffer.buffer, buffer.byteOffset, words);
  for (let i = 0; i < words; i++) view[i] = mix(firstWord + i);
  if (BIG_ENDIAN_HOST) buffer.swap32(); // the stream is defined little-endian
  return buffer.subarray(skip, skip + length);
}

/** Yields bytes [offset, offset + n) of the demo stream in chunks of at most DEMO_CHUNK_BYTES. */
export function* demoBytes(n: number, offset = 0): Generator<Buffer, void, undefined> {
  if (!Number.isSafeInteger(n) || !Number.isSafeInteger(offset) || n < 0 || offset < 0 || n + offset > MAX_DEMO_BYTES) {
    throw new RangeError(`demoBytes: need 0 <= offset, 0 <= n and offset + n <= ${MAX_DEMO_BYTES}`);
  }
  const end = offset + n;
  for (let position = offset; position < end; position += DEMO_CHUNK_BYTES) {
    yield slice(position, Math.min(DEMO_CHUNK_BYTES, end - position));
  }
}

/** The strong ETag for `/bytes/{n}`; the same on every origin because the bytes are. */
export function demoBytesEtag(n: number): string {
  return `"demo-bytes-${n}"`;
}
