import test from 'ava';
import { Cancellation } from '@overlay/common';

test('abort runs each listener once, in order, and records the reason', (t) => {
  const cancellation = new Cancellation();
  const heard: string[] = [];
  cancellation.addEventListener('abort', () => heard.push('first'));
  cancellation.addEventListener('abort', () => heard.push('second'));
  const reason = new Error('front-end went away');
  cancellation.abort(reason);
  cancellation.abort(new Error('again'));
  t.deepEqual(heard, ['first', 'second']);
  t.true(cancellation.aborted);
  t.is(cancellation.reason, reason);
});

test('a removed listener is not called; removing an unknown one is harmless', (t) => {
  const cancellation = new Cancellation();
  let calls = 0;
  const listener = () => calls++;
  cancellation.addEventListener('abort', listener);
  cancellation.removeEventListener('abort', listener);
  cancellation.removeEventListener('abort', () => {});
  cancellation.abort('gone');
  t.is(calls, 0);
});

test('signal is a real AbortSignal that follows the cancellation, made before or after the abort', (t) => {
  const early = new Cancellation();
  const signal = early.signal;
  t.false(signal.aborted);
  early.abort('early reason');
  t.true(signal.aborted);
  t.is(signal.reason, 'early reason');
  t.is(early.signal, signal);

  const late = new Cancellation();
  late.abort('late reason');
  t.true(late.signal.aborted);
  t.is(late.signal.reason, 'late reason');
});

test('a listener added after the abort is not called (callers check aborted first)', (t) => {
  const cancellation = new Cancellation();
  cancellation.abort('done');
  let calls = 0;
  cancellation.addEventListener('abort', () => calls++);
  t.is(calls, 0);
});
