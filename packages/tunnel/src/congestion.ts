/**
 * Sender-side congestion control for one tunnel direction (docs/protocol.md §11), pure: fed
 * acknowledgement samples and the time, it answers how many bytes may be in flight (cwnd) and how fast
 * to send (pacing rate). No sockets, no timers.
 *
 * Two modes. `delay` (the normal one): delivery-rate and min-RTT based, as BBR, with a Vegas-like
 * queue-delay target: the tunnel sends at the bottleneck rate it measured and keeps the long leg's queue
 * near empty, so the blender, not a network queue, decides which stream's bytes go first. `competing`:
 * a queue that stands whatever the tunnel does is another flow's, and a delay-based sender beside a
 * queue-filling one yields everything; so the tunnel turns loss-based, MulTCP-like, as N flows: its
 * window grows N packets per round trip and a loss costs it 1/(2N), until the queue empties.
 * Seed 001's rules for a tunnel of N hosted streams hold in both: the window never falls below N
 * packets, a loss costs the tunnel what it costs one of N flows, and a loss that comes without a queue
 * (random loss on the path, not congestion) costs nothing.
 */

/** A full-size TCP segment's payload on the long leg, bytes: the unit of additive increase and of a loss. */
export const PACKET_BYTES = 1448;

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
  /** Deepest pacing cut that drains a standing queue, fraction of the bandwidth. */
  maxQueueCut: number;
  /** Most the bandwidth estimate is capped by in one round, fraction (a stalled peer also delivers less than was sent). */
  maxCapPerRound: number;
  /**
   * An acknowledgement later than the standing RTT by max(lossDelayMs, min RTT × lossDelayFraction)
   * counts as a loss: TCP hides its retransmissions, but the bytes behind a lost segment reach the peer
   * about one round trip late (fast retransmit), all at once.
   */
  lossDelayMs: number;
  lossDelayFraction: number;
  /**
   * Rounds a queue must stand above the target by more than min RTT × maxQueueCut (pacing cut by half its
   * most or more, which drains a queue of the tunnel's own within two or three rounds) before the
   * tunnel takes it for another flow's and turns `competing`.
   */
  competeAfterRounds: number;
  /** Rounds with the queue at or under the target that end `competing` (the other flow left or backed off). */
  calmRounds: number;
  /** Longest stretch in `competing`, ms: then delay mode again, to learn whether the queue is its own by now. */
  competeHoldMs: number;
  /** Most hosted streams the loss-based mode's aggressiveness counts (MulTCP with a large N overshoots). */
  maxAggressiveness: number;
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
  bandwidthWindowMs: 1_000,
  maxQueueCut: 0.25,
  maxCapPerRound: 0.15,
  lossDelayMs: 10,
  lossDelayFraction: 0.5,
  competeAfterRounds: 12,
  calmRounds: 3,
  competeHoldMs: 5_000,
  maxAggressiveness: 32,
});

export function verifyCongestionOptions(options: CongestionOptions): void {
  for (const [name, value] of Object.entries(options)) {
    if (!Number.isFinite(value) || value <= 0) throw new RangeError(`tunnel congestion.${name}: must be a positive number`);
  }
  if (options.probeGain <= 1) throw new RangeError('tunnel congestion.probeGain: must exceed 1');
  if (options.drainGain >= 1) throw new RangeError('tunnel congestion.drainGain: must be below 1');
  if (options.maxQueueCut >= 1) throw new RangeError('tunnel congestion.maxQueueCut: must be below 1');
  if (options.maxCapPerRound >= 1) throw new RangeError('tunnel congestion.maxCapPerRound: must be below 1');
}

export type CongestionPhase = 'startup' | 'drain' | 'steady';
export type CongestionMode = 'delay' | 'competing';

/** One acknowledgement, as the writer measured it. */
export interface AckSample {
  now: number;
  /** Bytes newly acknowledged. */
  acked: number;
  /** From writing the newest acknowledged bytes to their acknowledgement, ms. */
  rttMs: number;
  /**
   * From writing the oldest newly acknowledged bytes, ms: the bytes behind a lost segment wait for its
   * retransmission and arrive together, so only the oldest of them shows how late they are.
   */
  oldestRttMs: number;
  /** Bytes delivered per ms over the sample's interval; undefined when the interval was too short. */
  rate: number | undefined;
  /** The sample's bytes were sent while the tunnel had less to send than it was allowed. */
  appLimited: boolean;
  /** Bytes in flight after this acknowledgement. */
  inFlight: number;
}

