import { defaultBlenderOptions, verifyBlenderOptions, type BlenderOptions } from './options.js';

const EMPTY = Buffer.alloc(0);

/**
 * Receives what the blender decided to send: `length` bytes of `chunk` from `offset`, all from one stream,
 * with `fin` on its last slice. Valid only during the call (the chunk is not copied).
 */
export type EmitFn<T> = (context: T, chunk: Buffer, offset: number, length: number, fin: boolean) => void;

/**
 * Streams that can be held back together: the streams of one tunnel connection, paused while that
 * connection cannot take more (its session window is spent). A blocked group's streams are not ready.
 */
export class BlendGroup<T> {
  blocked = false;
  readonly queues = new Set<BlendQueue<T>>();
}

/**
 * One stream's connection buffer (seed 001: one per client socket), with its priority fixed at open.
 * Bytes wait here until the blender picks them; `credit` is how many the peer lets us send (flow control).
 */
export class BlendQueue<T> {
  readonly context: T;
  readonly ring: number;
  readonly group: BlendGroup<T> | undefined;
  /** Bytes written and not yet emitted. */
  queuedBytes = 0;
  credit: number;
  /** Bytes the blender may take now: min(queued, credit). Cached so ring counters update by difference. */
  sendable = 0;
  finPending = false;
  detached = false;
  ready = false;
  /** The pass that last counted this stream in its ring's budget. */
  pass = -1;
  chunks: Buffer[] = [];
  head = 0;
  offset = 0;
  /** Neighbours in the ring's circular list of ready streams. */
  next: BlendQueue<T> | null = null;
  prev: BlendQueue<T> | null = null;

  constructor(context: T, ring: number, credit: number, group: BlendGroup<T> | undefined) {
    this.context = context;
    this.ring = ring;
    this.credit = credit;
    this.group = group;
  }
}

/** Per-ring counters of seed 001 plus the running pass budget. */
export interface RingState {
  /** Buffers held by the ring. */
  nSockets: number;
  /** Buffers with data (or a pending end) they may send. */
  nReady: number;
  /** Total bytes the ring's ready buffers may send. */
  nBytes: number;
  /** Bytes sent from this ring since it was created (for metrics). */
  bytesSent: number;
}

interface Ring<T> extends RingState {
  weight: number;
  /** Remaining budget of the current pass, bytes (nSendNorm minus what was sent). */
  budget: number;
  /** Round-robin cursor into the circular list of ready queues. */
  cursor: BlendQueue<T> | null;
}

/**
 * Seed 001's blender. Each stream's bytes wait in a BlendQueue on the ring of its priority. A pass reads
 * nReady and nBytes per ring, normalizes on the ring with the most ready streams
 * (S = nBytes / (Weight × nReady)) and gives every ring nSendNorm = nReady × S × Weight bytes. Sub-packets
 * (≤ subPacketSize) are then taken sweeping the top ring, then the top two, the top three … so higher rings
 * are visited more often, round-robin inside a ring; they are gathered into packets of ≈ packetSize.
 *
 * The blender never touches a socket: the writer asks for the next packet only when the socket has room,
 * so the choice of what to send is made as late as possible.
 */
export class Blender<T> {
  options: Readonly<BlenderOptions>;
  private readonly rings: Ring<T>[];
  /** Ready streams whose ring still has budget this pass; 0 means the pass is over. */
  private activeRings = 0;
  /** Normalization factor S of the current pass; 0 when no pass runs. */
  private scale = 0;
  /** Position in the cumulative sweep: round r visits rings 0..r-1. */
  private sweepRound = 1;
  private sweepIndex = 0;
  private readyTotal = 0;
  /** Number of the current pass, so a stream is given budget at most once per pass. */
  private pass = 0;
  /** Scratch (chunk, offset, length) triples of a sub-packet that spans chunks, reused across calls. */
  private readonly pieces: Array<Buffer | number> = [];

  constructor(options: Partial<BlenderOptions> = {}) {
    this.options = { ...defaultBlenderOptions, ...options };
    verifyBlenderOptions(this.options);
    this.rings = this.options.weights.map((weight) => ({
      weight, nSockets: 0, nReady: 0, nBytes: 0, bytesSent: 0, budget: 0, cursor: null,
    }));
  }

