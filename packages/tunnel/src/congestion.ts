/**
 * Sender-side congestion control for one tunnel direction (docs/protocol.md §11), pure: fed
 * acknowledgement samples and the time, it answers how many bytes may be in flight (cwnd) and how fast
 * to send (pacing rate). No sockets, no timers.
 *
 * Delivery-rate and min-RTT based, as BBR, with a Vegas-like queue-delay target: the tunnel sends at the
 * bottleneck rate it measured and keeps the long leg's queue near empty, so the blender, not a network
 * queue, decides which stream's bytes go first. Seed 001's rules for a tunnel of N hosted streams: the
 * window never falls below N packets, and a loss costs the tunnel what it costs one of N flows (a
 * back-off of 1/(2N)), so the tunnel takes about what N TCP flows would.
 */

export interface CongestionOptions {
  /** Window before the first measurement, bytes. */
  initialCwnd: number;
  /** Bytes per hosted stream the window never falls below (seed 001: one packet per hosted connection). */
  floorPerStream: number;
  /** Smallest window at all, bytes. */
  minCwnd: number;
  /** Window as a multiple of the measured bandwidth-delay product in steady state. */
  cwndGain: number;
  /**
   * Delay added to the min RTT when sizing the window, ms: acknowledgements wait up to ackDelayMs and
   * for the event loop, and a window of exactly min RTT would stall between them.
   */
  ackSlackMs: number;
  /** Pacing gain while probing for more bandwidth, and while draining what probing queued. */
  probeGain: number;
  drainGain: number;
  /** Queueing delay (smoothed RTT minus min RTT) tolerated before sending slower, ms: max(this, minRtt × queueTargetFraction). */
  queueTargetMs: number;
  queueTargetFraction: number;
  /** Window of the min-RTT filter, ms. */
  minRttWindowMs: number;
  /** Window of the bandwidth max filter, ms (two buckets of this length). */
  bandwidthWindowMs: number;
}

export const defaultCongestionOptions: Readonly<CongestionOptions> = Object.freeze({
  initialCwnd: 64 * 1024,
  floorPerStream: 1536,
  minCwnd: 16 * 1024,
  cwndGain: 2,
  ackSlackMs: 6,
  probeGain: 1.25,
  drainGain: 0.8,
  queueTargetMs: 4,
  queueTargetFraction: 0.1,
  minRttWindowMs: 10_000,
  bandwidthWindowMs: 2_500,
});

export function verifyCongestionOptions(options: CongestionOptions): void {
  for (const [name, value] of Object.entries(options)) {
    if (!Number.isFinite(value) || value <= 0) throw new RangeError(`tunnel congestion.${name}: must be a positive number`);
  }
  if (options.probeGain <= 1) throw new RangeError('tunnel congestion.probeGain: must exceed 1');
  if (options.drainGain >= 1) throw new RangeError('tunnel congestion.drainGain: must be below 1');
}

export type CongestionPhase = 'startup' | 'drain' | 'steady';

/** One acknowledgement, as the writer measured it. */
export interface AckSample {
  now: number;
  /** Bytes newly acknowledged. */
  acked: number;
  /** From writing the newest acknowledged bytes to their acknowledgement, ms. */
  rttMs: number;
  /** Bytes delivered per ms over the sample's interval; undefined when the interval was too short. */
  rate: number | undefined;
  /** The sample's bytes were sent while the tunnel had less to send than it was allowed. */
  appLimited: boolean;
  /** Bytes in flight after this acknowledgement. */
  inFlight: number;
}

/** Max over the current and the previous bucket of `windowMs`: a filter that forgets within two windows. */
class WindowedMax {
  private current = 0;
  private previous = 0;
  private bucketStart = -Infinity;
  constructor(private readonly windowMs: number) {}
  add(value: number, now: number): void {
    this.roll(now);
    if (value > this.current) this.current = value;
  }
  value(now: number): number {
    this.roll(now);
    return Math.max(this.current, this.previous);
  }
  private roll(now: number): void {
    if (now - this.bucketStart < this.windowMs) return;
    this.previous = now - this.bucketStart < 2 * this.windowMs ? this.current : 0;
    this.current = 0;
    this.bucketStart = now;
  }
}

export class Congestion {
  readonly options: CongestionOptions;
  phase: CongestionPhase = 'startup';
  /** Window: bytes that may be in flight. */
  cwnd: number;
  /** Min RTT, ms (Infinity before a sample). */
  minRttMs = Infinity;
  /** Smoothed RTT of recent samples, ms. */
  srttMs = 0;
  /**
   * Least RTT over the last round or 20 ms (Copa's standing RTT): minus the min RTT it is the queue the
   * tunnel keeps standing, without the spikes an event loop adds to single samples.
   */
  standingRttMs = Infinity;
  private recentRtts: Array<[number, number]> = [];
  /** Loss events the writer reported, in total. */
  lossEvents = 0;
  private streams = 0;
  private readonly bandwidth: WindowedMax;
  private minRttCandidate = Infinity;
  private minRttWindowStart = 0;
  /** Startup ends once the bandwidth stops growing 25 % per round for three rounds. */
  private roundStart = 0;
  private roundBandwidth = 0;
  private flatRounds = 0;
  /** Steady-state gain cycle: probe one round, drain one, cruise six. */
  private cycleIndex = 0;
  private cycleStart = 0;
  /** After a loss: send at this fraction of the bandwidth until `backoffUntil`. */
  private backoffFactor = 1;
  private backoffUntil = 0;