/**
 * Max over the current and the previous bucket of `windowMs`: a filter that forgets within two windows
 * of samples. Time passes for it only when a sample is added, so a tunnel that idled or sent little
 * (application-limited samples are not added) resumes at the rate it had, not at nothing.
 */
class WindowedMax {
  private current = 0;
  private previous = 0;
  private bucketStart = -Infinity;
  constructor(private readonly windowMs: number) {}
  add(value: number, now: number): void {
    this.roll(now);
    if (value > this.current) this.current = value;
  }
  get value(): number {
    return Math.max(this.current, this.previous);
  }
  /** Forgets every value above `value`. */
  capAt(value: number): void {
    this.current = Math.min(this.current, value);
    this.previous = Math.min(this.previous, value);
  }
  private roll(now: number): void {
    if (now - this.bucketStart < this.windowMs) return;
    this.previous = now - this.bucketStart < 2 * this.windowMs ? this.current : 0;
    this.current = 0;
    this.bucketStart = now;
  }
}

/**
 * How long a loss that came without a queue (random loss on the path) keeps the window's extra room, ms:
 * the bytes behind each lost segment wait a round trip for its retransmission and stay in flight meanwhile.
 */
const RANDOM_LOSS_MEMORY_MS = 2_000;
/** Random losses within RANDOM_LOSS_MEMORY_MS that make a path lossy (one is a stall read as a loss). */
const LOSSY_PATH_LOSSES = 4;
/**
 * Least the loss window keeps on a loss, as Cubic's beta: with one hosted stream MulTCP's 1/(2N) is
 * Reno's halving, which beside a Cubic flow (and with event-loop stalls read as losses) held the tunnel
 * below what its delay mode got.
 */
const COMPETING_MIN_KEEP = 0.7;
/** Pacing of the loss-based mode, above window / smoothed RTT: enough that the window, not pacing, limits. */
const COMPETING_PACING_GAIN = 1.25;

export class Congestion {
  readonly options: CongestionOptions;
  phase: CongestionPhase = 'startup';
  mode: CongestionMode = 'delay';
  /** Switches from delay to competing mode, in total. */
  competeEntries = 0;
  /** Window: bytes that may be in flight. */
  cwnd: number;
  /** Min RTT, ms (Infinity before a sample). */
  minRttMs = Infinity;
  /** Smoothed RTT of recent samples, ms. */
  srttMs = 0;
  /** Mean deviation of the RTT samples, ms (as TCP's rttvar): how much a busy host's event loops add. */
  rttDeviationMs = 0;
  /**
   * Least RTT over the last round or 20 ms (Copa's standing RTT): minus the min RTT it is the queue the
   * tunnel keeps standing, without the spikes an event loop adds to single samples.
   */
  standingRttMs = Infinity;
  private recentRtts: Array<[number, number]> = [];
  /** Bytes acknowledged in all; that count and the bytes sent by then, over the last two rounds. */
  private delivered = 0;
  private recentDeliveries: Array<{ at: number; delivered: number; sent: number }> = [];
  private cappedAt = -Infinity;
  /** Loss events, reported or seen in the acknowledgements' delays, in total. */
  lossEvents = 0;
  private lossSeenAt = -Infinity;
  private streams = 0;
  private readonly bandwidth: WindowedMax;
  /** The best rate over the min-RTT window: what the path gave the tunnel alone, before another flow took some. */
  private readonly pathBandwidth: WindowedMax;
  private minRttCandidate = Infinity;
  private minRttWindowStart = 0;
  /** Startup ends once the bandwidth stops growing 25 % per round for three rounds. */
  private roundStart = 0;
  private roundBandwidth = 0;
  private flatRounds = 0;
  /** The bandwidth when the last probe round began. */
  private probeBase = Infinity;
  /** Steady-state gain cycle: probe one round, drain one, cruise six. */
  private cycleIndex = 0;
  private cycleStart = 0;
  /** After a loss: send at this fraction of the bandwidth until `backoffUntil`. */
  private backoffFactor = 1;
  private backoffUntil = 0;
  /** Delay mode: since when a queue has stood too high to be the tunnel's own; undefined while none does. */
  private foreignQueueSince: number | undefined;
  private lastAckAt = -Infinity;
  private lastInFlight = 0;
  private lossWindowCutAt = -Infinity;
  /** Competing mode: when it began, and since when the queue has been at or under the target. */
  private competeSince = 0;
  private calmSince: number | undefined;
  /** The loss-based window of competing mode, bytes. */
  private lossWindow = 0;
  private randomLossAt = -Infinity;
  /** Random losses in a row, each within RANDOM_LOSS_MEMORY_MS of the one before. */
  private randomLosses = 0;

