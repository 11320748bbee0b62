import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import { SmoothedValue, monotonicNow, silentLogger, type Clock, type Logger } from '@overlay/common';
import { decodeAck, encodeAck, encodeFrame, FrameDecoder, packPayload, unpackPayload } from './codec.js';
import { inflatedLength } from './compress.js';
import { protocolError, resetError, TunnelError, TunnelErrorCode } from './errors.js';
import { ReceiveWindow } from './flow.js';
import { PLAIN, ReadAssembler } from './inbound.js';
import { FrameFlag, FrameType, MAX_STREAM_ID, WireError, wireErrorName } from './frame.js';
import type { PeerHello } from './handshake.js';
import type { SessionOptions, Settings } from './options.js';
import { emptyQosReport, lossRateOf, readQosReport, type QosReport } from './qos.js';
import { TunnelStream, type StreamHost } from './stream.js';
import { TunnelWriter, type WriteLane } from './writer.js';

export type SessionRole = 'initiator' | 'acceptor';

export interface OpenOptions {
  /** 0 (highest) … rings - 1; the blender ring for this stream's bytes in both directions. */
  priority?: number;
  /** Carried in the OPEN frame (for HTTP streams, the request head). */
  meta?: unknown;
}

export interface SessionStats {
  streams: number;
  bytesSent: number;
  /** Socket writes this connection made (each a batch of frames). */
  writes: number;
  bytesReceived: number;
  dataBytesSent: number;
  dataBytesReceived: number;
  framesSent: number;
  framesReceived: number;
  /** Bytes compression kept off the wire. */
  compressionSaved: number;
  /** Bytes of this connection's streams waiting in the blender. */
  queuedBytes: number;
  /** Per-ring bytes this connection sent since it began. */
  ringBytes: number[];
  /** Control frames waiting to be written, bytes (bounded by maxControlBytes). */
  controlBytes: number;
}

/** Recently reset stream ids remembered, so frames the peer sent before it saw the reset are dropped quietly. */
const RESET_MEMORY = 16_384;

/** When a new session pings again before its regular interval, ms after it starts. */
const EARLY_PING_DELAYS_MS = [100, 400, 1_000] as const;

/**
 * One authenticated TCP (or TLS) connection of a tunnel: multiplexes streams over it with per-stream and
 * per-session flow control, measures RTT with PINGs and trades QoS reports with the peer. What its streams
 * send is scheduled by the tunnel's TunnelWriter, shared by all of the tunnel's connections. Events: 'stream' (TunnelStream) for streams the peer opens, 'reply' on a
 * stream when its reply head arrives, 'qos' (QosReport) from the peer, 'goaway', 'close' (error?).
 */
export class TunnelSession extends EventEmitter implements StreamHost {
  readonly role: SessionRole;
  readonly peer: PeerHello;
  readonly options: SessionOptions;
  readonly socket: Socket;
  readonly rtt = new SmoothedValue();
  /** The last QoS report the peer sent. */
  peerQos: QosReport | undefined;
  closed = false;
  closeError: Error | undefined;
  /** Set once this end sent GOAWAY: no new streams from the peer. */
  draining = false;
  /** Set once the peer sent GOAWAY: open no new streams here. */
  goneAway = false;

  private readonly log: Logger;
  private readonly clock: Clock;
  private readonly streams = new Map<number, TunnelStream>();
  private readonly recentlyReset = new Set<number>();
  private readonly writer: TunnelWriter;
  private readonly lane: WriteLane;
  private readonly decoder: FrameDecoder;
  private readonly peerSettings: Settings;
  private readonly recvSession: ReceiveWindow;
  private nextStreamId: number;
  private lastPeerStreamId = 0;
  private peerOpened = 0;
  private localOpened = 0;
  private windowsTotal = 0;
  private lastReceivedAt: number;
  private readonly arrivals = new ReadAssembler<TunnelStream>();
  /** Frames other than ACK arrived since the last ACK went out (ACKs themselves are not acknowledged). */
  private unacked = false;
  private ackedUpTo = 0;
  private ackTimer: NodeJS.Timeout | null = null;
  private readonly timers: NodeJS.Timeout[] = [];
  private drainTimer: NodeJS.Timeout | undefined;
  private closingSocket = false;
  private readonly stats = { bytesReceived: 0, dataBytesReceived: 0, framesReceived: 0 };
  private qosWindow = { at: 0, sent: 0, received: 0, lossEvents: 0 };
  /** What this end estimated it lost of what it sent over the last QoS interval; -1 when unknown. */
  lossRate = -1;

