import { Backoff, monotonicNow, type Clock } from '@overlay/common';
import type { OriginHealthView } from './origin-balancer.js';
import { defaultHealthOptions, verifyHealthOptions, type HealthOptions } from './options.js';

export type HealthState = 'up' | 'down';

/** Why an origin changed state; stable strings for logs and metric labels. */
export type HealthReason = 'probe-failures' | 'probe-recovered' | 'request-failures' | 'no-response';

export interface HealthChange {
  id: string;
  state: HealthState;
  previous: HealthState;
  reason: HealthReason;
  /** Clock time of the change, ms. */
  at: number;
  /** The last failure's description when the caller gave one. */
  detail?: string;
}

/**
 * How a request sent to an origin ended. `error`: the origin failed it (connect refused, reset, 5xx as the
 * gateway chooses); `timeout`: the origin did not answer within the gateway's response timeout (never a
 * queue timeout, which is not the origin's fault); `cancelled`: the client went away, no verdict.
 */
export type RequestOutcome = 'ok' | 'error' | 'timeout' | 'cancelled';

export interface HealthStatus {
  state: HealthState;
  /** When the current state began, ms (clock time). */
  since: number;
  reason: HealthReason | 'initial';
  weightFactor: number;
  outstanding: number;
  probeSuccesses: number;
  probeFailures: number;
  requestFailures: number;
}

export interface HealthTrackerInit {
  origins?: Iterable<string>;
  clock?: Clock;
  options?: Partial<HealthOptions>;
}

interface Entry {
  state: HealthState;
  since: number;
  reason: HealthReason | 'initial';
  /** Consecutive probe results of each kind; one resets the other. */
  probeSuccesses: number;
  probeFailures: number;
  /** Consecutive failed requests since the last good one. */
  requestFailures: number;
  outstanding: number;
  /** Last time the origin answered anything, or when it became busy; the silence check counts from here. */
  lastHeardAt: number;
  /** When it last came back up: start of the slow-start ramp. */
  recoveredAt: number | undefined;
  /** A passive ejection keeps the origin down at least until then, whatever the probes say. */
  holdUntil: number;
  /** Hold lengths for repeated passive ejections: doubling, reset after a long enough healthy spell. */
  holds: Backoff;
}

/**
 * Per-origin health from two sources (seed 003): active probe results with rise/fall counts, and passive
 * observation of real requests (consecutive failures, or silence while requests are outstanding). Only
 * probes bring a down origin back. A recovered origin's weight ramps up linearly (slow start). Every
 * state change is reported to the listeners with its reason.
 */
export class HealthTracker implements OriginHealthView {
  readonly options: Readonly<HealthOptions>;
  private readonly clock: Clock;
  private readonly entries = new Map<string, Entry>();
  private readonly listeners = new Set<(change: HealthChange) => void>();

  constructor(init: HealthTrackerInit = {}) {
    this.options = Object.freeze({ ...defaultHealthOptions, ...init.options });
    verifyHealthOptions(this.options);
    this.clock = init.clock ?? monotonicNow;
    this.setOrigins(init.origins ?? []);
  }

  /** Tracks exactly these origins: new ones start up, removed ones are forgotten. Reports for others are ignored. */
  setOrigins(ids: Iterable<string>): void {
    const wanted = new Set(ids);
    for (const id of this.entries.keys()) if (!wanted.has(id)) this.entries.delete(id);
    const now = this.clock();
    for (const id of wanted) if (!this.entries.has(id)) this.entries.set(id, this.newEntry(now));
  }