  constructor(options: Partial<CongestionOptions> = {}) {
    this.options = { ...defaultCongestionOptions, ...options };
    verifyCongestionOptions(this.options);
    this.cwnd = this.options.initialCwnd;
    this.bandwidth = new WindowedMax(this.options.bandwidthWindowMs);
    this.pathBandwidth = new WindowedMax(this.options.minRttWindowMs);
  }

  /** The hosted streams changed: the floor and the loss response follow them. */
  setStreams(streams: number): void {
    this.streams = streams;
    this.cwnd = Math.max(this.cwnd, this.floor());
  }

  /** Bytes per ms the bottleneck delivered at best lately; 0 before a sample. */
  get deliveryRate(): number {
    return this.bandwidth.value;
  }

  /**
   * Queueing delay tolerated, ms; never below the RTT's own deviation: a queue target under what a busy
   * host's event loops add to every sample would read their noise as a queue and pace ever slower.
   */
  get queueTargetMs(): number {
    return Math.max(this.fixedQueueTargetMs, this.rttDeviationMs);
  }

  private get fixedQueueTargetMs(): number {
    const fromRtt = Number.isFinite(this.minRttMs) ? this.minRttMs * this.options.queueTargetFraction : 0;
    return Math.max(this.options.queueTargetMs, fromRtt);
  }

  /** Takes one acknowledgement; true when its delay tells of a lost segment (counted as a loss event). */
  onAck(sample: AckSample): boolean {
    const { now, rttMs } = sample;
    // Application-limited samples are few and RTT noise on a busy host would read as losses.
    const lost = !sample.appLimited && this.looksLost(sample.oldestRttMs, now);
    this.trackRtt(rttMs, now);
    const recent = this.trackDelivery(sample, now);
    const before = this.bandwidth.value;
    if (sample.rate !== undefined && (!sample.appLimited || sample.rate > before)) {
      this.bandwidth.add(sample.rate, now);
      // Beside another flow the tunnel delivers its share, not what the path gives it alone.
      if (this.mode === 'delay') this.pathBandwidth.add(Math.min(sample.rate, this.bandwidth.value), now);
    }
    const round = Math.max(this.minRttMs, 1);
    // In competing mode the queue is another flow's: what the tunnel delivers is its share, not the
    // bottleneck's rate. Within two rounds of a loss the shortfall is the bytes held behind it.
    const afterLoss = now - this.lossSeenAt < 2 * round;
    if (recent && this.mode === 'delay' && !afterLoss && this.queueingMs > this.queueTargetMs && !sample.appLimited && now - this.cappedAt >= round && this.bottleneckBound(recent)) {
      this.bandwidth.capAt(Math.max(recent.delivered, before * (1 - this.options.maxCapPerRound)));
      this.cappedAt = now;
    }
    const bandwidth = this.bandwidth.value;
    if (this.phase === 'startup') {
      // Slow start: the window grows by what was acknowledged (doubling per round) up to twice the
      // measured bandwidth-delay product, which is a pipe and a queue of one BDP each at most.
      this.cwnd = Math.max(this.cwnd, Math.min(this.cwnd + sample.acked, this.bdp() * 2));
      if (now - this.roundStart >= round) {
        if (bandwidth > this.roundBandwidth * 1.25) {
          this.roundBandwidth = bandwidth;
          this.flatRounds = 0;
        } else if (!sample.appLimited) {
          this.flatRounds++;
        }
        // Not on a standing queue: on a busy host RTT noise of 15 ms is common early on, and a startup
        // that ends at a tenth of the link's rate takes seconds of probing to recover. The window's cap
        // keeps what startup queues to one BDP.
        if (this.flatRounds >= 3) this.phase = 'drain';
        this.roundStart = now;
      }
    } else if (this.phase === 'drain') {
      if (sample.inFlight <= this.bdp()) this.enterSteady(now);
    }
    if (!sample.appLimited && this.phase !== 'startup') this.updateMode(sample.inFlight, now);
    if (this.mode === 'competing') {
      // MulTCP's additive increase: N packets per round trip (a window's worth of acknowledgements).
      if (!sample.appLimited) this.lossWindow += (this.aggressiveness() * PACKET_BYTES * sample.acked) / Math.max(this.lossWindow, PACKET_BYTES);
      this.cwnd = Math.max(this.lossWindow, this.floor());
    } else if (this.phase !== 'startup') {
      this.cwnd = Math.max(this.bdp() * this.windowGain(now), this.floor());
    }
    if (this.mode === 'delay' && this.phase === 'steady' && now - this.cycleStart >= round) this.nextCycleRound(now);
    if (lost) this.onLoss(1, now);
    return lost;
  }

