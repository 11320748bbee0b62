import type { Socket } from 'node:net';
import { BlendGroup, Blender, type BlendQueue } from '@overlay/blender';
import { monotonicNow, type Clock } from '@overlay/common';
import { compressInto, compressionScratch } from './compress.js';
import { Congestion } from './congestion.js';
import { SendCredit } from './flow.js';
import { FrameFlag, HEADER_SIZE } from './frame.js';
import type { RingSettings, SessionOptions, Settings } from './options.js';
import type { TunnelStream } from './stream.js';
import { controlPayloadLength, WriteBatch } from './write-batch.js';

/** Payload one write may carry, in writeBatchBytes: bounds the receiver's work per read when everything compresses. */
const MAX_PAYLOAD_PER_BATCH = 16;

/** What a lane tells its session. */
export interface LaneHooks {
  /** The stream's last bytes (its FIN) left in a batch. */
  finSent(stream: TunnelStream): void;
  /** More than maxControlBytes of control frames wait unsent: the peer does not read. */
  controlOverflow(queued: number): void;
}

/**
 * Control frames of which only the latest matters: a newer one replaces the one still waiting, so a
 * peer that sends PINGs and never reads gets one answer, not one per PING.
 */
export type LatestSlot = 'ack' | 'pingAck' | 'ping' | 'qos';
const SLOTS: readonly LatestSlot[] = ['ack', 'pingAck', 'ping', 'qos'];

/** One socket write, remembered until the peer acknowledges it: RTT and delivery-rate samples. */
interface SentMark {
  /** The connection's byte count after this write. */
  end: number;
  at: number;
  /** The tunnel's delivered bytes, and when they were last counted, at the time of the write. */
  delivered: number;
  deliveredAt: number;
  /** When the newest write acknowledged by then had been written (BBR's first_sent_time). */
  firstSentAt: number;
  appLimited: boolean;
}

/** What the tunnel's acknowledgements tell, for metrics and reports. */
export interface DeliveryStats {
  /** Bytes written to the tunnel's connections, and of them acknowledged by the peer. */
  sentBytes: number;
  ackedBytes: number;
  inFlightBytes: number;
  /** The congestion window and pacing rate, bytes and bytes/s (-1 when not pacing yet). */
  cwndBytes: number;
  pacingBytesPerSec: number;
  /** Bottleneck delivery rate measured, bytes/s; min RTT and smoothed RTT from acknowledgements, ms. */
  deliveryBytesPerSec: number;
  minRttMs: number;
  srttMs: number;
  phase: string;
}

/** Bytes one connection sent, for the session's stats. */
export interface LaneStats {
  bytesSent: number;
  /** Socket writes (one per batch). */
  writes: number;
  dataBytesSent: number;
  framesSent: number;
  compressionSaved: number;
}

/**
 * The sending side of one TCP connection of a tunnel: its socket, its control frames, its session
 * window (credit the peer granted on this connection) and the batch being assembled for it. Which
 * stream's bytes go next is not decided here but by the tunnel's one TunnelWriter.
 */
export class WriteLane {
  readonly group = new BlendGroup<TunnelStream>();
  readonly batch: WriteBatch<TunnelStream>;
  readonly credit: SendCredit;
  /** Bytes per ring this connection carried since it began. */
  readonly ringBytes: number[];
  readonly stats: LaneStats = { bytesSent: 0, writes: 0, dataBytesSent: 0, framesSent: 0, compressionSaved: 0 };
  /** Control frames waiting, flat: type << 8 | flags, stream id, payload (bytes, or a WINDOW increment). */
  control: Array<number | Buffer> = [];
  /** Bytes of control frames waiting (list and slots). */
  controlBytes = 0;
  private readonly latest: Record<LatestSlot, Buffer | null> = { ack: null, pingAck: null, ping: null, qos: null };
  /** Bytes handed to the socket and not yet taken by the kernel. */
  inFlight = 0;
  /** Bytes of this connection the peer acknowledged (ACK frames). */
  acked = 0;
  marks: SentMark[] = [];
  marksHead = 0;
  /** Acknowledgements of this connection late by a retransmission (the congestion control's loss events). */
  lossEvents = 0;
  closed = false;