  /**
   * `context.writer` is the tunnel's writer when this connection is one of several of a tunnel (they
   * share it); without one the session schedules its streams alone.
   */
  constructor(socket: Socket, role: SessionRole, peer: PeerHello, options: SessionOptions, firstBytes: Buffer, context: { log?: Logger; clock?: Clock; writer?: TunnelWriter } = {}) {
    super();
    this.socket = socket;
    this.role = role;
    this.peer = peer;
    this.options = options;
    this.log = context.log ?? silentLogger;
    this.clock = context.clock ?? monotonicNow;
    this.peerSettings = { ...peer.settings };
    this.nextStreamId = role === 'initiator' ? 1 : 2;
    this.writer = context.writer ?? new TunnelWriter(options, this.clock);
    this.lane = this.writer.attach(socket, this.peerSettings, {
      finSent: (stream) => this.onFinSent(stream),
      controlOverflow: (queued) => this.failProtocol(new TunnelError(TunnelErrorCode.CONTROL_OVERFLOW,
        `peer left ${queued} bytes of control frames unread (maxControlBytes ${options.maxControlBytes})`, { wire: WireError.ENHANCE_YOUR_CALM })),
    });
    this.recvSession = new ReceiveWindow(options.settings.sessionWindow, options.settings.sessionWindow, 0.25, this.clock());
    this.decoder = new FrameDecoder(options.settings.maxFramePayload, this.onFrame);
    this.lastReceivedAt = this.clock();
    this.qosWindow.at = this.lastReceivedAt;

    socket.setNoDelay(true);
    socket.on('data', this.onData);
    socket.on('error', (err) => this.destroy(new TunnelError(TunnelErrorCode.CONNECTION_LOST, `tunnel connection failed: ${err.message}`, { cause: err, retryable: true })));
    socket.on('close', () => this.destroy(new TunnelError(TunnelErrorCode.CONNECTION_LOST, 'tunnel connection closed', { retryable: true })));
    socket.on('end', () => this.destroy(new TunnelError(TunnelErrorCode.CONNECTION_LOST, 'peer ended the tunnel connection', { retryable: true })));

    const ping = setInterval(() => this.heartbeat(), options.pingIntervalMs);
    const qos = setInterval(() => this.sendQos(), options.qosIntervalMs);
    ping.unref();
    qos.unref();
    this.timers.push(ping, qos);
    this.sendPing();
    // A few early PINGs: a new connection's first RTT sample carries start-up noise (JIT, handshake
    // work), and back-end choice should not wait a whole ping interval to see the link's real RTT.
    for (const delayMs of EARLY_PING_DELAYS_MS) {
      if (delayMs >= options.pingIntervalMs) break;
      const early = setTimeout(() => this.sendPing(), delayMs);
      early.unref();
      this.timers.push(early);
    }
    if (firstBytes.length) queueMicrotask(() => this.onData(firstBytes));
  }

  /** What this end reports as its load (0..1) in QOS frames; -1 for unknown. */
  loadProbe: () => number = () => -1;

  get streamCount(): number {
    return this.streams.size;
  }

  /** Opens a stream towards the peer. Throws a TunnelError when the session cannot take one. */
  openStream(options: OpenOptions = {}): TunnelStream {
    if (this.closed) throw new TunnelError(TunnelErrorCode.CLOSED, 'tunnel session is closed', { retryable: true });
    if (this.goneAway || this.draining) throw new TunnelError(TunnelErrorCode.GOAWAY, 'tunnel session is draining', { retryable: true });
    if (this.localOpened >= this.peerSettings.maxStreams) {
      throw new TunnelError(TunnelErrorCode.TOO_MANY_STREAMS, `peer allows ${this.peerSettings.maxStreams} concurrent streams`, { retryable: true });
    }
    if (this.nextStreamId > MAX_STREAM_ID - 2) throw new TunnelError(TunnelErrorCode.GOAWAY, 'stream ids exhausted', { retryable: true });
    const id = this.nextStreamId;
    this.nextStreamId += 2;
    const priority = clampPriority(options.priority ?? 2, this.writer.blender.ringCount);
    const stream = this.createStream(id, priority, undefined);
    this.localOpened++;
    this.queueControl(FrameType.OPEN, id, packPayload({ p: priority, m: options.meta }));
    return stream;
  }