  /**
   * Delay mode turns competing once a queue has stood for competeAfterRounds so high that pacing runs
   * cut by at least half its most: a queue of the tunnel's own drains within two or three such rounds,
   * so one that stays is another flow's. Competing mode ends when the queue has been at or under the
   * target for calmRounds (the other flow left or backed off), or after competeHoldMs: then delay mode
   * learns again whether the queue is its own.
   */
  private updateMode(inFlight: number, now: number): void {
    const round = Math.max(this.minRttMs, 1);
    // A round trip without acknowledgements while packets were in flight is a stalled event loop at one
    // end, not a queue: its delay shows in every sample of the next round, and on a busy host such
    // stalls come back to back. (With next to nothing in flight, acknowledgements are that rare anyway.)
    const stalled = now - this.lastAckAt > round && this.lastInFlight >= 4 * PACKET_BYTES;
    this.lastAckAt = now;
    this.lastInFlight = inFlight;
    if (!Number.isFinite(this.minRttMs)) return;
    if (this.mode === 'delay') {
      const foreign = !stalled && this.queueingMs - this.queueTargetMs > this.minRttMs * this.options.maxQueueCut;
      if (!foreign) {
        this.foreignQueueSince = undefined;
        return;
      }
      this.foreignQueueSince ??= now;
      if (now - this.foreignQueueSince >= this.options.competeAfterRounds * round) this.enterCompeting(inFlight, now);
      return;
    }
    // The fixed target, not the one widened by the RTT's deviation: the other flow's queue makes the
    // samples vary, and a target that grew with them would read its queue as calm.
    if (this.queueingMs > this.fixedQueueTargetMs) this.calmSince = undefined;
    else this.calmSince ??= now;
    const calm = this.calmSince !== undefined && now - this.calmSince >= this.options.calmRounds * round;
    if (calm || now - this.competeSince >= this.options.competeHoldMs) this.leaveCompeting(now);
  }

  /**
   * Starts the loss-based window at the tunnel's fair share of what the path holds (pipe and the other
   * flow's queue: the bandwidth it had alone over the smoothed RTT), N / (N + 1) of it beside one flow,
   * rather than at the little it kept while yielding.
   */
  private enterCompeting(inFlight: number, now: number): void {
    const n = this.aggressiveness();
    const path = this.pathBandwidth.value * Math.max(this.srttMs, this.minRttMs);
    this.mode = 'competing';
    this.competeEntries++;
    this.competeSince = now;
    this.calmSince = undefined;
    this.foreignQueueSince = undefined;
    this.lossWindow = Math.max(inFlight, (path * n) / (n + 1), this.floor());
    this.backoffUntil = 0;
  }

  private leaveCompeting(now: number): void {
    this.mode = 'delay';
    this.calmSince = undefined;
    this.enterSteady(now);
  }

  /** Hosted streams as the loss response counts them: at least one, at most maxAggressiveness. */
  private aggressiveness(): number {
    return Math.min(this.options.maxAggressiveness, Math.max(1, this.streams));
  }