  constructor(
    readonly writer: TunnelWriter,
    readonly socket: Socket,
    /** The peer's settings, live: a SETTINGS frame may change them. */
    readonly peerSettings: Settings,
    readonly hooks: LaneHooks,
  ) {
    this.batch = new WriteBatch(writer.options.writeBatchBytes);
    this.credit = new SendCredit(peerSettings.sessionWindow);
    this.ringBytes = new Array<number>(writer.blender.ringCount).fill(0);
  }

  get belowWatermark(): boolean {
    return this.inFlight < this.writer.options.writeLowWatermark;
  }

  get hasControl(): boolean {
    return this.controlBytes > 0;
  }

  /** Queues a control frame; it is written straight into the batch when its turn comes (no frame buffer of its own). */
  queueControl(type: number, flags: number, streamId: number, payload: Buffer | number): void {
    if (this.closed) return;
    this.control.push((type << 8) | flags, streamId, payload);
    this.addControlBytes(HEADER_SIZE + controlPayloadLength(payload));
  }

  /** Queues `frame` in `slot`, replacing the frame still waiting there. */
  queueLatest(slot: LatestSlot, frame: Buffer): void {
    if (this.closed) return;
    const previous = this.latest[slot];
    this.latest[slot] = frame;
    this.addControlBytes(frame.length - (previous?.length ?? 0));
  }

  /** Moves every waiting control frame into the batch; returns how many. */
  takeControl(): number {
    let frames = 0;
    for (const slot of SLOTS) {
      const frame = this.latest[slot];
      if (!frame) continue;
      this.batch.appendFrame(frame);
      this.latest[slot] = null;
      frames++;
    }
    const control = this.control;
    for (let i = 0; i < control.length; i += 3) {
      const typeFlags = control[i] as number;
      this.batch.appendControl(typeFlags >> 8, typeFlags & 0xff, control[i + 1] as number, control[i + 2] as Buffer | number);
    }
    frames += control.length / 3;
    this.control = [];
    this.controlBytes = 0;
    return frames;
  }

  private addControlBytes(bytes: number): void {
    this.controlBytes += bytes;
    if (this.controlBytes > this.writer.options.maxControlBytes) {
      const queued = this.controlBytes;
      this.clearControl();
      this.hooks.controlOverflow(queued);
      return;
    }
    this.writer.scheduleFlush();
  }

  clearControl(): void {
    this.control = [];
    for (const slot of SLOTS) this.latest[slot] = null;
    this.controlBytes = 0;
  }

  /** The peer granted `increment` more bytes on this connection; false past the protocol's ceiling. */
  addCredit(increment: number): boolean {
    if (!this.credit.add(increment)) return false;
    if (this.credit.available > 0) this.writer.blender.setBlocked(this.group, false);
    this.writer.scheduleFlush();
    return true;
  }
}

/**
 * One tunnel's sending direction: one blender for all of the tunnel's TCP connections, so that the
 * ring weights hold for the tunnel as a whole however its streams are spread (each connection with its
 * own blender would give each connection's streams its share, and a priority-0 download alone on one
 * connection the same bytes as a priority-3 one alone on another).
 *
 * Every decision is made once, for the tunnel: the writer takes the blender's next packets only while
 * every connection is below its low watermark, and each chosen slice goes into the batch of its
 * stream's connection (a stream stays on one connection, so its bytes stay in order). A connection that
 * drains slower holds the others back rather than letting their streams take its share.
 */
