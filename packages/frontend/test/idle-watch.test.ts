import test from 'ava';
import { watchIdle, type Every } from '@overlay/frontend';

/** A hand-driven clock for watchIdle: `tick()` ends one window. */
function manualWindows() {
  let check: (() => void) | undefined;
  let stopped = false;
  const every: Every = (fn) => {
    check = fn;
    return () => (stopped = true);
  };
  return { every, tick: () => check?.(), stopped: () => stopped };
}

test('a connection that moves nothing in a window is cut once, at the end of that window', (t) => {
  const windows = manualWindows();
  let cuts = 0;
  const idle = watchIdle({ idleTimeoutMs: 1_000, minBytesPerS: 0 }, () => cuts++, windows.every);
  idle.count(1);
  windows.tick();
  t.is(cuts, 0, 'one byte keeps it without a minimum rate');
  windows.tick();
  t.is(cuts, 1);
  t.true(windows.stopped());
});

test('with a minimum rate, a window must carry rate × window bytes, both directions counted together', (t) => {
  const windows = manualWindows();
  let cuts = 0;
  const idle = watchIdle({ idleTimeoutMs: 2_000, minBytesPerS: 50 }, () => cuts++, windows.every);
  idle.count(60);
  idle.count(40);
  windows.tick();
  t.is(cuts, 0, '100 bytes in 2 s is 50 B/s');
  idle.count(99);
  windows.tick();
  t.is(cuts, 1, 'each window starts from zero');
});

test('stop() ends the watch without a cut', (t) => {
  const windows = manualWindows();
  const idle = watchIdle({ idleTimeoutMs: 1_000, minBytesPerS: 0 }, () => t.fail(), windows.every);
  idle.stop();
  t.true(windows.stopped());
});