  /** Stops accepting new streams, lets open ones finish, then closes (or after drainTimeoutMs). */
  goAway(reason = 'draining'): Promise<void> {
    if (!this.closed && !this.draining) {
      this.draining = true;
      this.queueControl(FrameType.GOAWAY, 0, packPayload({ last: this.lastPeerStreamId, code: WireError.NO_ERROR, reason }));
      this.drainTimer = setTimeout(() => this.destroy(new TunnelError(TunnelErrorCode.GOAWAY, 'drain timeout')), this.options.drainTimeoutMs);
      this.drainTimer.unref();
      this.closeIfDrained();
    }
    return this.closed ? Promise.resolve() : new Promise((resolve) => this.once('close', () => resolve()));
  }

  /** Ends the session now: every stream fails with `error` (or connection-lost). */
  destroy(error?: Error): void {
    if (this.closed) return;
    this.closed = true;
    this.closeError = error;
    for (const timer of this.timers) clearInterval(timer);
    if (this.drainTimer) clearTimeout(this.drainTimer);
    if (this.ackTimer) clearTimeout(this.ackTimer);
    const failure = error ?? new TunnelError(TunnelErrorCode.CLOSED, 'tunnel session closed', { retryable: true });
    for (const stream of [...this.streams.values()]) {
      this.remove(stream);
      failStream(stream, failure);
    }
    this.writer.detach(this.lane);
    if (!this.closingSocket) this.socket.destroy();
    this.emit('close', error);
  }

  qos(): QosReport {
    return {
      ...emptyQosReport(),
      rttMs: this.rtt.value ?? -1,
      jitterMs: this.rtt.value === undefined ? -1 : this.rtt.jitter,
      streams: this.streams.size,
      queuedBytes: this.queuedBytes(),
      ringBytes: [...this.lane.ringBytes],
      load: this.loadProbe(),
    };
  }

  getStats(): SessionStats {
    return {
      ...this.stats,
      ...this.lane.stats,
      streams: this.streams.size,
      queuedBytes: this.queuedBytes(),
      ringBytes: [...this.lane.ringBytes],
      controlBytes: this.lane.controlBytes,
    };
  }

  private queuedBytes(): number {
    let queued = 0;
    for (const stream of this.streams.values()) queued += stream.queue.queuedBytes;
    return queued;
  }

  // ---- StreamHost: calls from TunnelStream --------------------------------------------------------

  writeData(stream: TunnelStream, chunk: Buffer): void {
    if (stream.removed || stream.finSent) return;
    this.writer.write(stream.queue, chunk);
  }

  endData(stream: TunnelStream): void {
    if (stream.removed) {
      stream.heldFinal?.();
      stream.heldFinal = null;
      return;
    }
    this.writer.end(stream.queue);
  }

  sendReply(stream: TunnelStream, meta: unknown): void {
    if (stream.removed) return;
    this.queueControl(FrameType.REPLY, stream.id, packPayload(meta));
  }

  consumed(stream: TunnelStream): void {
    const delta = stream.pushed - stream.reported;
    if (delta <= 0) return;
    stream.reported = stream.pushed;
    const now = this.clock();
    if (!stream.removed && !stream.finReceived) {
      const increment = stream.recv.consume(delta, now, this.rtt.value, this.mayGrow);
      if (increment > 0) this.queueControl(FrameType.WINDOW, stream.id, increment);
    } else {
      stream.recv.consume(delta, now, undefined, this.mayGrow);
    }
    this.returnSessionCredit(delta);
  }

  destroyed(stream: TunnelStream, error: Error | null): void {
    if (stream.removed) return;
    if (!(stream.finSent && stream.finReceived)) {
      const wire = error instanceof TunnelError ? error.wire : error ? WireError.INTERNAL_ERROR : WireError.CANCEL;
      const reason = error ? error.message.slice(0, 200) : 'cancelled';
      this.queueControl(FrameType.RESET, stream.id, packPayload({ code: wire, reason }));
      this.rememberReset(stream.id);
    }
    this.remove(stream);
  }

  // ---- streams ---------------------------------------------------------------------------------