  /**
   * The window over the BDP: cwndGain, one more while losses come without a queue (the bytes behind each
   * lost segment stay in flight a round trip longer, and a window of two BDPs then stops the sender
   * while the path has room).
   */
  private windowGain(now: number): number {
    return this.options.cwndGain + (now - this.randomLossAt < RANDOM_LOSS_MEMORY_MS ? 1 : 0);
  }

  /**
   * Losses without a queue keep coming: the path drops packets at random. Every acknowledgement behind
   * a lost segment then waits a round trip for its retransmission, most delivery-rate samples span such
   * a wait and read low, and the estimate, probed one round in eight, sinks to half the path's rate
   * (1 % loss lab). So while no queue stands the tunnel paces at the probe's gain: if that is more than
   * the path takes, a queue forms and the usual cut applies.
   */
  private lossyPath(now: number): boolean {
    return this.randomLosses >= LOSSY_PATH_LOSSES && now - this.randomLossAt < RANDOM_LOSS_MEMORY_MS;
  }

  /** A sample late by a retransmission's round trip beyond the standing RTT; one loss event per round at most. */
  private looksLost(rttMs: number, now: number): boolean {
    if (!Number.isFinite(this.standingRttMs) || !Number.isFinite(this.minRttMs)) return false;
    const round = Math.max(this.minRttMs, 1);
    const late = Math.max(this.options.lossDelayMs, this.minRttMs * this.options.lossDelayFraction, 2 * this.rttDeviationMs);
    if (rttMs - this.standingRttMs < late || now - this.lossSeenAt < round) return false;
    this.lossSeenAt = now;
    return true;
  }

  /**
   * The connection lost packets (`events` retransmission episodes). A loss while no queue stands is the
   * path's (random loss), not congestion: no back-off, only room in the window for what waits on the
   * retransmission. Otherwise a tunnel of N streams backs off as one of N flows would, by 1/(2N), not by
   * half: in delay mode its pacing for two rounds, in competing mode its window.
   */
  onLoss(events: number, now: number): void {
    if (events <= 0) return;
    this.lossEvents += events;
    if (this.queueingMs <= this.queueTargetMs) {
      this.randomLosses = now - this.randomLossAt < RANDOM_LOSS_MEMORY_MS ? this.randomLosses + 1 : 1;
      this.randomLossAt = now;
      return;
    }
    const factor = Math.max(0.5, 1 - Math.min(events, 4) / (2 * this.aggressiveness()));
    if (this.mode === 'competing') {
      // One back-off per smoothed round trip, as TCP's per window: the losses of one overflow arrive
      // over a round, and a stall read as a loss must not cut again.
      if (now - this.lossWindowCutAt < Math.max(this.srttMs, this.minRttMs)) return;
      this.lossWindowCutAt = now;
      this.lossWindow = Math.max(this.floor(), this.lossWindow * Math.max(COMPETING_MIN_KEEP, factor));
      this.cwnd = this.lossWindow;
      return;
    }
    this.backoffFactor = factor;
    this.backoffUntil = now + Math.max(this.minRttMs, 1) * 2;
  }

  /** Bytes per ms to pace at; Infinity before the first bandwidth sample. */
  pacingRate(now: number): number {
    const bandwidth = this.bandwidth.value;
    if (bandwidth === 0) return Infinity;
    if (this.mode === 'competing') return (COMPETING_PACING_GAIN * this.cwnd) / Math.max(this.srttMs, this.minRttMs, 1);
    const paced = bandwidth * this.pacingGain(now);
    // Startup sends at least its window per round, as slow start does: an estimate taken from a few
    // health checks (bytes per ms) must not pace the first download at a few kB/s.
    if (this.phase === 'startup' && Number.isFinite(this.minRttMs)) return Math.max(paced, this.cwnd / Math.max(this.minRttMs, 1));
    return paced;
  }

