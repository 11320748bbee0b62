import { Duplex } from 'node:stream';
import type { BlendQueue } from '@overlay/blender';
import type { ReceiveWindow } from './flow.js';
import type { WriteLane } from './writer.js';

/** What a stream needs from its session; the session does the protocol work. */
export interface StreamHost {
  writeData(stream: TunnelStream, chunk: Buffer): void;
  endData(stream: TunnelStream): void;
  sendReply(stream: TunnelStream, meta: unknown): void;
  consumed(stream: TunnelStream): void;
  destroyed(stream: TunnelStream, error: Error | null): void;
}

type Callback = (error?: Error | null) => void;

/**
 * One multiplexed stream: a Duplex whose writes go to the session's blender and whose reads come from
 * the peer's DATA frames. Flow control is invisible to the user: writes wait (the callback is held) while
 * too much is queued, and reads hand credit back to the peer as they drain.
 */
export class TunnelStream extends Duplex {
  readonly id: number;
  readonly priority: number;
  /**
   * Metadata from the peer's OPEN frame (for HTTP streams, the request head). Undefined on streams this
   * end opened: the opener has its own copy, and a long-lived stream should not hold it. The accepting
   * application may clear it once read, for the same reason.
   */
  meta: unknown;
  /** The reply head, once received (see the 'reply' event). */
  reply: unknown = undefined;
  /** @internal */ queue!: BlendQueue<TunnelStream>;
  /** @internal The connection this stream's bytes leave on. */ lane!: WriteLane;
  /** @internal */ recv: ReceiveWindow;
  /** @internal Bytes handed to push() so far. */ pushed = 0;
  /** @internal Bytes whose consumption was already reported to flow control. */ reported = 0;
  /** @internal This stream's place in the assembly of the current socket read (-1: none). */ readSlot = -1;
  /** @internal Received bytes waiting for the reader to ask (held within the stream's window). */ inbox: Buffer[] = [];
  /** @internal The reader asked for data (_read) and push() has not said stop since. */ wantsData = false;
  /** @internal */ finReceived = false;
  /** @internal */ finSent = false;
  /** @internal */ removed = false;
  /** @internal A write waiting for the blender queue to drain. */ heldWrite: Callback | null = null;
  /** @internal _final waiting for the FIN to leave. */ heldFinal: Callback | null = null;
  /** @internal Frames left to skip compression for after one did not shrink. */ skipCompression = 0;
  private readonly host: StreamHost;

  constructor(host: StreamHost, id: number, priority: number, meta: unknown, recv: ReceiveWindow, highWaterMark: number) {
    super({ allowHalfOpen: true, readableHighWaterMark: highWaterMark, writableHighWaterMark: highWaterMark, decodeStrings: true });
    this.host = host;
    this.id = id;
    this.priority = priority;
    this.meta = meta;
    this.recv = recv;
  }

  /** Sends the reply head (for HTTP streams, the response head) ahead of any reply bytes. */
  respond(meta: unknown): void {
    this.host.sendReply(this, meta);
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: Callback): void {
    this.host.writeData(this, chunk);
    if (this.queue.queuedBytes >= this.writableHighWaterMark) this.heldWrite = callback;
    else callback();
  }

  override _writev(chunks: Array<{ chunk: Buffer }>, callback: Callback): void {
    for (const { chunk } of chunks) this.host.writeData(this, chunk);
    if (this.queue.queuedBytes >= this.writableHighWaterMark) this.heldWrite = callback;
    else callback();
  }

  override _final(callback: Callback): void {
    this.heldFinal = callback;
    this.host.endData(this);
  }

  override _read(): void {
    this.wantsData = true;
    this.deliver();
  }

  /**
   * Hands inbox bytes to the reader while it wants them. Bytes count as consumed once pushed: the
   * readable buffer they enter is bounded by its high-water mark, so the window bounds the rest.
   * @internal
   */
  deliver(): void {
    let moved = false;
    while (this.wantsData && this.inbox.length > 0) {
      const chunk = this.inbox.shift() as Buffer;
      this.pushed += chunk.length;
      moved = true;
      this.wantsData = this.push(chunk);
    }
    if (this.inbox.length === 0 && this.finReceived && !this.readableEnded) this.push(null);
    if (moved) this.host.consumed(this);
  }

  override _destroy(error: Error | null, callback: Callback): void {
    this.host.destroyed(this, error);
    const held = [this.heldWrite, this.heldFinal];
    this.heldWrite = null;
    this.heldFinal = null;
    for (const pending of held) pending?.(error);
    callback(error);
  }
}
