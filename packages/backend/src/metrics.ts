import { Counter, Gauge, Histogram, type Registry } from '@overlay/common';
import { Tally, type ByteCounts } from '@overlay/stream-heads';
import type { TunnelSession } from '@overlay/tunnel';
import type { OriginRuntime } from './origin.js';

/** What the gauges read at scrape time. */
export interface MetricSources {
  sessions(): Iterable<TunnelSession>;
  origins(): Iterable<OriginRuntime>;
  isUp(originId: string): boolean;
  queues(): Iterable<{ site: string; route: string; length: number }>;
  load(): number;
  /** Tunnel connections still in the handshake, and those dropped to make room for another source. */
  handshakes(): { pending: number; evicted: number; failed: number };
}

const QUEUE_WAIT_BUCKETS_S = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/** The back-end's Prometheus series (docs/back-end.md lists them). One instance per registry. */
export class BackEndMetrics {
  readonly requests: Counter<'site' | 'status' | 'origin'>;
  readonly errorAnswers: Counter<'site' | 'code'>;
  readonly bodyBytes: Counter<'site' | 'direction'>;
  readonly queueWait: Histogram<'site'>;
  readonly healthChanges: Counter<'origin' | 'state' | 'reason'>;
  readonly limitChanges: Counter<'origin' | 'reason'>;
  readonly streamFailures: Counter<'reason'>;
  /** `bodyBytes` for one site, shared by all its streams. */
  readonly bytesOf: (site: string) => ByteCounts;
  /** Body bytes per site not yet in `bodyBytes`: plain sums on the data path, moved over when it is read. */
  private readonly pendingBytes = new Map<string, { in: number; out: number }>();
  private readonly byteCounts = new Map<string, ByteCounts>();
  private readonly answered = new Tally<'site' | 'status' | 'origin'>();
  readonly abandoned: Counter<'site' | 'reason'>;
  /** Ring bytes of sessions that have closed; open ones are read live. */
  private readonly closedRingBytes: number[] = [];
  private readonly sessions: MetricSources['sessions'];