  private pacingGain(now: number): number {
    if (this.phase === 'startup') return 2.89;
    if (this.phase === 'drain') return 1 / 2.89;
    let gain = this.cycleIndex === 0 ? this.options.probeGain : this.cycleIndex === 1 ? this.options.drainGain : 1;
    if (this.lossyPath(now) && this.queueingMs <= this.queueTargetMs) gain = this.options.probeGain;
    // A standing queue above the target: pacing below the rate by enough to drain the excess within two
    // rounds (Vegas-like), at most maxQueueCut. The probe still runs (cut as much): pacing that stays
    // below the estimate delivers less, the filter forgets the higher samples, and without probes the
    // estimate could only fall, a delay-based sender's collapse.
    const excessMs = this.queueingMs - this.queueTargetMs;
    if (excessMs > 0) gain *= 1 - Math.min(this.options.maxQueueCut, excessMs / (2 * Math.max(this.minRttMs, 1)));
    if (now < this.backoffUntil) gain *= this.backoffFactor;
    return gain;
  }

  /** Standing RTT above the min RTT, ms: the queue the tunnel keeps; 0 before samples. */
  private get queueingMs(): number {
    return Number.isFinite(this.standingRttMs) && Number.isFinite(this.minRttMs) ? this.standingRttMs - this.minRttMs : 0;
  }

  /**
   * Counts acknowledged bytes; returns the mean rates at which bytes were delivered and sent over the
   * last two rounds (sent = delivered + what is in flight), undefined while that span is under one round.
   */
  private trackDelivery(sample: AckSample, now: number): { delivered: number; sent: number } | undefined {
    this.delivered += sample.acked;
    const recent = this.recentDeliveries;
    recent.push({ at: now, delivered: this.delivered, sent: this.delivered + sample.inFlight });
    const round = Math.max(Number.isFinite(this.minRttMs) ? this.minRttMs : 0, 20);
    while (recent.length > 2 && recent[1].at <= now - 2 * round) recent.shift();
    const first = recent[0];
    const span = now - first.at;
    if (span < round) return undefined;
    return { delivered: (this.delivered - first.delivered) / span, sent: (this.delivered + sample.inFlight - first.sent) / span };
  }

  /**
   * Whether a standing queue is the tunnel's own at a busy bottleneck, so that what was delivered is the
   * bottleneck's rate: it delivers less than the tunnel sends. The max filter's samples above that rate
   * were noise (ACKs bunched by an event loop) that would fill the queue until it drops. When delivery
   * keeps up with what the tunnel sends, the queue is noise (a late event loop) or another flow's, and
   * capping would follow the tunnel's own sending down (a late pacing timer, a full window of a low
   * estimate): a delay-based sender's collapse.
   */
  private bottleneckBound(recent: { delivered: number; sent: number }): boolean {
    return recent.delivered < recent.sent * 0.9;
  }

  /**
   * The gain cycle's next round. A probe whose bytes all arrived (the bandwidth grew by most of the
   * probe's 25 % once its acknowledgements were in, a round later) and left no queue found a pipe with
   * room: startup again, as after a stall or a drained tunnel the estimate may be a fraction of the
   * path's, and probes of 25 % every 8 rounds would take seconds to find it. (An estimate that grew
   * beside a queue is acknowledgements bunched by a busy event loop; startup on it overflowed the
   * bottleneck.)
   */
  private nextCycleRound(now: number): void {
    const bandwidth = this.bandwidth.value;
    if (this.cycleIndex === 1 && bandwidth >= this.probeBase * 1.2 && this.queueingMs <= this.queueTargetMs) {
      this.phase = 'startup';
      this.roundBandwidth = bandwidth;
      this.flatRounds = 0;
      this.roundStart = now;
      return;
    }
    this.cycleIndex = (this.cycleIndex + 1) % 8;
    this.cycleStart = now;
    if (this.cycleIndex === 0) this.probeBase = bandwidth;
  }

  private enterSteady(now: number): void {
    this.phase = 'steady';
    this.cycleIndex = 2;
    this.cycleStart = now;
  }

  private trackRtt(rttMs: number, now: number): void {
    if (!(rttMs >= 0)) return;
    this.rttDeviationMs = this.srttMs === 0 ? rttMs / 2 : this.rttDeviationMs * 0.75 + Math.abs(this.srttMs - rttMs) * 0.25;
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
  private bdp(): number {
    if (!Number.isFinite(this.minRttMs)) return 0;
    return this.bandwidth.value * (this.minRttMs + this.options.ackSlackMs);
  }

  private floor(): number {
    return Math.max(this.options.minCwnd, this.streams * this.options.floorPerStream);
  }
}