  /**
   * Replaces the ring weights (same number of rings); takes effect at the next pass, so the current
   * pass keeps the proportions it started with.
   */
  setWeights(weights: readonly number[]): void {
    if (weights.length !== this.rings.length) throw new RangeError(`blender weights: expected ${this.rings.length} rings`);
    verifyBlenderOptions({ ...this.options, weights });
    this.options = { ...this.options, weights: [...weights] };
    weights.forEach((weight, ring) => (this.rings[ring].weight = weight));
  }

  /** Replaces the packet size (bytes, at least subPacketSize) from the next packet on; a pass may carry at least one packet. */
  setPacketSize(packetSize: number): void {
    const maxPassBytes = Math.max(this.options.maxPassBytes, packetSize);
    verifyBlenderOptions({ ...this.options, packetSize, maxPassBytes });
    this.options = { ...this.options, packetSize, maxPassBytes };
  }

  get packetSize(): number {
    return this.options.packetSize;
  }

  get ringCount(): number {
    return this.rings.length;
  }

  /** True when some stream has bytes (or an end) it may send. */
  get hasReady(): boolean {
    return this.readyTotal > 0;
  }

  /**
   * Adds a stream at `priority` (clamped to the rings there are), allowed to send `credit` bytes; in
   * `group`, when given, so that it can be held back with the group's other streams.
   */
  open(context: T, priority: number, credit: number, group?: BlendGroup<T>): BlendQueue<T> {
    const ring = Math.min(this.rings.length - 1, Math.max(0, Math.trunc(priority)));
    const queue = new BlendQueue(context, ring, credit, group);
    group?.queues.add(queue);
    this.rings[ring].nSockets++;
    return queue;
  }

  /** Holds back (or releases) every stream of `group`: held streams count as not ready in every ring. */
  setBlocked(group: BlendGroup<T>, blocked: boolean): void {
    if (group.blocked === blocked) return;
    group.blocked = blocked;
    for (const queue of group.queues) this.refresh(queue);
  }

  /** Queues bytes of `queue` for sending; the buffer is kept, not copied, so the caller must not reuse it. */
  write(queue: BlendQueue<T>, chunk: Buffer): void {
    if (queue.detached || queue.finPending) throw new Error('write after end');
    if (chunk.length === 0) return;
    queue.chunks.push(chunk);
    queue.queuedBytes += chunk.length;
    this.refresh(queue);
  }

  /** Marks the end of the stream's bytes: a last sub-packet carries `fin` once everything before is sent. */
  end(queue: BlendQueue<T>): void {
    if (queue.detached || queue.finPending) return;
    queue.finPending = true;
    this.refresh(queue);
  }

  /** The peer allowed `bytes` more (a window update). */
  addCredit(queue: BlendQueue<T>, bytes: number): void {
    if (queue.detached) return;
    queue.credit += bytes;
    this.refresh(queue);
  }

  /** Removes the stream and drops what it still had queued; returns the dropped byte count. */
  close(queue: BlendQueue<T>): number {
    if (queue.detached) return 0;
    const dropped = queue.queuedBytes;
    queue.chunks = [];
    queue.head = 0;
    queue.offset = 0;
    queue.queuedBytes = 0;
    queue.finPending = false;
    this.detach(queue);
    return dropped;
  }

  ringStats(): RingState[] {
    return this.rings.map(({ nSockets, nReady, nBytes, bytesSent }) => ({ nSockets, nReady, nBytes, bytesSent }));
  }