  /** Calls `listener` on every state change; returns the unsubscribe function. */
  onChange(listener: (change: HealthChange) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  probeResult(id: string, ok: boolean, detail?: string): void {
    const entry = this.entries.get(id);
    if (!entry) return;
    if (ok) {
      entry.probeSuccesses++;
      entry.probeFailures = 0;
      this.maybeRecover(id, entry);
      return;
    }
    entry.probeFailures++;
    entry.probeSuccesses = 0;
    if (entry.state === 'up' && entry.probeFailures >= this.options.fall) this.markDown(id, entry, 'probe-failures', detail);
  }

  requestStarted(id: string): void {
    const entry = this.entries.get(id);
    if (!entry) return;
    if (entry.outstanding === 0) entry.lastHeardAt = this.clock();
    entry.outstanding++;
  }

  requestEnded(id: string, outcome: RequestOutcome, detail?: string): void {
    const entry = this.entries.get(id);
    if (!entry) return;
    if (entry.outstanding > 0) entry.outstanding--;
    if (outcome === 'ok' || outcome === 'error') entry.lastHeardAt = this.clock();
    // A down origin's stragglers neither condemn nor absolve it: only probes bring it back.
    if (entry.state === 'down' || outcome === 'cancelled') return;
    if (outcome === 'ok') {
      entry.requestFailures = 0;
      return;
    }
    entry.requestFailures++;
    if (entry.requestFailures >= this.options.passiveFailures) this.markDown(id, entry, 'request-failures', detail);
  }

  /**
   * Time-driven checks: an up origin silent for `silenceMs` with requests outstanding goes down; a down
   * origin whose probes already reached `rise` comes back once its hold ends. Call about once a second.
   */
  tick(): void {
    const now = this.clock();
    for (const [id, entry] of this.entries) {
      if (entry.state === 'down') this.maybeRecover(id, entry);
      else if (entry.outstanding > 0 && now - entry.lastHeardAt >= this.options.silenceMs) {
        this.markDown(id, entry, 'no-response', `${entry.outstanding} requests unanswered for ${now - entry.lastHeardAt} ms`);
      }
    }
  }

  isAvailable(id: string): boolean {
    return this.entries.get(id)?.state !== 'down';
  }

  /** 1 when fully up; during slow start it rises linearly from `slowStartFraction` to 1. Unknown ids: 1. */
  weightFactor(id: string): number {
    const entry = this.entries.get(id);
    if (!entry || entry.state === 'down' || entry.recoveredAt === undefined) return 1;
    const { slowStartMs, slowStartFraction } = this.options;
    const elapsed = this.clock() - entry.recoveredAt;
    if (elapsed >= slowStartMs) return 1;
    return slowStartFraction + (1 - slowStartFraction) * (elapsed / slowStartMs);
  }

  status(id: string): HealthStatus | undefined {
    const entry = this.entries.get(id);
    if (!entry) return undefined;
    const { state, since, reason, outstanding, probeSuccesses, probeFailures, requestFailures } = entry;
    return { state, since, reason, weightFactor: this.weightFactor(id), outstanding, probeSuccesses, probeFailures, requestFailures };
  }

  ids(): IterableIterator<string> {
    return this.entries.keys();
  }

  private newEntry(now: number): Entry {
    const { passiveHoldMs, passiveHoldMaxMs } = this.options;
    return {
      state: 'up',
      since: now,
      reason: 'initial',
      probeSuccesses: 0,
      probeFailures: 0,
      requestFailures: 0,
      outstanding: 0,
      lastHeardAt: now,
      recoveredAt: undefined,
      holdUntil: now,
      holds: new Backoff({ initialMs: passiveHoldMs, maxMs: passiveHoldMaxMs, factor: 2, jitter: 0 }),
    };
  }

  private maybeRecover(id: string, entry: Entry): void {
    if (entry.state !== 'down' || entry.probeSuccesses < this.options.rise) return;
    const now = this.clock();
    if (now < entry.holdUntil) return;
    entry.recoveredAt = this.options.slowStartMs > 0 ? now : undefined;
    entry.lastHeardAt = now;
    this.transition(id, entry, 'up', 'probe-recovered', now);
  }

  private markDown(id: string, entry: Entry, reason: HealthReason, detail?: string): void {
    const now = this.clock();
    if (reason === 'probe-failures') {
      entry.holdUntil = now;
    } else {
      // An origin that stayed up through a whole maximum hold has earned a fresh start.
      if (now - entry.since >= this.options.passiveHoldMaxMs) entry.holds.reset();
      entry.holdUntil = now + entry.holds.next();
    }
    entry.recoveredAt = undefined;
    this.transition(id, entry, 'down', reason, now, detail);
  }

  private transition(id: string, entry: Entry, state: HealthState, reason: HealthReason, now: number, detail?: string): void {
    const previous = entry.state;
    entry.state = state;
    entry.since = now;
    entry.reason = reason;
    entry.probeSuccesses = 0;
    entry.probeFailures = 0;
    entry.requestFailures = 0;
    const change: HealthChange = { id, state, previous, reason, at: now };
    if (detail !== undefined) change.detail = detail;
    for (const listener of this.listeners) listener(change);
  }
}