  constructor(options: Partial<CongestionOptions> = {}) {
    this.options = { ...defaultCongestionOptions, ...options };
    verifyCongestionOptions(this.options);
    this.cwnd = this.options.initialCwnd;
    this.bandwidth = new WindowedMax(this.options.bandwidthWindowMs);
  }

  /** The hosted streams changed: the floor and the loss response follow them. */
  setStreams(streams: number): void {
    this.streams = streams;
    this.cwnd = Math.max(this.cwnd, this.floor());
  }

  /** Bytes per ms the bottleneck delivered at best lately; 0 before a sample. */
  bandwidthAt(now: number): number {
    return this.bandwidth.value(now);
  }

  /** Queueing delay tolerated, ms. */
  get queueTargetMs(): number {
    const fromRtt = Number.isFinite(this.minRttMs) ? this.minRttMs * this.options.queueTargetFraction : 0;
    return Math.max(this.options.queueTargetMs, fromRtt);
  }

  onAck(sample: AckSample): void {
    const { now, rttMs } = sample;
    this.trackRtt(rttMs, now);
    const before = this.bandwidth.value(now);
    if (sample.rate !== undefined && (!sample.appLimited || sample.rate > before)) this.bandwidth.add(sample.rate, now);
    const bandwidth = this.bandwidth.value(now);
    const round = Math.max(this.minRttMs, 1);
    if (this.phase === 'startup') {
      // Slow start: the window grows by what was acknowledged (doubling per round) until it can carry
      // twice the measured bandwidth-delay product; the bandwidth tells when the pipe is full.
      this.cwnd = Math.max(this.cwnd + sample.acked, this.bdp(now) * 2.89);
      if (now - this.roundStart >= round) {
        if (bandwidth > this.roundBandwidth * 1.25) {
          this.roundBandwidth = bandwidth;
          this.flatRounds = 0;
        } else if (!sample.appLimited && ++this.flatRounds >= 3) {
          this.phase = 'drain';
        }
        this.roundStart = now;
      }
    } else if (this.phase === 'drain') {
      if (sample.inFlight <= this.bdp(now)) this.enterSteady(now);
    }
    if (this.phase !== 'startup') this.cwnd = Math.max(this.bdp(now) * this.options.cwndGain, this.floor());
    if (this.phase === 'steady' && now - this.cycleStart >= round) {
      this.cycleIndex = (this.cycleIndex + 1) % 8;
      this.cycleStart = now;
    }
  }

  /**
   * The connection lost packets (`events` retransmission episodes). A tunnel of N streams backs off as
   * one of N flows would: its rate falls by 1/(2N) for one round, not by half.
   */
  onLoss(events: number, now: number): void {
    if (events <= 0) return;
    this.lossEvents += events;
    const share = 1 / (2 * Math.max(1, this.streams));
    this.backoffFactor = Math.max(0.5, 1 - share * Math.min(events, 4));
    this.backoffUntil = now + Math.max(this.minRttMs, 1) * 2;
    if (this.phase === 'startup') this.phase = 'drain';
  }

  /** Bytes per ms to pace at; Infinity before the first bandwidth sample. */
  pacingRate(now: number): number {
    const bandwidth = this.bandwidth.value(now);
    if (bandwidth === 0) return Infinity;
    return bandwidth * this.pacingGain(now);
  }

  private pacingGain(now: number): number {
    if (this.phase === 'startup') return 2.89;
    if (this.phase === 'drain') return 1 / 2.89;
    let gain = 1;
    // A standing queue above the target: do not probe, and drain a little more often. Never drain all
    // the time: delivery samples taken while draining are lower, and the bandwidth estimate would
    // follow them down (a delay-based sender's collapse under event-loop noise or a competing flow).
    const queueing = this.standingRttMs - this.minRttMs;
    const queued = queueing > this.queueTargetMs;
    if (this.cycleIndex === 0) gain = queued ? 1 : this.options.probeGain;
    else if (this.cycleIndex === 1 || (queued && this.cycleIndex === 4)) gain = this.options.drainGain;
    if (now < this.backoffUntil) gain *= this.backoffFactor;
    return gain;
  }

  private enterSteady(now: number): void {
    this.phase = 'steady';
    this.cycleIndex = 2;
    this.cycleStart = now;
  }

  private trackRtt(rttMs: number, now: number): void {
    if (!(rttMs >= 0)) return;
    this.srttMs = this.srttMs === 0 ? rttMs : this.srttMs * 0.875 + rttMs * 0.125;
    const recent = this.recentRtts;
    recent.push([now, rttMs]);
    const horizon = now - Math.max(Number.isFinite(this.minRttMs) ? this.minRttMs : 0, 20);
    while (recent.length > 1 && recent[0][0] < horizon) recent.shift();
    let standing = Infinity;
    for (const [, sample] of recent) if (sample < standing) standing = sample;
    this.standingRttMs = standing;
    if (rttMs < this.minRttCandidate) this.minRttCandidate = rttMs;
    if (rttMs < this.minRttMs) this.minRttMs = rttMs;
    if (now - this.minRttWindowStart >= this.options.minRttWindowMs) {
      // A new window: the min of the last one stands, so a path that got longer is learned within two.
      this.minRttMs = this.minRttCandidate;
      this.minRttCandidate = rttMs;
      this.minRttWindowStart = now;
    }
  }

  /** The bandwidth-delay product, with the acknowledgement slack: what the pipe holds between acks. */
  private bdp(now: number): number {
    if (!Number.isFinite(this.minRttMs)) return 0;
    return this.bandwidth.value(now) * (this.minRttMs + this.options.ackSlackMs);
  }

  private floor(): number {
    return Math.max(this.options.minCwnd, this.streams * this.options.floorPerStream);
  }
}