  /**
   * Gathers the next packet: sub-packets are emitted through `emit` until ≈ packetSize bytes, `maxBytes`
   * (the session's send window) or nothing else is ready. Returns the payload bytes emitted.
   */
  nextPacket(emit: EmitFn<T>, maxBytes: number = this.options.packetSize): number {
    // With one ready stream the sweep can only pick it, sub-packet after sub-packet: take the run in one
    // step (same bytes, same order, same budget), up to what the caller can take.
    const alone = this.readyTotal === 1;
    const limit = alone ? maxBytes : Math.min(this.options.packetSize, maxBytes);
    const slice = alone ? limit : this.options.subPacketSize;
    let filled = 0;
    while (this.readyTotal > 0) {
      const room = limit - filled;
      if (room <= 0) break;
      if (this.activeRings === 0) this.startPass();
      const ring = this.nextRing();
      if (ring === undefined) break;
      filled += this.takeSubPacket(ring, Math.min(room, slice), emit);
      if (alone && this.readyTotal !== 1) break;
    }
    return filled;
  }

  /** Starts a pass: nSendNorm per ring from the weights, normalized on the ring with the greatest nReady. */
  private startPass(): void {
    let fullest: Ring<T> | undefined;
    let weightedReady = 0;
    for (const ring of this.rings) {
      weightedReady += ring.nReady * ring.weight;
      if (ring.nReady > 0 && (!fullest || ring.nReady > fullest.nReady)) fullest = ring;
    }
    if (!fullest) return;
    let scale = fullest.nBytes / (fullest.weight * fullest.nReady);
    const passBytes = scale * weightedReady;
    if (passBytes > this.options.maxPassBytes) scale = this.options.maxPassBytes / weightedReady;
    else if (passBytes < this.options.packetSize) scale = this.options.packetSize / weightedReady;
    this.scale = scale;
    this.pass++;
    this.activeRings = 0;
    for (const ring of this.rings) {
      ring.budget = ring.nReady * scale * ring.weight;
      if (ring.nReady === 0) continue;
      this.activeRings++;
      let queue = ring.cursor as BlendQueue<T>;
      for (let i = 0; i < ring.nReady; i++, queue = queue.next as BlendQueue<T>) queue.pass = this.pass;
    }
    this.sweepRound = 1;
    this.sweepIndex = 0;
  }

  /** The cumulative sweep: ring 0; rings 0,1; rings 0,1,2; … skipping rings that cannot send. */
  private nextRing(): Ring<T> | undefined {
    const count = this.rings.length;
    // One full cycle of rounds visits every ring at least once; if none can send, the pass is over.
    for (let visits = (count * (count + 1)) / 2; visits > 0; visits--) {
      const ring = this.rings[this.sweepIndex];
      this.sweepIndex++;
      if (this.sweepIndex >= this.sweepRound) {
        this.sweepIndex = 0;
        this.sweepRound = this.sweepRound >= count ? 1 : this.sweepRound + 1;
      }
      if (ring.nReady > 0 && ring.budget > 0) return ring;
    }
    this.endPass();
    return undefined;
  }

  private takeSubPacket(ring: Ring<T>, room: number, emit: EmitFn<T>): number {
    const queue = ring.cursor as BlendQueue<T>;
    // Rotate after every sub-packet so the next one comes from a different buffer.
    ring.cursor = queue.next;
    const size = Math.min(room, queue.sendable, Math.ceil(ring.budget));
    // Settle all state before calling out: `emit` may write to this very queue.
    const first = queue.chunks[queue.head];
    const firstOffset = queue.offset;
    const firstAvailable = first === undefined ? 0 : first.length - firstOffset;
    let slices = 0;
    if (size > 0 && size <= firstAvailable) {
      // Common case: the sub-packet lies inside one chunk.
      slices = 1;
      queue.offset += size;
      if (queue.offset === first.length) this.dropHead(queue);
    } else if (size > 0) {
      let left = size;
      const pieces = this.pieces;
      while (left > 0) {
        const chunk = queue.chunks[queue.head];
        const take = Math.min(chunk.length - queue.offset, left);
        pieces.push(chunk, queue.offset, take);
        left -= take;
        queue.offset += take;
        if (queue.offset === chunk.length) this.dropHead(queue);
      }
      slices = pieces.length / 3;
    }
    if (queue.head > 32 && queue.head * 2 > queue.chunks.length) {
      queue.chunks = queue.chunks.slice(queue.head);
      queue.head = 0;
    }
    queue.queuedBytes -= size;
    queue.credit -= size;
    ring.bytesSent += size;
    const fin = queue.finPending && queue.queuedBytes === 0;
    if (fin) this.detach(queue);
    else this.refresh(queue);
    this.spend(ring, size);
    const context = queue.context;
    if (slices === 0) {
      emit(context, EMPTY, 0, 0, true);
    } else if (slices === 1 && this.pieces.length === 0) {
      emit(context, first, firstOffset, size, fin);
    } else {
      const pieces = this.pieces;
      for (let i = 0; i < pieces.length; i += 3) {
        emit(context, pieces[i] as Buffer, pieces[i + 1] as number, pieces[i + 2] as number, fin && i === pieces.length - 3);
      }
      pieces.length = 0;
    }
    return size;
  }

