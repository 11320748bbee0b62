/**
 * Wire constants of the tunnel protocol (docs/protocol.md is the normative text).
 *
 * Every frame: type u8 | flags u8 | stream id u32 BE | payload length u32 BE | payload.
 */
export const HEADER_SIZE = 10;

export const FrameType = {
  /** Stream bytes (fast path, binary payload). */
  DATA: 0x0,
  /** Opens a stream; payload msgpack {p: priority, m: metadata}. */
  OPEN: 0x1,
  /** The acceptor's reply head for a stream (an HTTP response head); payload msgpack metadata. */
  REPLY: 0x2,
  /** Abandons a stream; payload msgpack {code, reason}. */
  RESET: 0x3,
  /** Flow-control credit; payload u32 BE increment; stream 0 = the session window. */
  WINDOW: 0x4,
  /** Liveness and RTT; payload 8 opaque bytes echoed with ACK. */
  PING: 0x5,
  /** Changes to the sender's settings during the session; payload msgpack (partial Settings). */
  SETTINGS: 0x6,
  /** The sender accepts no stream above `last`; payload msgpack {last, code, reason}. */
  GOAWAY: 0x7,
  /** Link-quality report; payload msgpack QosReport. */
  QOS: 0x8,
  /** Bytes of this connection received so far; payload u32 BE high word | u32 BE low word (stream 0). */
  ACK: 0x9,
} as const;
export type FrameType = (typeof FrameType)[keyof typeof FrameType];
export const MAX_FRAME_TYPE = FrameType.ACK;

export const FrameFlag = {
  /** DATA: last bytes of the sender's side of the stream (half-close). */
  FIN: 0x01,
  /** DATA: payload is u32 BE original length + one lz4 block. */
  COMPRESSED: 0x02,
  /** PING: this is the answer. */
  ACK: 0x04,
} as const;

/** Numeric reasons carried in RESET and GOAWAY (stable; listed in docs/protocol.md). */
export const WireError = {
  NO_ERROR: 0,
  PROTOCOL_ERROR: 1,
  INTERNAL_ERROR: 2,
  FLOW_CONTROL_ERROR: 3,
  STREAM_CLOSED: 4,
  FRAME_SIZE_ERROR: 5,
  REFUSED_STREAM: 6,
  CANCEL: 7,
  COMPRESSION_ERROR: 8,
  CONNECT_ERROR: 9,
  TIMEOUT: 10,
  OVERLOADED: 11,
  UPSTREAM_ERROR: 12,
  /** The peer made this end queue more control frames than it reads (maxControlBytes). */
  ENHANCE_YOUR_CALM: 13,
} as const;
export type WireError = (typeof WireError)[keyof typeof WireError];

export function wireErrorName(code: number): string {
  for (const [name, value] of Object.entries(WireError)) if (value === code) return name;
  return `UNKNOWN_${code}`;
}

/** Stream ids: the connection's initiator opens odd ids, the acceptor even ones; 0 is the session. */
export function isInitiatorStream(id: number): boolean {
  return (id & 1) === 1;
}

export const MAX_STREAM_ID = 0xffff_ffff;
