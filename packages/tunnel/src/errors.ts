import { OverlayError, type ErrorOrigin } from '@overlay/common';
import { WireError, wireErrorName } from './frame.js';

/**
 * Stable error codes of the tunnel (docs/errors.md). `wire` is the numeric reason sent to, or received
 * from, the peer where one applies.
 */
export const TunnelErrorCode = {
  AUTH_FAILED: 'ERR_TUNNEL_AUTH_FAILED',
  HANDSHAKE: 'ERR_TUNNEL_HANDSHAKE',
  HANDSHAKE_TIMEOUT: 'ERR_TUNNEL_HANDSHAKE_TIMEOUT',
  PROTOCOL: 'ERR_TUNNEL_PROTOCOL',
  FRAME_SIZE: 'ERR_TUNNEL_FRAME_SIZE',
  FLOW_CONTROL: 'ERR_TUNNEL_FLOW_CONTROL',
  STREAM_CLOSED: 'ERR_TUNNEL_STREAM_CLOSED',
  COMPRESSION: 'ERR_TUNNEL_COMPRESSION',
  PEER_TIMEOUT: 'ERR_TUNNEL_PEER_TIMEOUT',
  CONNECTION_LOST: 'ERR_TUNNEL_CONNECTION_LOST',
  GOAWAY: 'ERR_TUNNEL_GOAWAY',
  STREAM_RESET: 'ERR_TUNNEL_STREAM_RESET',
  STREAM_REFUSED: 'ERR_TUNNEL_STREAM_REFUSED',
  TOO_MANY_STREAMS: 'ERR_TUNNEL_TOO_MANY_STREAMS',
  UNAVAILABLE: 'ERR_TUNNEL_UNAVAILABLE',
  CLOSED: 'ERR_TUNNEL_CLOSED',
  /** The peer left more than maxControlBytes of our control frames unread. */
  CONTROL_OVERFLOW: 'ERR_TUNNEL_CONTROL_OVERFLOW',
} as const;
export type TunnelErrorCode = (typeof TunnelErrorCode)[keyof typeof TunnelErrorCode];

export class TunnelError extends OverlayError {
  /** Numeric reason for the wire (RESET/GOAWAY), if this error maps to one. */
  readonly wire: number;

  constructor(code: TunnelErrorCode, message: string, options: { wire?: number; origin?: ErrorOrigin; retryable?: boolean; cause?: unknown } = {}) {
    super(code, message, { origin: options.origin ?? 'peer', retryable: options.retryable ?? false, cause: options.cause });
    this.name = 'TunnelError';
    this.wire = options.wire ?? WireError.INTERNAL_ERROR;
  }
}

export function protocolError(message: string, wire: number = WireError.PROTOCOL_ERROR): TunnelError {
  const code =
    wire === WireError.FRAME_SIZE_ERROR ? TunnelErrorCode.FRAME_SIZE
    : wire === WireError.FLOW_CONTROL_ERROR ? TunnelErrorCode.FLOW_CONTROL
    : wire === WireError.STREAM_CLOSED ? TunnelErrorCode.STREAM_CLOSED
    : wire === WireError.COMPRESSION_ERROR ? TunnelErrorCode.COMPRESSION
    : TunnelErrorCode.PROTOCOL;
  return new TunnelError(code, message, { wire });
}

/** The error a stream ends with when the peer resets it. */
export function resetError(wire: number, reason: string): TunnelError {
  const refused = wire === WireError.REFUSED_STREAM;
  return new TunnelError(
    refused ? TunnelErrorCode.STREAM_REFUSED : TunnelErrorCode.STREAM_RESET,
    `stream reset by peer: ${wireErrorName(wire)}${reason ? ` (${reason})` : ''}`,
    // A refused stream never reached the far side's application: safe to try elsewhere.
    { wire, retryable: refused },
  );
}