  private createStream(id: number, priority: number, meta: unknown): TunnelStream {
    const settings = this.options.settings;
    const recv = new ReceiveWindow(settings.initialWindow, this.options.maxWindow, 0.5, this.clock());
    const stream = new TunnelStream(this, id, priority, meta, recv, this.options.streamHighWaterMark);
    stream.lane = this.lane;
    stream.queue = this.writer.open(stream, priority, this.peerSettings.initialWindow, this.lane);
    this.windowsTotal += recv.window;
    this.streams.set(id, stream);
    return stream;
  }

  /** A stream window may double only while all windows together stay within the session's memory cap. */
  private readonly mayGrow = (extra: number): boolean => {
    if (this.windowsTotal + extra > this.options.settings.sessionWindow) return false;
    this.windowsTotal += extra;
    return true;
  };

  private remove(stream: TunnelStream): void {
    if (stream.removed) return;
    stream.removed = true;
    this.streams.delete(stream.id);
    this.windowsTotal -= stream.recv.window;
    this.writer.close(stream.queue);
    // Bytes received but never read would otherwise keep their share of the session window forever.
    // (A stream finished cleanly keeps its inbox for its reader; the credit is returned all the same.)
    const unread = stream.recv.discardBuffered();
    stream.reported = stream.recv.received;
    if (unread > 0) this.returnSessionCredit(unread);
    if ((stream.id & 1) === (this.role === 'initiator' ? 1 : 0)) this.localOpened--;
    else this.peerOpened--;
    this.closeIfDrained();
  }

  /** Once drained, ends the connection; deferred, as this can be reached from inside the writer. */
  private closeIfDrained(): void {
    if (!this.draining || this.streams.size > 0 || this.closed) return;
    setImmediate(() => {
      if (this.closed || this.streams.size > 0) return;
      this.writer.flush();
      this.endGracefully();
    });
  }

  /** Ends the session but lets the socket flush what was written (a GOAWAY with the reason) first. */
  private endGracefully(error?: Error): void {
    const socket = this.socket;
    this.closingSocket = true;
    socket.end();
    setTimeout(() => socket.destroy(), 2_000).unref();
    this.destroy(error);
  }

  private rememberReset(id: number): void {
    this.recentlyReset.add(id);
    if (this.recentlyReset.size > RESET_MEMORY) {
      const oldest = this.recentlyReset.values().next().value as number;
      this.recentlyReset.delete(oldest);
    }
  }

  private maybeRemove(stream: TunnelStream): void {
    if (stream.finSent && stream.finReceived) this.remove(stream);
  }

  private onFinSent(stream: TunnelStream): void {
    const final = stream.heldFinal;
    stream.heldFinal = null;
    if (final) queueMicrotask(() => final());
    this.maybeRemove(stream);
  }

  private returnSessionCredit(bytes: number): void {
    const increment = this.recvSession.consume(bytes, this.clock(), undefined, () => false);
    if (increment > 0) this.queueControl(FrameType.WINDOW, 0, increment);
  }

  // ---- reading ---------------------------------------------------------------------------------

  private readonly onData = (chunk: Buffer): void => {
    if (this.closed) return;
    this.lastReceivedAt = this.clock();
    this.stats.bytesReceived += chunk.length;
    try {
      this.decoder.push(chunk);
    } catch (err) {
      this.deliverArrivals(chunk.length);
      this.failProtocol(err as Error);
      return;
    }
    this.deliverArrivals(chunk.length);
    if (this.closed) return;
    if (this.unacked) this.scheduleAck();
  };

  /**
   * Acknowledges what this connection received, for the peer's congestion control: at once past
   * ackBytes, else within ackDelayMs (so a few ACKs per round trip, not one per read).
   */
  private scheduleAck(): void {
    if (this.stats.bytesReceived - this.ackedUpTo >= this.options.ackBytes) {
      this.sendAck();
      return;
    }
    if (this.ackTimer) return;
    this.ackTimer = setTimeout(() => {
      this.ackTimer = null;
      this.sendAck();
    }, this.options.ackDelayMs);
  }

  private sendAck(): void {
    if (this.closed) return;
    this.unacked = false;
    this.ackedUpTo = this.stats.bytesReceived;
    this.lane.queueLatest('ack', encodeAck(this.ackedUpTo));
  }

