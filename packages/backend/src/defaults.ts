/**
 * Every default of the back-end gateway, with its unit, in one place. The config schema (config.ts) fills
 * these in and docs/back-end.md quotes them; change both together.
 */
export const backEndDefaults = Object.freeze({
  /** Per-origin concurrency limit (seed 000: below what the origin can take, one request per connection). */
  limits: Object.freeze({
    /** Adapt the limit to measured latency and goodput (LimitController); false keeps `initial` fixed. */
    adaptive: true,
    /** Lowest limit, requests. */
    min: 2,
    /** Highest limit, requests; also the most pooled connections per origin. */
    max: 256,
    /** Limit after the first baseline probe (adaptive) or the fixed limit, requests. */
    initial: 8,
  }),
  /** The FIFO queue in front of each origin list (a site's, or a path route's). */
  queue: Object.freeze({
    /** Requests that may wait at once per origin list; one more gets 503 ERR_QUEUE_FULL. */
    maxQueue: 1024,
    /** Longest wait for a free origin slot before 503 ERR_QUEUE_TIMEOUT, ms. */
    queueTimeoutMs: 5_000,
  }),
  /** Active probes and passive failure detection (seed 003). */
  health: Object.freeze({
    /** Path probed with GET on HTTP origins (TCP origins are probed by connecting). */
    path: '/healthz',
    /** Time between probe rounds, ms. */
    intervalMs: 2_000,
    /** A probe with no answer within this fails, ms. */
    timeoutMs: 1_000,
    /** Consecutive good probes that bring a down origin back. */
    rise: 2,
    /** Consecutive failed probes that take an up origin down. */
    fall: 3,
    /** Consecutive failed requests that take an up origin down. */
    passiveFailures: 5,
    /** Least time an origin taken down by failed requests stays down, ms; doubles per repeat, up to 60 s. */
    passiveHoldMs: 5_000,
    /** Requests outstanding and nothing heard for this long takes an origin down, ms. */
    silenceMs: 10_000,
    /** A recovered origin's weight ramps to full over this, ms (0 disables slow start). */
    slowStartMs: 10_000,
  }),
  /** Connections to origins (one pooled set per HTTP origin: our own HTTP/1.1 connections, undici for HTTPS). */
  pool: Object.freeze({
    /** An idle origin connection is closed after this, ms (seed 000: 3 minutes); a shorter keep-alive hint from the origin wins. */
    idleTimeoutMs: 180_000,
    /** Connecting to an origin must succeed within this, ms. */
    connectTimeoutMs: 5_000,
    /** The origin's response head must arrive within this after the request was sent, ms; past it 504. */
    responseTimeoutMs: 60_000,
    /** Longest silence between response body chunks while reading, ms (0 disables; paused reads never time out). */
    bodyTimeoutMs: 300_000,
    /** Other origins of the same list tried after a connect failure (nothing was sent, so it is safe). */
    connectRetries: 1,
    /**
     * A response whose reader takes nothing for this long (the stream's window stays full) is abandoned:
     * the origin request is cut, its slot freed, the stream reset, ms (0 disables).
     */
    stallTimeoutMs: 30_000,
    /**
     * A request body must arrive at least this fast, bytes/s, measured over each `uploadWindowMs` in which
     * the origin was taking it as fast as it came (0 disables). Slower: 408 ERR_UPLOAD_TOO_SLOW, slot freed.
     */
    minUploadBytesPerS: 512,
    /** The window the upload rate is measured over, ms. */
    uploadWindowMs: 10_000,
  }),
  /** How long close() lets streams finish after GOAWAY before cutting them, ms. */
  drainTimeoutMs: 30_000,
});

/** Limits the state may not exceed, so every map the gateway keeps stays bounded. */
export const backEndLimits = Object.freeze({
  /** Sites per back-end. */
  maxSites: 4096,
  /** Distinct origins per back-end (all sites together). */
  maxOrigins: 4096,
});
