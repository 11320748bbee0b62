import { z } from 'zod';

/** The blender's priority rings, 0 (highest) … 4: the length of every per-ring list in configs and feeds. */
export const RING_COUNT = 5;

/** Blender weight per ring: bytes per round per ready stream (only the ratios matter). */
export const ringWeightsSchema = z.array(z.number().positive().finite()).length(RING_COUNT);

/**
 * Tunnel packet size, bytes (seed 001: set by the front-end manager): the blender fills packets of about
 * this many bytes with sub-packets of at most 512; at least 512, at most the tunnel's 64 KiB write batch.
 */
export const packetSizeSchema = z.number().int().min(512).max(65_536);

/**
 * What the gateways do for one ring's traffic (seed 001: the parser applies caching and compression
 * selectively by priority): `cache` lets the front-end serve and store its responses, `compress` lets the
 * tunnel lz4 its DATA frames, in both directions.
 */
export const ringFeaturesSchema = z.strictObject({
  cache: z.boolean().default(true),
  compress: z.boolean().default(true),
});
export type RingFeatures = z.output<typeof ringFeaturesSchema>;

/** `rings` in the manager's API, its feed and the gateways' state. */
export const ringsStateSchema = z.strictObject({
  weights: ringWeightsSchema,
  packetSize: packetSizeSchema.optional(),
  features: z.array(ringFeaturesSchema).length(RING_COUNT).optional(),
});
export type RingsState = z.output<typeof ringsStateSchema>;
