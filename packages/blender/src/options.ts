/** Everything the blender can be tuned by, with units; defaults below, checked by `verifyBlenderOptions`. */
export interface BlenderOptions {
  /**
   * One weight per priority ring, highest priority first: bytes a ring may send per pass for each of its
   * ready streams, before normalization. Only the ratios matter (the pass is rescaled), so the defaults
   * halve at each level: a priority-0 stream gets 16× the bytes of a priority-4 stream when both are
   * backlogged, and the lowest ring still always gets its share.
   */
  weights: readonly number[];
  /** Largest slice taken from one stream before the round-robin moves on, bytes (seed 001: 512). */
  subPacketSize: number;
  /** Bytes gathered into one packet before it is handed to the writer, bytes (seed 001: ≈1.5 KB). */
  packetSize: number;
  /**
   * Ceiling on one pass's total budget, bytes. Seed 001 sizes a pass to drain the ring with the most
   * ready streams; with deep buffers such a pass lasts long and a ring that spent its budget waits for
   * all of it. Scaling the pass down keeps every ring's proportion and bounds that wait.
   * `Infinity` gives the seed's unbounded pass.
   */
  maxPassBytes: number;
}

export const defaultBlenderOptions: Readonly<BlenderOptions> = Object.freeze({
  weights: Object.freeze([16384, 8192, 4096, 2048, 1024]),
  subPacketSize: 512,
  packetSize: 1536,
  maxPassBytes: 256 * 1024,
});

export function verifyBlenderOptions(options: BlenderOptions): void {
  const { weights, subPacketSize, packetSize, maxPassBytes } = options;
  if (weights.length < 1 || weights.length > 16) throw new RangeError('blender weights: between 1 and 16 rings');
  weights.forEach((weight, ring) => {
    if (!Number.isFinite(weight) || weight <= 0) throw new RangeError(`blender weights[${ring}]: must be a positive number`);
  });
  if (!Number.isInteger(subPacketSize) || subPacketSize < 1) throw new RangeError('blender subPacketSize: positive integer');
  if (!Number.isInteger(packetSize) || packetSize < subPacketSize) {
    throw new RangeError('blender packetSize: integer no smaller than subPacketSize');
  }
  if (!(maxPassBytes >= packetSize)) throw new RangeError('blender maxPassBytes: at least packetSize');
}