export class TunnelWriter {
  readonly blender: Blender<TunnelStream>;
  readonly options: SessionOptions;
  private lanes: WriteLane[] = [];
  private flushScheduled = false;
  private heldWriters: TunnelStream[] = [];
  private readonly scratch = compressionScratch();
  readonly congestion: Congestion;
  private readonly clock: Clock;
  private streams = 0;
  /** Bytes the peer acknowledged on every connection, ever, and when that last grew. */
  private delivered = 0;
  private deliveredAt = 0;
  /** When the newest acknowledged write had been written. */
  private deliveredSentAt = 0;
  /** Sent while the tunnel had less to send than it could: such samples may only raise the bandwidth. */
  private appLimitedUntil = 0;
  private tokens = 0;
  private tokensAt = 0;
  private pacingTimer: NodeJS.Timeout | null = null;
  private pacing = false;
  /** Rings whose DATA is sent uncompressed (seed 001: compression chosen per priority). */
  private plainRings = new Set<number>();
  /** Wire bytes per payload byte lately (compression makes it less than 1). */
  private wirePerPayload = 1;
  /** Bytes written to lanes since closed, so the tunnel's totals survive its connections. */
  private retired = { sent: 0, acked: 0 };

  constructor(options: SessionOptions, clock: Clock = monotonicNow) {
    this.options = options;
    this.clock = clock;
    this.blender = new Blender(options.blender);
    this.congestion = new Congestion(options.congestion);
    this.deliveredAt = clock();
    this.deliveredSentAt = this.deliveredAt;
  }

  attach(socket: Socket, peerSettings: Settings, hooks: LaneHooks): WriteLane {
    const lane = new WriteLane(this, socket, peerSettings, hooks);
    this.lanes.push(lane);
    return lane;
  }

  /** The connection closed: its streams were closed by its session, it no longer holds the others back. */
  detach(lane: WriteLane): void {
    lane.closed = true;
    lane.clearControl();
    this.lanes = this.lanes.filter((other) => other !== lane);
    this.retired.sent += lane.stats.bytesSent;
    this.retired.acked += lane.acked;
    lane.marks = [];
    if (this.lanes.length === 0 && this.pacingTimer) {
      clearTimeout(this.pacingTimer);
      this.pacingTimer = null;
    }
    this.scheduleFlush();
  }

  /**
   * The peer acknowledged `received` bytes of `lane`'s connection in all. False when that is impossible
   * (fewer than before, or more than were sent): a protocol error.
   */
  onAck(lane: WriteLane, received: number): boolean {
    if (received < lane.acked || received > lane.stats.bytesSent) return false;
    const acked = received - lane.acked;
    if (acked === 0) return true;
    lane.acked = received;
    const now = this.clock();
    this.delivered += acked;
    let mark: SentMark | undefined;
    const marks = lane.marks;
    const oldest = marks[lane.marksHead] as SentMark | undefined;
    while (lane.marksHead < marks.length && marks[lane.marksHead].end <= received) mark = marks[lane.marksHead++];
    if (lane.marksHead > 64 && lane.marksHead * 2 > marks.length) {
      lane.marks = marks.slice(lane.marksHead);
      lane.marksHead = 0;
    }
    if (mark) {
      // The longer of the send and the ack intervals, as BBR: ACKs bunched by a busy event loop
      // would otherwise make a short ack interval, and a delivery rate above the bottleneck's.
      const interval = Math.max(now - mark.deliveredAt, mark.at - mark.firstSentAt);
      this.deliveredSentAt = mark.at;
      const lost = this.congestion.onAck({
        now,
        acked,
        rttMs: now - mark.at,
        oldestRttMs: now - oldest!.at,
        // Shorter than a millisecond, the clock's and the event loop's noise outweighs the sample.
        rate: interval >= 1 ? (this.delivered - mark.delivered) / interval : undefined,
        appLimited: mark.appLimited,
        inFlight: this.inFlightBytes(),
      });
      if (lost) lane.lossEvents++;
    }
    this.deliveredAt = now;
    this.scheduleFlush();
    return true;
  }