  constructor(registry: Registry, sources: MetricSources) {
    const registers = [registry];
    const answered = this.answered;
    this.requests = new Counter({
      name: 'overlay_backend_requests_total',
      help: 'Streams answered, by site, status sent in the REPLY and origin ("" when the back-end answered itself)',
      labelNames: ['site', 'status', 'origin'],
      registers,
      collect() {
        answered.drainInto(this);
      },
    });
    this.errorAnswers = new Counter({
      name: 'overlay_backend_error_answers_total',
      help: 'Answers the back-end gave itself, by site and error code',
      labelNames: ['site', 'code'],
      registers,
    });
    const pendingBytes = this.pendingBytes;
    this.bodyBytes = new Counter({
      name: 'overlay_backend_body_bytes_total',
      help: 'Body bytes carried: direction "in" from front-ends to origins, "out" from origins to front-ends (HTTP, upgraded and TCP)',
      labelNames: ['site', 'direction'],
      registers,
      collect() {
        for (const [site, sums] of pendingBytes) {
          if (sums.in > 0) this.inc({ site, direction: 'in' }, sums.in);
          if (sums.out > 0) this.inc({ site, direction: 'out' }, sums.out);
          sums.in = 0;
          sums.out = 0;
        }
      },
    });
    this.bytesOf = (site) => this.byteCounts.get(site) ?? this.newByteCounts(site);
    this.queueWait = new Histogram({
      name: 'overlay_backend_queue_wait_seconds',
      help: 'Time requests waited in an origin queue before an origin slot was granted',
      labelNames: ['site'],
      buckets: QUEUE_WAIT_BUCKETS_S,
      registers,
    });
    this.healthChanges = new Counter({
      name: 'overlay_backend_origin_health_changes_total',
      help: 'Origin health transitions, by new state and reason',
      labelNames: ['origin', 'state', 'reason'],
      registers,
    });
    this.limitChanges = new Counter({
      name: 'overlay_backend_origin_limit_changes_total',
      help: 'Adaptive concurrency limit changes, by reason',
      labelNames: ['origin', 'reason'],
      registers,
    });
    this.abandoned = new Counter({
      name: 'overlay_backend_abandoned_requests_total',
      help: 'Origin requests given up to free their slot: slow-reader (the client read nothing for pool.stallTimeoutMs), slow-upload (body below pool.minUploadBytesPerS)',
      labelNames: ['site', 'reason'],
      registers,
    });
    this.streamFailures = new Counter({
      name: 'overlay_backend_stream_failures_total',
      help: 'Streams reset rather than answered: bad-head (malformed OPEN), upstream (origin failed mid-response), cancelled (front-end went away)',
      labelNames: ['reason'],
      registers,
    });
    new Gauge({
      name: 'overlay_backend_origin_in_flight',
      help: 'Requests (and TCP connections) in flight to each origin',
      labelNames: ['origin'],
      registers,
      collect() {
        this.reset();
        for (const origin of sources.origins()) this.set({ origin: origin.id }, origin.limit.inFlight);
      },
    });
    new Gauge({
      name: 'overlay_backend_origin_connections',
      help: 'Connections to each origin, in use and idle (they follow the limit: idle ones past it are closed)',
      labelNames: ['origin'],
      registers,
      collect() {
        this.reset();
        for (const origin of sources.origins()) this.set({ origin: origin.id }, origin.connections);
      },
    });
    new Gauge({
      name: 'overlay_backend_origin_limit',
      help: 'Current concurrency limit of each origin',
      labelNames: ['origin'],
      registers,
      collect() {
        this.reset();
        for (const origin of sources.origins()) this.set({ origin: origin.id }, origin.limit.limit);
      },
    });
    new Gauge({
      name: 'overlay_backend_origin_up',
      help: 'Origin health: 1 up, 0 down',
      labelNames: ['origin'],
      registers,
      collect() {
        this.reset();
        for (const origin of sources.origins()) this.set({ origin: origin.id }, sources.isUp(origin.id) ? 1 : 0);
      },
    });
    new Gauge({
      name: 'overlay_backend_queue_length',
      help: 'Requests waiting for an origin slot, by site and origin list ("*" the site\'s own, else the route prefix)',
      labelNames: ['site', 'route'],
      registers,
      collect() {
        this.reset();
        for (const { site, route, length } of sources.queues()) this.set({ site, route }, length);
      },
    });
    new Gauge({
      name: 'overlay_backend_load',
      help: 'Load this back-end reports to front-ends, 0..1 (origin queue pressure)',
      registers,
      collect() {
        this.set(sources.load());
      },
    });
    new Gauge({
      name: 'overlay_backend_tunnel_sessions',
      help: 'Authenticated tunnel connections from front-ends',
      registers,
      collect() {
        this.set([...sources.sessions()].length);
      },
    });
    new Gauge({
      name: 'overlay_backend_tunnel_handshakes_pending',
      help: 'Tunnel connections not yet authenticated',
      registers,
      collect() {
        this.set(sources.handshakes().pending);
      },
    });
    new Counter({
      name: 'overlay_backend_tunnel_handshakes_failed_total',
      help: 'Tunnel handshakes that did not authenticate, by outcome (evicted: dropped to make room for another source)',
      labelNames: ['outcome'],
      registers,
      collect() {
        this.reset();
        const { evicted, failed } = sources.handshakes();
        this.inc({ outcome: 'evicted' }, evicted);
        this.inc({ outcome: 'failed' }, failed - evicted);
      },
    });
    new Gauge({
      name: 'overlay_backend_tunnel_rtt_seconds',
      help: 'Smoothed tunnel RTT per front-end (mean over its connections)',
      labelNames: ['front_end'],
      registers,
      collect() {
        this.reset();
        const byPeer = new Map<string, number[]>();
        for (const session of sources.sessions()) {
          const rtt = session.rtt.value;
          if (rtt === undefined) continue;
          byPeer.set(session.peer.id, [...(byPeer.get(session.peer.id) ?? []), rtt]);
        }
        for (const [peer, rtts] of byPeer) this.set({ front_end: peer }, rtts.reduce((a, b) => a + b, 0) / rtts.length / 1000);
      },
    });
    const ringBytes = () => this.ringBytes();
    new Counter({
      name: 'overlay_backend_ring_bytes_total',
      help: 'Bytes sent to front-ends per priority ring (0 highest)',
      labelNames: ['ring'],
      registers,
      collect() {
        this.reset();
        ringBytes().forEach((bytes, ring) => this.inc({ ring: String(ring) }, bytes));
      },
    });
    this.sessions = sources.sessions;
  }

  private newByteCounts(site: string): ByteCounts {
    const sums = { in: 0, out: 0 };
    this.pendingBytes.set(site, sums);
    const counts: ByteCounts = { in: (bytes) => void (sums.in += bytes), out: (bytes) => void (sums.out += bytes) };
    this.byteCounts.set(site, counts);
    return counts;
  }

  /** One stream answered: `requests` without hashing labels on the request path. */
  countRequest(site: string, status: string, origin: string): void {
    this.answered.add(`${site}\n${status}\n${origin}`, { site, status, origin });
  }

  /** Bytes sent per priority ring since start: closed sessions' totals plus the open ones'. */
  ringBytes(): number[] {
    const totals = [...this.closedRingBytes];
    for (const session of this.sessions()) addInto(totals, session.getStats().ringBytes);
    return totals;
  }

  /** Keeps a closing session's per-ring bytes in the running totals. */
  sessionClosed(session: TunnelSession): void {
    addInto(this.closedRingBytes, session.getStats().ringBytes);
  }
}

function addInto(totals: number[], values: readonly number[]): void {
  values.forEach((value, index) => (totals[index] = (totals[index] ?? 0) + value));
}