  /** Hands each stream what this socket read brought it, joined into chunks (ReadAssembler). */
  private deliverArrivals(readLength: number): void {
    if (this.arrivals.empty) return;
    try {
      this.arrivals.flush(readLength, this.deliverArrival);
    } catch (err) {
      this.failProtocol(err as Error);
    }
  }

  private readonly deliverArrival = (stream: TunnelStream): void => {
    if (stream.destroyed) return;
    stream.deliver();
    if (stream.finReceived) this.maybeRemove(stream);
  };

  private readonly onFrame = (type: number, flags: number, id: number, payload: Buffer): void => {
    this.stats.framesReceived++;
    if (type !== FrameType.ACK) this.unacked = true;
    switch (type) {
      case FrameType.DATA: return this.onDataFrame(flags, id, payload);
      case FrameType.OPEN: return this.onOpen(id, payload);
      case FrameType.REPLY: return this.onReply(id, payload);
      case FrameType.RESET: return this.onReset(id, payload);
      case FrameType.WINDOW: return this.onWindow(id, payload);
      case FrameType.PING: return this.onPing(flags, id, payload);
      case FrameType.SETTINGS: return this.onSettings(id, payload);
      case FrameType.GOAWAY: return this.onGoAway(id, payload);
      case FrameType.QOS: return this.onQos(id, payload);
      case FrameType.ACK: return this.onAck(id, payload);
    }
  };

  /** A frame for a stream not in the map: fine if we reset it lately, a protocol error otherwise. */
  private checkUnknown(id: number, what: string): void {
    if (id === 0) throw protocolError(`${what} frame on stream 0`);
    if (this.recentlyReset.has(id)) return;
    const ours = (id & 1) === (this.role === 'initiator' ? 1 : 0);
    const everOpened = ours ? id < this.nextStreamId : id <= this.lastPeerStreamId;
    if (!everOpened) throw protocolError(`${what} frame on stream ${id}, which was never opened`);
    throw protocolError(`${what} frame on closed stream ${id}`, WireError.STREAM_CLOSED);
  }

  private onDataFrame(flags: number, id: number, payload: Buffer): void {
    let inflated = PLAIN;
    if (flags & FrameFlag.COMPRESSED) {
      if (!this.options.settings.compression) throw protocolError('compressed DATA, but compression was not agreed');
      inflated = inflatedLength(payload, this.options.settings.maxFramePayload);
    }
    const length = inflated === PLAIN ? payload.length : inflated;
    this.stats.dataBytesReceived += length;
    if (!this.recvSession.receive(length)) throw protocolError('peer overran the session window', WireError.FLOW_CONTROL_ERROR);
    const stream = this.streams.get(id);
    if (!stream) {
      this.checkUnknown(id, 'DATA');
      this.returnSessionCredit(length);
      return;
    }
    if (stream.finReceived) throw protocolError(`DATA after FIN on stream ${id}`, WireError.STREAM_CLOSED);
    if (!stream.recv.receive(length)) throw protocolError(`peer overran the window of stream ${id}`, WireError.FLOW_CONTROL_ERROR);
    // Inflated when the read is delivered, straight into the stream's buffer for this read.
    if (length > 0) this.arrivals.add(stream, payload, inflated);
    else this.arrivals.touch(stream);
    if (flags & FrameFlag.FIN) stream.finReceived = true;
  }

  private onOpen(id: number, payload: Buffer): void {
    const peerParity = this.role === 'initiator' ? 0 : 1;
    if (id === 0 || (id & 1) !== peerParity) throw protocolError(`OPEN with stream id ${id} of the wrong parity`);
    if (id <= this.lastPeerStreamId) throw protocolError(`OPEN reuses stream id ${id}`);
    this.lastPeerStreamId = id;
    const open = unpackPayload(payload, 'OPEN') as { p?: unknown; m?: unknown } | null;
    if (!open || typeof open !== 'object' || !Number.isInteger(open.p)) throw protocolError('OPEN without a priority');
    if (this.draining || this.closed) return this.refuse(id, 'session is draining');
    if (this.peerOpened >= this.options.settings.maxStreams) return this.refuse(id, 'too many streams');
    this.peerOpened++;
    const stream = this.createStream(id, clampPriority(open.p as number, this.writer.blender.ringCount), open.m);
    this.emit('stream', stream);
  }

  private refuse(id: number, reason: string): void {
    this.rememberReset(id);
    this.queueControl(FrameType.RESET, id, packPayload({ code: WireError.REFUSED_STREAM, reason }));
  }

