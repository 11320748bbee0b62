/** Every default and bound of the manager, with units, in one place (docs/manager.md repeats them). */
export const managerDefaults = Object.freeze({
  /** Where the durable store lives, relative to the working directory. */
  dataDir: '.overlay-data/manager',
  /** A gateway that sends no report for this long is marked down, ms (gateways report every ~2 s). */
  reportTimeoutMs: 6000,
  /** Largest JSON body the API reads, bytes. */
  maxBodyBytes: 1024 * 1024,
  feed: Object.freeze({
    /** WebSocket ping period; a subscriber that has not answered the previous ping by the next is dropped, ms. */
    pingIntervalMs: 10_000,
    /** A subscriber with more unsent bytes than this is dropped instead of sent more, bytes (so at most this plus one message). */
    maxBufferedBytes: 8 * 1024 * 1024,
    /** Connected subscribers at once (gateways, redirectors, dashboards). */
    maxSubscribers: 1024,
    /** Largest message a subscriber may send (hello, report), bytes. */
    maxMessageBytes: 256 * 1024,
    /** Report-driven changes (load, RTT, health) are gathered for this long before one push, ms. API writes push at once. */
    reportPushDelayMs: 200,
  }),
  capacity: Object.freeze({
    enabled: true,
    /** How often the capacity reaction looks at the reports, ms. */
    intervalMs: 1000,
    /** A site must stay above its target this long before another gateway is assigned, ms. */
    raiseAfterMs: 10_000,
    /** The projected load must stay below `releaseBelow × maxLoad` this long before an added gateway is released, ms. */
    releaseAfterMs: 30_000,
    /** Lower threshold for release as a fraction of the target (hysteresis), 0..1. */
    releaseBelow: 0.5,
    /** Gateways of one kind the reaction may add to one site. */
    maxAutoPerSite: 2,
  }),
  store: Object.freeze({
    /** Log entries appended before the log is folded into a fresh snapshot. */
    compactEvery: 1000,
  }),
  etcd: Object.freeze({
    /** Key prefix of one manager cluster in etcd. */
    prefix: '/overlay/managers',
    /** Leader lease, s: a dead leader's successor decides after at most this long. */
    leaderTtlS: 2,
    /** Longest wait for a connection to an etcd member, ms. */
    dialTimeoutMs: 2_000,
  }),
  /** Decisions of the capacity reaction kept for GET /v1/decisions. */
  decisionsKept: 200,
  /** Versions reserved durably at a time, so versions stay increasing across restarts without a write per report. */
  versionLease: 1_000_000,
});

/** Ring weights until PUT /v1/rings says otherwise: the blender's defaults (packages/blender/src/options.ts). */
export const DEFAULT_RING_WEIGHTS: readonly number[] = Object.freeze([16384, 8192, 4096, 2048, 1024]);

/** Bounds on what the API accepts, so every map and list stays bounded whatever clients send. */
export const managerLimits = Object.freeze({
  maxSites: 10_000,
  maxDomainsPerSite: 256,
  maxOriginsPerList: 64,
  maxRoutesPerSite: 256,
  maxGatewaysPerSite: 64,
  /** Registered gateways of each kind (front-ends, back-ends). */
  maxGateways: 1024,
  maxTunnelsPerReport: 1024,
  maxOriginsPerReport: 1024,
  maxReadTokens: 16,
});
