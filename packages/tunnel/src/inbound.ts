import { decompressInto } from './compress.js';

/** What the assembler needs of a stream: where it keeps the stream's bytes of the current read. */
export interface ReadSlotted {
  /** The stream's place in the current socket read's assembly; -1 when this read has not touched it. */
  readSlot: number;
}

/** Marks a piece whose bytes go as they are; any other value is the length a COMPRESSED piece inflates to. */
export const PLAIN = -1;

/**
 * Bytes joined into one chunk at most: a compressed read can carry megabytes for one stream, and one
 * fresh buffer that size costs page faults on every byte, where chunks this size are recycled by malloc.
 */
export const JOINED_CHUNK_BYTES = 64 * 1024;

/**
 * Joins what one socket read brought each stream into chunks of up to JOINED_CHUNK_BYTES, so that its
 * reader gets one chunk per read (one 'data' event, one write onwards) instead of one per frame.
 * Compressed pieces are inflated straight into those chunks. A chunk made of one plain piece at least half
 * the read's size is handed on as the view it is (it pins at most twice its size); anything else is
 * copied, so a small piece does not pin a whole read buffer for as long as its reader stalls.
 */
export class ReadAssembler<S extends ReadSlotted> {
  private streams: S[] = [];
  /** Per piece, in arrival order: slot, payload (a view into the read), PLAIN or inflated length. */
  private pieces: Array<number | Buffer> = [];

  get empty(): boolean {
    return this.streams.length === 0;
  }

  /** Notes a stream the read touched (also for a FIN with no bytes); returns its slot. */
  touch(stream: S): number {
    if (stream.readSlot < 0) {
      stream.readSlot = this.streams.length;
      this.streams.push(stream);
    }
    return stream.readSlot;
  }

  /** A piece for `stream`: `inflated` is PLAIN for bytes as they are, else the length they inflate to. */
  add(stream: S, payload: Buffer, inflated: number): void {
    this.pieces.push(this.touch(stream), payload, inflated);
  }

  /**
   * Hands each touched stream its joined chunks (none when the read only brought a FIN), in the order the
   * streams were first touched. Throws a TunnelError for a corrupt compressed piece, after which nothing
   * is delivered; the assembler is empty again either way.
   */
  flush(readLength: number, deliver: (stream: S, chunks: readonly Buffer[]) => void): void {
    const { streams, pieces } = this;
    this.streams = [];
    this.pieces = [];
    for (const stream of streams) stream.readSlot = -1;
    const chunks = streams.map((): Buffer[] => []);
    const sizes = chunkSizes(streams.length, pieces);
    const filled = new Array<number>(streams.length).fill(0);
    const current = new Array<Buffer | null>(streams.length).fill(null);
    for (let i = 0; i < pieces.length; i += 3) {
      const slot = pieces[i] as number;
      const payload = pieces[i + 1] as Buffer;
      const inflated = pieces[i + 2] as number;
      let target = current[slot];
      if (target === null) {
        const size = sizes[slot].shift() as number;
        if (inflated === PLAIN && payload.length === size && size * 2 >= readLength) {
          chunks[slot].push(payload);
          continue;
        }
        target = current[slot] = Buffer.allocUnsafe(size);
        chunks[slot].push(target);
        filled[slot] = 0;
      }
      if (inflated === PLAIN) payload.copy(target, filled[slot]);
      else decompressInto(payload, target, filled[slot], inflated);
      filled[slot] += inflated === PLAIN ? payload.length : inflated;
      if (filled[slot] === target.length) current[slot] = null;
    }
    for (let i = 0; i < streams.length; i++) deliver(streams[i], chunks[i]);
  }
}

/** Per slot, the sizes of its chunks: pieces in order, a new chunk where the next would pass the cap. */
function chunkSizes(slots: number, pieces: ReadonlyArray<number | Buffer>): number[][] {
  const sizes = Array.from({ length: slots }, (): number[] => []);
  const open = new Array<number>(slots).fill(0);
  for (let i = 0; i < pieces.length; i += 3) {
    const slot = pieces[i] as number;
    const inflated = pieces[i + 2] as number;
    const length = inflated === PLAIN ? (pieces[i + 1] as Buffer).length : inflated;
    if (open[slot] > 0 && open[slot] + length > JOINED_CHUNK_BYTES) {
      sizes[slot].push(open[slot]);
      open[slot] = 0;
    }
    open[slot] += length;
  }
  for (let slot = 0; slot < slots; slot++) if (open[slot] > 0) sizes[slot].push(open[slot]);
  return sizes;
}