  private onReply(id: number, payload: Buffer): void {
    const stream = this.streams.get(id);
    if (!stream) return this.checkUnknown(id, 'REPLY');
    const meta = unpackPayload(payload, 'REPLY');
    stream.reply = meta;
    stream.emit('reply', meta);
  }

  private onReset(id: number, payload: Buffer): void {
    const reset = unpackPayload(payload, 'RESET') as { code?: unknown; reason?: unknown } | null;
    const code = typeof reset?.code === 'number' ? reset.code : WireError.INTERNAL_ERROR;
    const reason = typeof reset?.reason === 'string' ? reset.reason.slice(0, 200) : '';
    const stream = this.streams.get(id);
    if (!stream) {
      if (id === 0) throw protocolError('RESET on stream 0');
      return;
    }
    this.rememberReset(id);
    this.remove(stream);
    failStream(stream, resetError(code, reason));
  }

  private onWindow(id: number, payload: Buffer): void {
    if (payload.length !== 4) throw protocolError('WINDOW payload must be 4 bytes', WireError.FRAME_SIZE_ERROR);
    const increment = payload.readUInt32BE(0);
    if (increment === 0) throw protocolError('WINDOW with a zero increment');
    if (id === 0) {
      if (!this.lane.addCredit(increment)) throw protocolError('session window past 2^31 - 1', WireError.FLOW_CONTROL_ERROR);
      return;
    }
    const stream = this.streams.get(id);
    // Credit for a finished stream is normal: it crossed our FIN on the wire.
    if (!stream) return;
    if (stream.queue.credit + increment > 0x7fff_ffff) throw protocolError(`window of stream ${id} past 2^31 - 1`, WireError.FLOW_CONTROL_ERROR);
    this.writer.addCredit(stream.queue, increment);
  }

  private onPing(flags: number, id: number, payload: Buffer): void {
    if (id !== 0) throw protocolError('PING on a stream');
    if (payload.length !== 8) throw protocolError('PING payload must be 8 bytes', WireError.FRAME_SIZE_ERROR);
    if (flags & FrameFlag.ACK) {
      const sample = this.clock() - payload.readDoubleBE(0);
      if (sample >= 0 && sample < 600_000) this.rtt.add(sample);
      return;
    }
    // Only the latest PING is answered: a peer that pings and never reads gets one waiting answer.
    if (!this.closed) this.lane.queueLatest('pingAck', encodeFrame(FrameType.PING, FrameFlag.ACK, 0, payload));
  }

  private onAck(id: number, payload: Buffer): void {
    if (id !== 0) throw protocolError('ACK on a stream');
    if (payload.length !== 8) throw protocolError('ACK payload must be 8 bytes', WireError.FRAME_SIZE_ERROR);
    if (!this.writer.onAck(this.lane, decodeAck(payload))) throw protocolError('ACK for bytes never sent, or fewer than before');
  }

  private onSettings(id: number, payload: Buffer): void {
    if (id !== 0) throw protocolError('SETTINGS on a stream');
    const update = unpackPayload(payload, 'SETTINGS') as Partial<Settings> | null;
    if (!update || typeof update !== 'object') throw protocolError('SETTINGS payload is not a map');
    if (update.initialWindow !== undefined) {
      if (!Number.isInteger(update.initialWindow) || update.initialWindow <= 0 || update.initialWindow > 0x7fff_ffff) throw protocolError('SETTINGS initialWindow out of range');
      this.peerSettings.initialWindow = update.initialWindow;
    }
    if (update.compression !== undefined) this.peerSettings.compression = Boolean(update.compression);
  }

