/**
 * Every tunable of the front-end gateway that is not part of the live state, with units and defaults in
 * one place. The config schema (config.ts) fills these in; docs/front-end.md explains each one.
 */

/** The client-facing listeners (node:http, node:https, node:http2). */
export interface HttpListenerOptions {
  /** Whole request head (request line and headers) must arrive within this, ms (slowloris guard). */
  headersTimeoutMs: number;
  /** Whole request, body included, must arrive within this, ms; 0 disables (long uploads). */
  requestTimeoutMs: number;
  /** An idle keep-alive connection is closed after this, ms. */
  keepAliveTimeoutMs: number;
  /** Largest request head, bytes; past it the client gets 431. */
  maxHeaderBytes: number;
  /** Open client connections per listener (the HTTP one, and each TCP site's); more are refused at accept. */
  maxConnections: number;
  /**
   * Connections still waiting for their first request head, all sources together and per source address
   * (an IPv6 /64). A newcomer always gets in: its source's oldest such connection, or (when all are taken)
   * the oldest of the source holding the most, is closed instead (client-guard.ts).
   */
  maxHeadConnections: number;
  maxHeadConnectionsPerSource: number;
  /** Longest wait for the back-end's response head, ms; past it the client gets 504. */
  replyTimeoutMs: number;
  /** How long close() lets in-flight requests finish before cutting them, ms. */
  closeGraceMs: number;
  /** Streams one HTTP/2 client connection may have open at once (its SETTINGS_MAX_CONCURRENT_STREAMS). */
  maxConcurrentStreams: number;
}

export const defaultHttpListenerOptions: Readonly<HttpListenerOptions> = Object.freeze({
  headersTimeoutMs: 20_000,
  requestTimeoutMs: 300_000,
  keepAliveTimeoutMs: 60_000,
  maxHeaderBytes: 16 * 1024,
  maxConnections: 20_000,
  maxHeadConnections: 4096,
  maxHeadConnectionsPerSource: 256,
  replyTimeoutMs: 120_000,
  closeGraceMs: 5_000,
  maxConcurrentStreams: 128,
});

/** Deadlines of a TCP-mode site's carried connections; set per site in the state (`idleTimeoutMs`, `minBytesPerS`). */
export interface TcpSiteOptions {
  /**
   * Length of the idle check's window, ms: a connection that moves fewer than max(1, minBytesPerS × window)
   * bytes in a window (both directions together) is closed at its end, so a silent one goes within one to
   * two windows. Bytes that wait unread (a client that stopped reading) do not count as moved.
   */
  idleTimeoutMs: number;
  /** Least average rate over each window, bytes/s, both directions together; 0: any byte keeps the connection. */
  minBytesPerS: number;
}

export const defaultTcpSiteOptions: Readonly<TcpSiteOptions> = Object.freeze({
  idleTimeoutMs: 300_000,
  minBytesPerS: 0,
});

/** The front-end cache (@overlay/cache); `enabled: false` makes every request BYPASS. */
export interface CacheSettings {
  enabled: boolean;
  /** Budget for all stored responses, bytes. */
  maxBytes: number;
  /** Largest single stored response, bytes; bigger ones stream through unstored. */
  maxObjectBytes: number;
  /** Stored variants per URL (Vary), count. */
  maxVariantsPerKey: number;
}

export const defaultCacheSettings: Readonly<CacheSettings> = Object.freeze({
  enabled: true,
  maxBytes: 64 * 1024 * 1024,
  maxObjectBytes: 8 * 1024 * 1024,
  maxVariantsPerKey: 8,
});

/** Defaults applied to each back-end route that does not set its own. */
export const defaultBackEndRoute = Object.freeze({
  /** In-flight requests and connections this front-end carries on one back-end route before it counts as full. */
  highWater: 1024,
});

/** How many workers' answers the primary waits for, and for how long, ms. */
export const clusterTimings = Object.freeze({
  /** A worker must report its listeners within this, ms. */
  workerReadyTimeoutMs: 15_000,
  /** A worker must acknowledge a state update within this, ms. */
  updateTimeoutMs: 5_000,
  /** Delay before a crashed worker is replaced, ms (doubles per crash in a row, up to 30 s). */
  respawnDelayMs: 1_000,
  respawnMaxDelayMs: 30_000,
  /** How often each worker tells the primary its load, tunnels and ring bytes (for manager reports), ms. */
  statusIntervalMs: 1_000,
});

/** Limits of a request head on the tunnel (@overlay/stream-heads): more fields get 431. */
export const MAX_FORWARDED_FIELDS = 256;
export const MAX_FIELD_NAME_BYTES = 256;
