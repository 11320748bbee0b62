/**
 * The receiving side of one flow-control window (a stream's, or the whole session's).
 *
 * The peer may send up to `advertised` bytes in total; as the application consumes bytes we advertise
 * more, once at least `threshold` of the window can be handed back (fewer, larger WINDOW frames). A
 * growable window doubles, up to a ceiling, when half a window was consumed in under two RTTs: the
 * reader keeps up, so the sender is waiting on us and a bigger window raises throughput (the
 * auto-tuning of QUIC and yamux implementations).
 */
export class ReceiveWindow {
  /** Current window size, bytes. */
  window: number;
  /** Total bytes the peer has been allowed to send since the start. */
  private advertised: number;
  /** Total bytes received. */
  received = 0;
  /** Total bytes the application consumed. */
  consumed = 0;
  private epochStart: number;
  private epochConsumed = 0;

  constructor(
    initial: number,
    private readonly maxWindow: number,
    private readonly thresholdFraction: number,
    now: number,
  ) {
    this.window = initial;
    this.advertised = initial;
    this.epochStart = now;
  }

  /** Records arriving bytes; false when the peer sent more than it was allowed. */
  receive(bytes: number): boolean {
    this.received += bytes;
    return this.received <= this.advertised;
  }

  /** Bytes received and not yet consumed: memory this window holds. */
  get buffered(): number {
    return this.received - this.consumed;
  }

  /**
   * Records consumed bytes; returns the increment to advertise now (0 for none).
   * `mayGrow(extra)` asks the session whether its memory budget allows a larger window.
   */
  consume(bytes: number, now: number, rttMs: number | undefined, mayGrow: (extra: number) => boolean): number {
    this.consumed += bytes;
    const pending = this.consumed + this.window - this.advertised;
    if (pending < this.window * this.thresholdFraction) return 0;
    if (rttMs !== undefined && this.window < this.maxWindow) {
      const elapsed = now - this.epochStart;
      const halfWindowConsumed = this.consumed - this.epochConsumed >= this.window / 2;
      // A 2 ms floor: on loopback the RTT is microseconds, and scheduling noise would look like congestion.
      if (halfWindowConsumed && elapsed < 2 * Math.max(rttMs, 2)) {
        const grown = Math.min(this.maxWindow, this.window * 2);
        if (mayGrow(grown - this.window)) this.window = grown;
      }
    }
    this.epochStart = now;
    this.epochConsumed = this.consumed;
    const increment = this.consumed + this.window - this.advertised;
    this.advertised += increment;
    return increment;
  }

  /** Gives back the credit of bytes dropped unread (the stream went away), so the session window does not shrink. */
  discardBuffered(): number {
    const dropped = this.buffered;
    this.consumed = this.received;
    return dropped;
  }
}

/** The sending side of the session window: how much the peer lets us send across all streams. */
export class SendCredit {
  constructor(public available: number) {}

  /** False when an update would overflow the protocol's 2^31 - 1 ceiling. */
  add(increment: number): boolean {
    if (this.available + increment > 0x7fff_ffff) return false;
    this.available += increment;
    return true;
  }
}
