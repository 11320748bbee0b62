import { monotonicNow, type Clock } from '@overlay/common';

export type TimerHandle = unknown;

/** Time as the admission logic sees it: injected so tests run on a fake clock. */
export interface Timers {
  now: Clock;
  setTimeout(callback: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
}

/** The process clock; timers are unref'd so a waiting request alone does not keep a process alive. */
export const systemTimers: Timers = {
  now: monotonicNow,
  setTimeout: (callback, ms) => setTimeout(callback, ms).unref(),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};
