import type { BlenderOptions } from '@overlay/blender';
import { defaultBlenderOptions } from '@overlay/blender';
import { defaultCongestionOptions, verifyCongestionOptions, type CongestionOptions } from './congestion.js';

/** What each end tells the other in the handshake: limits on what the peer may send it. */
export interface Settings {
  /** Credit a new stream starts with in each direction, bytes (the receiver's initial window). */
  initialWindow: number;
  /** Bytes the peer may have in flight on the whole session before a session WINDOW update. */
  sessionWindow: number;
  /** Largest frame payload the receiver accepts, bytes. */
  maxFramePayload: number;
  /** Streams the peer may have open towards the receiver at once. */
  maxStreams: number;
  /** Whether the receiver accepts COMPRESSED data frames. */
  compression: boolean;
}

/**
 * What the manager's rings set for a tunnel (`PUT /v1/rings`): blender weights, packet size (unset: the
 * built-in one), and per ring whether its DATA is compressed (unset: every ring, when both sides agreed).
 */
export interface RingSettings {
  weights: readonly number[];
  packetSize?: number;
  features?: ReadonlyArray<{ compress: boolean }>;
}

export interface SessionOptions {
  settings: Settings;
  /** Ceiling a stream's receive window may grow to while its reader keeps up, bytes. */
  maxWindow: number;
  /** Compress a DATA frame with lz4 when its payload is at least this long and compression is agreed. */
  compressMinBytes: number;
  /** Keep at most this many bytes written to the socket and not yet taken by the kernel (late priority). */
  writeLowWatermark: number;
  /**
   * Largest DATA frame this end sends, bytes. Smaller than a socket read (64 KiB) so most frames arrive
   * whole inside one read and reach the reader without a copy.
   */
  maxDataFrame: number;
  /** Bytes assembled into one socket write (one syscall for many frames). */
  writeBatchBytes: number;
  /** A stream's writer is told to wait once this many of its bytes are queued in the blender. */
  streamHighWaterMark: number;
  /** Interval between PINGs, ms. */
  pingIntervalMs: number;
  /** No frame at all from the peer for this long closes the session, ms. */
  deadPeerTimeoutMs: number;
  /** Interval between QOS reports, ms. */
  qosIntervalMs: number;
  /** How long a closed session waits for its streams after GOAWAY before it ends them, ms. */
  drainTimeoutMs: number;
  /**
   * Control frames (replies, resets, window updates, answers to PINGs) a connection may have waiting
   * unsent, bytes. Past it the peer is not reading what it asks for: GOAWAY ENHANCE_YOUR_CALM, close.
   */
  maxControlBytes: number;
  /** Received bytes after which an ACK goes out at once, bytes; fewer wait at most ackDelayMs. */
  ackBytes: number;
  ackDelayMs: number;
  /** Pacing may send this long's worth of bytes at once after a pause, ms (timers are coarse). */
  pacingBurstMs: number;
  congestion: CongestionOptions;
  blender: BlenderOptions;
}

export const defaultSettings: Readonly<Settings> = Object.freeze({
  initialWindow: 256 * 1024,
  sessionWindow: 64 * 1024 * 1024,
  maxFramePayload: 64 * 1024,
  maxStreams: 16_384,
  compression: true,
});

export const defaultSessionOptions: Readonly<SessionOptions> = Object.freeze({
  settings: defaultSettings,
  maxWindow: 16 * 1024 * 1024,
  compressMinBytes: 1024,
  maxDataFrame: 16 * 1024,
  writeLowWatermark: 16 * 1024,
  writeBatchBytes: 64 * 1024,
  streamHighWaterMark: 256 * 1024,
  pingIntervalMs: 1_000,
  deadPeerTimeoutMs: 15_000,
  qosIntervalMs: 2_000,
  drainTimeoutMs: 30_000,
  maxControlBytes: 4 * 1024 * 1024,
  ackBytes: 64 * 1024,
  ackDelayMs: 2,
  pacingBurstMs: 4,
  congestion: defaultCongestionOptions,
  blender: defaultBlenderOptions,
});

export function resolveSessionOptions(options: Partial<SessionOptions> = {}): SessionOptions {
  const merged: SessionOptions = {
    ...defaultSessionOptions,
    ...options,
    settings: { ...defaultSettings, ...options.settings },
    blender: { ...defaultBlenderOptions, ...options.blender },
    congestion: { ...defaultCongestionOptions, ...options.congestion },
  };
  verifySessionOptions(merged);
  return merged;
}

export function verifySessionOptions(options: SessionOptions): void {
  const positive = (name: string, value: number) => {
    if (!Number.isFinite(value) || value <= 0) throw new RangeError(`tunnel ${name}: must be a positive number`);
  };
  const { settings } = options;
  positive('settings.initialWindow', settings.initialWindow);
  positive('settings.sessionWindow', settings.sessionWindow);
  positive('settings.maxStreams', settings.maxStreams);
  if (settings.maxFramePayload < 1024 || settings.maxFramePayload > 16 * 1024 * 1024) {
    throw new RangeError('tunnel settings.maxFramePayload: between 1 KiB and 16 MiB');
  }
  if (settings.initialWindow > 0x7fff_ffff || settings.sessionWindow > 0x7fff_ffff) {
    throw new RangeError('tunnel settings windows: at most 2 GiB - 1');
  }
  if (options.maxWindow < settings.initialWindow) throw new RangeError('tunnel maxWindow: at least settings.initialWindow');
  positive('writeLowWatermark', options.writeLowWatermark);
  positive('writeBatchBytes', options.writeBatchBytes);
  positive('maxDataFrame', options.maxDataFrame);
  if (options.writeBatchBytes < options.blender.packetSize) throw new RangeError('tunnel writeBatchBytes: at least blender.packetSize');
  positive('streamHighWaterMark', options.streamHighWaterMark);
  positive('pingIntervalMs', options.pingIntervalMs);
  positive('qosIntervalMs', options.qosIntervalMs);
  positive('maxControlBytes', options.maxControlBytes);
  positive('ackBytes', options.ackBytes);
  positive('ackDelayMs', options.ackDelayMs);
  positive('pacingBurstMs', options.pacingBurstMs);
  verifyCongestionOptions(options.congestion);
  if (options.deadPeerTimeoutMs <= options.pingIntervalMs) throw new RangeError('tunnel deadPeerTimeoutMs: must exceed pingIntervalMs');
}
