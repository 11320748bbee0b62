/**
 * Who may hold a DNS-over-TCP connection (RFC 7766 §6.2.3, issue 17 point 5). Pure: the listener tells
 * it what happens and when, and closes what it names. A new connection is always admitted: when the
 * table or the source's share is full, the idlest connection (the one whose last whole message is
 * oldest; bytes trickling toward an unfinished message do not count) is closed for it. The idle timeout
 * shrinks as the table fills, and a message must arrive whole within `messageTimeoutMs` of its first
 * byte however its bytes are spread, so neither idle nor trickling connections can hold slots.
 */
import type { TcpOptions } from './config.js';

interface Slot {
  source: string;
  /** When the last whole message arrived (or the connection opened), ms. */
  lastActivity: number;
  /** When the first byte of the message now arriving came, ms; undefined between messages. */
  messageStartedAt: number | undefined;
}

export type TcpSlotPolicy = Pick<TcpOptions, 'idleTimeoutMs' | 'minIdleTimeoutMs' | 'messageTimeoutMs' | 'maxConnections' | 'maxConnectionsPerSource'>;

export class TcpSlots<C> {
  private readonly slots = new Map<C, Slot>();
  private readonly perSource = new Map<string, number>();

  constructor(private readonly policy: TcpSlotPolicy) {}

  get size(): number {
    return this.slots.size;
  }

  /** The idle timeout now, ms: `idleTimeoutMs` when empty, falling linearly to `minIdleTimeoutMs` when full. */
  idleTimeout(): number {
    const { idleTimeoutMs, minIdleTimeoutMs, maxConnections } = this.policy;
    const floor = Math.min(minIdleTimeoutMs, idleTimeoutMs);
    const free = Math.max(0, 1 - this.slots.size / maxConnections);
    return Math.round(floor + (idleTimeoutMs - floor) * free);
  }

  /** Takes a slot for `connection`; returns the connections to close to make room (already released). */
  admit(connection: C, source: string, now: number): C[] {
    const evicted: C[] = [];
    if ((this.perSource.get(source) ?? 0) >= this.policy.maxConnectionsPerSource) {
      const idlest = this.idlest(now, source);
      if (idlest !== undefined) evicted.push(idlest);
    }
    while (this.slots.size - evicted.length >= this.policy.maxConnections) {
      const idlest = this.idlest(now, undefined, evicted);
      if (idlest === undefined) break;
      evicted.push(idlest);
    }
    for (const connection of evicted) this.release(connection);
    this.slots.set(connection, { source, lastActivity: now, messageStartedAt: undefined });
    this.perSource.set(source, (this.perSource.get(source) ?? 0) + 1);
    return evicted;
  }

  /** Bytes arrived; `inProgress` says whether a message is now partly read, `completed` whether any finished. */
  received(connection: C, now: number, completed: boolean, inProgress: boolean): void {
    const slot = this.slots.get(connection);
    if (!slot) return;
    if (completed) {
      slot.lastActivity = now;
      slot.messageStartedAt = inProgress ? now : undefined;
    } else if (inProgress && slot.messageStartedAt === undefined) {
      slot.messageStartedAt = now;
    }
  }

  release(connection: C): void {
    const slot = this.slots.get(connection);
    if (!slot) return;
    this.slots.delete(connection);
    const count = (this.perSource.get(slot.source) ?? 1) - 1;
    if (count > 0) this.perSource.set(slot.source, count);
    else this.perSource.delete(slot.source);
  }

  /** Connections past their idle or whole-message deadline, released: the caller closes them. */
  expired(now: number): C[] {
    const idle = this.idleTimeout();
    const { messageTimeoutMs } = this.policy;
    const due: C[] = [];
    for (const [connection, slot] of this.slots) {
      const late = slot.messageStartedAt === undefined ? now - slot.lastActivity >= idle : now - slot.messageStartedAt >= messageTimeoutMs;
      if (late) due.push(connection);
    }
    for (const connection of due) this.release(connection);
    return due;
  }

  private idlest(now: number, source: string | undefined, skip: readonly C[] = []): C | undefined {
    let best: C | undefined;
    let bestSince = Infinity;
    for (const [connection, slot] of this.slots) {
      if (source !== undefined && slot.source !== source) continue;
      if (skip.includes(connection)) continue;
      // A message under way counts from its first byte, so a trickler is idler than a quiet reader.
      const since = Math.min(slot.lastActivity, slot.messageStartedAt ?? now);
      if (since < bestSince) {
        bestSince = since;
        best = connection;
      }
    }
    return best;
  }
}