  private dropHead(queue: BlendQueue<T>): void {
    queue.chunks[queue.head] = EMPTY;
    queue.head++;
    queue.offset = 0;
  }

  private spend(ring: Ring<T>, bytes: number): void {
    const before = ring.budget;
    ring.budget -= bytes;
    if (before > 0 && ring.budget <= 0 && ring.nReady > 0) this.deactivate();
  }

  private deactivate(): void {
    if (--this.activeRings === 0) this.endPass();
  }

  /** No ring can spend what it has left: forget the leftovers, the next packet starts a fresh pass. */
  private endPass(): void {
    this.activeRings = 0;
    this.scale = 0;
    for (const ring of this.rings) ring.budget = 0;
  }

  /** Recomputes a queue's sendable bytes and readiness and keeps its ring's counters exact. */
  private refresh(queue: BlendQueue<T>): void {
    const ring = this.rings[queue.ring];
    const held = queue.group?.blocked === true;
    const sendable = held ? 0 : Math.max(0, Math.min(queue.queuedBytes, queue.credit));
    ring.nBytes += sendable - queue.sendable;
    queue.sendable = sendable;
    const ready = !held && (sendable > 0 || (queue.finPending && queue.queuedBytes === 0));
    if (ready === queue.ready) return;
    queue.ready = ready;
    if (ready) this.link(ring, queue);
    else this.unlink(ring, queue);
  }

  private link(ring: Ring<T>, queue: BlendQueue<T>): void {
    const cursor = ring.cursor;
    if (cursor) {
      // Join at the tail: just before the cursor, so it waits one full rotation.
      const tail = cursor.prev as BlendQueue<T>;
      tail.next = queue;
      queue.prev = tail;
      queue.next = cursor;
      cursor.prev = queue;
    } else {
      queue.next = queue;
      queue.prev = queue;
      ring.cursor = queue;
    }
    const wasActive = ring.nReady > 0 && ring.budget > 0;
    ring.nReady++;
    this.readyTotal++;
    if (this.scale > 0 && queue.pass !== this.pass) {
      // A stream not counted when this pass began earns its ring the share of one more ready stream;
      // one that merely ran dry and refilled does not, or refills would inflate its ring's share.
      queue.pass = this.pass;
      ring.budget += this.scale * ring.weight;
    }
    if (!wasActive && ring.nReady > 0 && ring.budget > 0) this.activeRings++;
  }

  private unlink(ring: Ring<T>, queue: BlendQueue<T>): void {
    if (queue.next === queue) {
      ring.cursor = null;
    } else {
      (queue.prev as BlendQueue<T>).next = queue.next;
      (queue.next as BlendQueue<T>).prev = queue.prev;
      if (ring.cursor === queue) ring.cursor = queue.next;
    }
    queue.next = null;
    queue.prev = null;
    ring.nReady--;
    this.readyTotal--;
    if (ring.nReady === 0 && ring.budget > 0) this.deactivate();
  }

  private detach(queue: BlendQueue<T>): void {
    const ring = this.rings[queue.ring];
    if (queue.ready) {
      queue.ready = false;
      this.unlink(ring, queue);
    }
    ring.nBytes -= queue.sendable;
    queue.sendable = 0;
    queue.detached = true;
    queue.finPending = false;
    queue.group?.queues.delete(queue);
    ring.nSockets--;
  }
}