  inFlightBytes(): number {
    let inFlight = 0;
    for (const lane of this.lanes) inFlight += lane.stats.bytesSent - lane.acked;
    return inFlight;
  }

  delivery(): DeliveryStats {
    const now = this.clock();
    let sent = this.retired.sent;
    let acked = this.retired.acked;
    for (const lane of this.lanes) {
      sent += lane.stats.bytesSent;
      acked += lane.acked;
    }
    const cc = this.congestion;
    const pacing = cc.pacingRate(now);
    return {
      sentBytes: sent,
      ackedBytes: acked,
      inFlightBytes: sent - acked,
      cwndBytes: Math.round(cc.cwnd),
      pacingBytesPerSec: Number.isFinite(pacing) ? Math.round(pacing * 1000) : -1,
      deliveryBytesPerSec: Math.round(cc.deliveryRate * 1000),
      minRttMs: Number.isFinite(cc.minRttMs) ? cc.minRttMs : -1,
      srttMs: cc.srttMs,
      phase: cc.phase,
    };
  }

  get connections(): number {
    return this.lanes.length;
  }

  open(stream: TunnelStream, priority: number, credit: number, lane: WriteLane): BlendQueue<TunnelStream> {
    this.congestion.setStreams(++this.streams);
    return this.blender.open(stream, priority, credit, lane.group);
  }

  /** The stream is gone: drops what it still had queued. */
  close(queue: BlendQueue<TunnelStream>): void {
    this.blender.close(queue);
    this.congestion.setStreams(--this.streams);
  }

  write(queue: BlendQueue<TunnelStream>, chunk: Buffer): void {
    this.blender.write(queue, chunk);
    this.scheduleFlush();
  }

  end(queue: BlendQueue<TunnelStream>): void {
    this.blender.end(queue);
    this.scheduleFlush();
  }

  addCredit(queue: BlendQueue<TunnelStream>, increment: number): void {
    this.blender.addCredit(queue, increment);
    this.scheduleFlush();
  }

  /** The manager's rings (PUT /v1/rings): weights, packet size (back to the built-in one when unset), which rings compress. */
  setRings(rings: RingSettings): void {
    this.blender.setWeights(rings.weights);
    this.blender.setPacketSize(rings.packetSize ?? this.options.blender.packetSize);
    this.plainRings = new Set(rings.features?.flatMap((features, ring) => (features.compress ? [] : [ring])) ?? []);
  }

  scheduleFlush(): void {
    if (this.flushScheduled || this.lanes.length === 0) return;
    this.flushScheduled = true;
    // setImmediate, not a microtask: writes made in the same tick join one batch, and I/O gets a turn.
    setImmediate(this.flush);
  }

  /** Writes while the connections hold less than the low watermark: the blender decides as late as it can. */
  readonly flush = (): void => {
    this.flushScheduled = false;
    while (this.assemble());
    this.releaseHeldWriters();
  };

  /**
   * One round: each connection below its watermark takes its control frames, then (only if every
   * connection is below it) up to one batch of the blender's packets. False when nothing was written.
   */
  private assemble(): boolean {
    const lanes = this.lanes;
    let allBelow = true;
    for (const lane of lanes) {
      if (!lane.belowWatermark) {
        allBelow = false;
        continue;
      }
      if (lane.hasControl) lane.stats.framesSent += lane.takeControl();
    }
    const payload = allBelow ? this.takePackets() : 0;
    let wire = 0;
    for (const lane of lanes) {
      this.closeFrame(lane);
      wire += this.writeOut(lane);
    }
    if (this.pacing) this.tokens -= wire;
    // The window and pacing count wire bytes; the blender is asked for payload bytes, which compress.
    if (payload > 0) this.wirePerPayload = Math.min(1.1, Math.max(0.01, this.wirePerPayload * 0.75 + (wire / payload) * 0.25));
    return wire > 0;
  }

