import type { TimerHandle, Timers } from '@overlay/admission';

interface Entry {
  at: number;
  seq: number;
  callback: () => void;
}

/** A clock that only moves when told to; timers fire in time order (then creation order). */
export class FakeTimers implements Timers {
  private time = 0;
  private seq = 0;
  private entries: Entry[] = [];

  now = (): number => this.time;

  setTimeout = (callback: () => void, ms: number): TimerHandle => {
    const entry = { at: this.time + Math.max(0, ms), seq: this.seq++, callback };
    this.entries.push(entry);
    return entry;
  };

  clearTimeout = (handle: TimerHandle): void => {
    this.entries = this.entries.filter((entry) => entry !== handle);
  };

  get pending(): number {
    return this.entries.length;
  }

  advance(ms: number): void {
    const until = this.time + ms;
    for (;;) {
      const due = this.entries.filter((entry) => entry.at <= until).sort((a, b) => a.at - b.at || a.seq - b.seq)[0];
      if (!due) break;
      this.entries = this.entries.filter((entry) => entry !== due);
      this.time = due.at;
      due.callback();
    }
    this.time = until;
  }
}

/** Lets promise continuations run. */
export function flush(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Deterministic uniform [0, 1) (mulberry32), so simulations replay exactly. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
