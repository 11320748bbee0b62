import type { TcpSiteOptions } from './options.js';

/** Runs `check` every `ms` until the returned function is called (injected so tests need no real clock). */
export type Every = (check: () => void, ms: number) => () => void;

const everyUnref: Every = (check, ms) => {
  const timer = setInterval(check, ms);
  timer.unref();
  return () => clearInterval(timer);
};

/**
 * The idle deadline of one raw connection: at the end of every window of `idleTimeoutMs` it must have
 * moved at least max(1, minBytesPerS × window) bytes, both directions together, or `onIdle` runs (once).
 * Checked per window instead of a timer reset per chunk, so a busy pipe pays one addition per chunk.
 * The caller feeds `count` with the bytes each relay moved and calls `stop` when the connection closes.
 */
export function watchIdle(options: TcpSiteOptions, onIdle: () => void, every: Every = everyUnref): { count(bytes: number): void; stop(): void } {
  const least = Math.max(1, Math.ceil((options.minBytesPerS * options.idleTimeoutMs) / 1000));
  let moved = 0;
  const stop = every(() => {
    if (moved < least) {
      stop();
      onIdle();
    }
    moved = 0;
  }, options.idleTimeoutMs);
  return { count: (bytes) => void (moved += bytes), stop };
}