  /**
   * Bytes the congestion control lets out now: what the window leaves, and what pacing allows (tokens
   * that accrue at the pacing rate, at most pacingBurstMs' worth). Arms the pacing timer when that is
   * what holds the bytes back.
   */
  private allowance(): number {
    const now = this.clock();
    const window = this.congestion.cwnd - this.inFlightBytes();
    if (window <= 0) return 0;
    const rate = this.congestion.pacingRate(now);
    // Below a few ms of RTT there is no long queue to keep short, and timers are too coarse to pace.
    this.pacing = Number.isFinite(rate) && this.congestion.minRttMs >= this.options.pacingBurstMs;
    if (!this.pacing) return Math.floor(window);
    const packetSize = this.blender.packetSize;
    // A late timer (a busy event loop) may make up what it missed, up to a quarter of the min RTT: capped
    // at pacingBurstMs it would send a fraction of the pacing rate, and the delivery rate would follow.
    const elapsed = now - this.tokensAt;
    const burstMs = Math.max(this.options.pacingBurstMs, Math.min(elapsed, this.congestion.minRttMs / 4));
    const burst = Math.max(4 * packetSize, rate * burstMs);
    this.tokens = Math.min(burst, this.tokens + rate * elapsed);
    this.tokensAt = now;
    if (this.tokens < packetSize) {
      this.armPacing((packetSize - this.tokens) / rate);
      return 0;
    }
    return Math.floor(Math.min(window, this.tokens));
  }

  private armPacing(waitMs: number): void {
    if (this.pacingTimer) return;
    this.pacingTimer = setTimeout(() => {
      this.pacingTimer = null;
      this.flush();
    }, Math.max(1, Math.ceil(waitMs)));
  }

  /** Takes up to one batch of the blender's packets, as much as the congestion control allows; returns the payload bytes. */
  private takePackets(): number {
    if (!this.blender.hasReady) {
      this.markAppLimited();
      return 0;
    }
    const allowed = this.allowance();
    // A write carries up to writeBatchBytes of wire bytes: compressible payload packs many times that
    // into one syscall (a loopback write costs about the same at 300 bytes as at 64 KiB).
    const wireBudget = Math.min(this.options.writeBatchBytes, allowed);
    const limit = Math.floor(Math.min(wireBudget / this.wirePerPayload, MAX_PAYLOAD_PER_BATCH * this.options.writeBatchBytes));
    let taken = 0;
    while (taken < limit && this.blender.hasReady && this.batchedBytes() < wireBudget) {
      let credit = Infinity;
      for (const lane of this.lanes) if (!lane.group.blocked) credit = Math.min(credit, lane.credit.available);
      if (!(credit > 0)) break;
      const sent = this.blender.nextPacket(this.emitSlice, Math.min(limit - taken, credit, this.options.writeBatchBytes));
      // A packet of nothing but a FIN still moved the blender on; nothing at all means nothing is ready.
      if (sent === 0 && !this.emittedFin) break;
      this.emittedFin = false;
      taken += sent;
      // Refill at once: a backlogged stream whose writer waits until the round ends looks idle to the
      // blender for the rest of it, and an idle stream's share goes to the others.
      this.releaseHeldWriters();
      // A spent session window holds that connection's streams back until the peer grants more.
      for (const lane of this.lanes) if (lane.credit.available <= 0) this.blender.setBlocked(lane.group, true);
    }
    if (taken < limit && !this.blender.hasReady) this.markAppLimited();
    return taken;
  }

  /** Bytes assembled in the lanes' batches so far (an open frame counted before compression). */
  private batchedBytes(): number {
    let bytes = 0;
    for (const lane of this.lanes) bytes += lane.batch.length;
    return bytes;
  }