  private onGoAway(id: number, payload: Buffer): void {
    if (id !== 0) throw protocolError('GOAWAY on a stream');
    const goaway = unpackPayload(payload, 'GOAWAY') as { last?: unknown; code?: unknown; reason?: unknown } | null;
    const last = typeof goaway?.last === 'number' ? goaway.last : 0;
    const code = typeof goaway?.code === 'number' ? goaway.code : WireError.NO_ERROR;
    const reason = typeof goaway?.reason === 'string' ? goaway.reason.slice(0, 200) : '';
    this.goneAway = true;
    this.log.info({ peer: this.peer.id, code: wireErrorName(code), reason, last }, 'peer sent GOAWAY');
    // Streams we opened above `last` were never seen by the peer's application: safe to retry elsewhere.
    const ours = this.role === 'initiator' ? 1 : 0;
    for (const stream of [...this.streams.values()]) {
      if ((stream.id & 1) === ours && stream.id > last) {
        this.remove(stream);
        failStream(stream, new TunnelError(TunnelErrorCode.GOAWAY, `peer is going away (${reason || wireErrorName(code)}) before seeing this stream`, { retryable: true, wire: WireError.REFUSED_STREAM }));
      }
    }
    this.emit('goaway', { code, reason });
    if (code !== WireError.NO_ERROR) this.destroy(new TunnelError(TunnelErrorCode.GOAWAY, `peer closed the session: ${wireErrorName(code)} ${reason}`, { retryable: true, wire: code }));
  }

  private onQos(id: number, payload: Buffer): void {
    if (id !== 0) throw protocolError('QOS on a stream');
    this.peerQos = readQosReport(unpackPayload(payload, 'QOS'));
    this.emit('qos', this.peerQos);
  }

  /** A broken peer: say why in a GOAWAY, log it, close; the process and the other sessions carry on. */
  private failProtocol(error: Error): void {
    const tunnelError = error instanceof TunnelError ? error : protocolError(error.message, WireError.INTERNAL_ERROR);
    this.log.warn({ peer: this.peer.id, code: tunnelError.code, reason: tunnelError.message }, 'closing tunnel session: peer broke the protocol');
    if (this.closed) return;
    if (this.socket.writable) {
      this.socket.write(encodeFrame(FrameType.GOAWAY, 0, 0, packPayload({ last: this.lastPeerStreamId, code: tunnelError.wire, reason: tunnelError.message.slice(0, 200) })));
    }
    this.endGracefully(tunnelError);
  }

  // ---- writing ---------------------------------------------------------------------------------

  /** Queues a control frame (flags 0); `payload` is its bytes, or a WINDOW increment. */
  private queueControl(type: number, streamId: number, payload: Buffer | number): void {
    if (!this.closed) this.lane.queueControl(type, 0, streamId, payload);
  }

  // ---- liveness and QoS ------------------------------------------------------------------------

  private heartbeat(): void {
    const silentFor = this.clock() - this.lastReceivedAt;
    if (silentFor > this.options.deadPeerTimeoutMs) {
      this.log.warn({ peer: this.peer.id, silentMs: Math.round(silentFor) }, 'tunnel peer stopped answering');
      this.destroy(new TunnelError(TunnelErrorCode.PEER_TIMEOUT, `no frame from the peer for ${Math.round(silentFor)} ms`, { retryable: true }));
      return;
    }
    this.sendPing();
  }

  private sendPing(): void {
    const payload = Buffer.allocUnsafe(8);
    payload.writeDoubleBE(this.clock(), 0);
    if (!this.closed) this.lane.queueLatest('ping', encodeFrame(FrameType.PING, 0, 0, payload));
  }

  private sendQos(): void {
    const now = this.clock();
    const seconds = Math.max(0.001, (now - this.qosWindow.at) / 1000);
    const sent = this.lane.stats.bytesSent;
    const lossEvents = this.lane.lossEvents;
    this.lossRate = lossRateOf(lossEvents - this.qosWindow.lossEvents, sent - this.qosWindow.sent);
    const report: QosReport = {
      ...this.qos(),
      txBytesPerSec: Math.round((sent - this.qosWindow.sent) / seconds),
      rxBytesPerSec: Math.round((this.stats.bytesReceived - this.qosWindow.received) / seconds),
      lossRate: this.lossRate,
    };
    this.qosWindow = { at: now, sent, received: this.stats.bytesReceived, lossEvents };
    if (!this.closed) this.lane.queueLatest('qos', encodeFrame(FrameType.QOS, 0, 0, packPayload(report)));
  }
}

/**
 * Ends a stream with `error`, as 'error' if anyone listens, else quietly: a stream the application
 * never took up must not bring the process down when its session dies.
 */
function failStream(stream: TunnelStream, error: Error): void {
  if (stream.listenerCount('error') > 0) stream.destroy(error);
  else stream.destroy();
}

function clampPriority(priority: number, rings: number): number {
  return Math.min(rings - 1, Math.max(0, Math.trunc(priority)));
}
