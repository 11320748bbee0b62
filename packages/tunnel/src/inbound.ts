import { decompressInto } from './compress.js';

/** What the assembler needs of a stream: its place in the current read, and the inbox its chunks go to. */
export interface ReadSlotted {
  /** The stream's place in the current socket read's assembly; -1 when this read has not touched it. */
  readSlot: number;
  /** Received chunks waiting for the reader. */
  inbox: Buffer[];
}

/** Marks a piece whose bytes go as they are; any other value is the length a COMPRESSED piece inflates to. */
export const PLAIN = -1;

/**
 * Bytes joined into one chunk at most, a DATA frame's default size: a compressed read can carry megabytes
 * for one stream, and larger fresh buffers cost page faults (in the A/B, chunks of 64 KiB nearly doubled
 * the front-end's CPU per 64 MiB download against chunks of 16 KiB).
 */
export const JOINED_CHUNK_BYTES = 16 * 1024;

/**
 * Joins what one socket read brought each stream into chunks of up to JOINED_CHUNK_BYTES, so that its
 * reader gets small pieces (1 KiB answers, short frames) as one chunk: one 'data' event, one write
 * onwards. Compressed pieces are inflated straight into those chunks, without a buffer of their own.
 * A chunk made of one plain piece is handed on as the view it is when the stream's pieces make up at
 * least half of the read (they pin at most twice their size); anything else is copied, so a small piece
 * does not pin a whole read buffer for as long as its reader stalls.
 */
export class ReadAssembler<S extends ReadSlotted> {
  private streams: S[] = [];
  /** Per slot: bytes (inflated) this read brought the stream, and of them not yet placed in a chunk. */
  private readonly totals: number[] = [];
  private readonly unplaced: number[] = [];
  /** Per slot: the chunk being filled and how far. */
  private readonly targets: Array<Buffer | null> = [];
  private readonly filled: number[] = [];
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
      this.totals.push(0);
      this.unplaced.push(0);
      this.targets.push(null);
      this.filled.push(0);
    }
    return stream.readSlot;
  }

  /** A piece for `stream`: `inflated` is PLAIN for bytes as they are, else the length they inflate to. */
  add(stream: S, payload: Buffer, inflated: number): void {
    const slot = this.touch(stream);
    const length = inflated === PLAIN ? payload.length : inflated;
    this.totals[slot] += length;
    this.unplaced[slot] += length;
    this.pieces.push(slot, payload, inflated);
  }

  /**
   * Moves each touched stream's joined chunks into its inbox, then calls `deliver` for each (also for a
   * stream the read only brought a FIN), in the order the streams were first touched. Throws a
   * TunnelError for a corrupt compressed piece (the session is done for then), without calling `deliver`;
   * the assembler is empty again either way.
   */
  flush(readLength: number, deliver: (stream: S) => void): void {
    const { streams, pieces, totals, unplaced, targets, filled } = this;
    this.streams = [];
    this.pieces = [];
    try {
      for (let i = 0; i < pieces.length; i += 3) {
        const slot = pieces[i] as number;
        const payload = pieces[i + 1] as Buffer;
        const inflated = pieces[i + 2] as number;
        const length = inflated === PLAIN ? payload.length : inflated;
        let target = targets[slot];
        if (target === null) {
          const size = unplaced[slot] <= JOINED_CHUNK_BYTES ? unplaced[slot] : chunkSizeFrom(pieces, i, slot);
          unplaced[slot] -= size;
          if (inflated === PLAIN && length === size && totals[slot] * 2 >= readLength) {
            streams[slot].inbox.push(payload);
            continue;
          }
          target = targets[slot] = Buffer.allocUnsafe(size);
          filled[slot] = 0;
          streams[slot].inbox.push(target);
        }
        if (inflated === PLAIN) payload.copy(target, filled[slot]);
        else decompressInto(payload, target, filled[slot], inflated);
        filled[slot] += length;
        if (filled[slot] === target.length) targets[slot] = null;
      }
    } finally {
      for (const stream of streams) stream.readSlot = -1;
      totals.length = unplaced.length = targets.length = filled.length = 0;
    }
    for (const stream of streams) deliver(stream);
  }
}

/** The size of the chunk that starts with piece `start` of `slot`: its pieces from there, up to the cap. */
function chunkSizeFrom(pieces: ReadonlyArray<number | Buffer>, start: number, slot: number): number {
  let size = 0;
  for (let i = start; i < pieces.length; i += 3) {
    if (pieces[i] !== slot) continue;
    const inflated = pieces[i + 2] as number;
    const length = inflated === PLAIN ? (pieces[i + 1] as Buffer).length : inflated;
    if (size > 0 && size + length > JOINED_CHUNK_BYTES) break;
    size += length;
  }
  return size;
}