  /**
   * Allowed more than there was to send: what is in flight now, and what goes out next (control frames
   * alone, a short answer), was sent without a backlog, and its delivery rate says nothing of the path.
   * At least one byte, as BBR: with nothing in flight, the next write still counts as such.
   */
  private markAppLimited(): void {
    this.appLimitedUntil = this.delivered + Math.max(1, this.inFlightBytes());
  }

  private emittedFin = false;

  private readonly emitSlice = (stream: TunnelStream, chunk: Buffer, offset: number, length: number, fin: boolean): void => {
    const lane = stream.lane;
    const batch = lane.batch;
    lane.credit.available -= length;
    lane.stats.dataBytesSent += length;
    lane.ringBytes[stream.queue.ring] += length;
    const limit = Math.min(lane.peerSettings.maxFramePayload, this.options.maxDataFrame);
    // Consecutive slices of one stream share a frame: the sub-packet is a scheduling unit, not a wire unit.
    // A run longer than a frame (one ready stream) is cut into frames of at most `limit`.
    while (length > 0 || batch.frameStream !== stream) {
      if (batch.frameStream !== stream || batch.frameLength >= limit || batch.room === 0) {
        this.closeFrame(lane);
        batch.openFrame(stream, stream.id, HEADER_SIZE + Math.min(length, limit));
      }
      const take = Math.min(length, limit - batch.frameLength, batch.room);
      batch.appendPayload(chunk, offset, take);
      offset += take;
      length -= take;
    }
    if (fin) {
      this.emittedFin = true;
      batch.frameFlags |= FrameFlag.FIN;
      stream.finSent = true;
      this.closeFrame(lane);
      lane.hooks.finSent(stream);
    }
    if (stream.heldWrite && stream.queue.queuedBytes < stream.writableHighWaterMark) this.heldWriters.push(stream);
  };

  /** Seals the lane's open DATA frame, compressing its payload when that pays. */
  private closeFrame(lane: WriteLane): void {
    const batch = lane.batch;
    const stream = batch.frameStream;
    if (!stream) return;
    const length = batch.frameLength;
    if (length >= this.options.compressMinBytes && lane.peerSettings.compression && this.options.settings.compression && !this.plainRings.has(stream.priority)) {
      if (stream.skipCompression > 0) {
        stream.skipCompression--;
      } else {
        const saved = compressInto(batch, this.scratch);
        if (saved > 0) lane.stats.compressionSaved += saved;
        // Incompressible bytes (media, TLS) rarely turn compressible: stop trying for a while.
        else stream.skipCompression = 16;
      }
    }
    batch.closeFrame();
    lane.stats.framesSent++;
  }

  /** Writes the lane's batch; returns its bytes (0 when there was nothing). */
  private writeOut(lane: WriteLane): number {
    const out = lane.batch.take();
    if (!out) return 0;
    lane.inFlight += out.bytes;
    lane.stats.bytesSent += out.bytes;
    lane.stats.writes++;
    lane.marks.push({
      end: lane.stats.bytesSent, at: this.clock(), delivered: this.delivered, deliveredAt: this.deliveredAt,
      firstSentAt: this.deliveredSentAt, appLimited: this.delivered < this.appLimitedUntil,
    });
    const socket = lane.socket;
    const done = () => {
      lane.inFlight -= out.bytes;
      lane.batch.recycle(out.owners);
      if (this.blender.hasReady || lane.hasControl) this.scheduleFlush();
    };
    const last = out.chunks.length - 1;
    if (last > 0) socket.cork();
    for (let i = 0; i < last; i++) socket.write(out.chunks[i]);
    socket.write(out.chunks[last], done);
    if (last > 0) socket.uncork();
    return out.bytes;
  }

  private releaseHeldWriters(): void {
    const writers = this.heldWriters;
    if (writers.length === 0) return;
    this.heldWriters = [];
    for (const stream of writers) {
      const callback = stream.heldWrite;
      if (callback && stream.queue.queuedBytes < stream.writableHighWaterMark) {
        stream.heldWrite = null;
        callback();
      }
    }
  }
}
