import { once } from 'node:events';
import { PassThrough, Writable } from 'node:stream';
import test from 'ava';
import { relayBytes } from '@overlay/stream-heads';

test('relayBytes carries every byte in order, counts them, and ends the sink when the source ends', async (t) => {
  const source = new PassThrough();
  const sink = new PassThrough();
  let counted = 0;
  relayBytes(source, sink, (bytes) => (counted += bytes));
  const received: Buffer[] = [];
  sink.on('data', (chunk: Buffer) => received.push(chunk));
  source.write('hello ');
  source.end('world');
  await once(sink, 'end');
  t.is(Buffer.concat(received).toString(), 'hello world');
  t.is(counted, 11);
});

test('relayBytes pauses the source while the sink is full and resumes it on drain', async (t) => {
  const source = new PassThrough();
  const held: Array<() => void> = [];
  const sink = new Writable({ highWaterMark: 4, write: (_chunk, _encoding, callback) => held.push(callback) });
  relayBytes(source, sink, () => {});
  source.write(Buffer.alloc(8));
  await new Promise((resolve) => setImmediate(resolve));
  t.true(source.isPaused(), 'a write over the sink high-water mark pauses the source');
  source.write(Buffer.alloc(8));
  await new Promise((resolve) => setImmediate(resolve));
  t.is(held.length, 1, 'nothing more reaches the sink while it is full');
  held.shift()?.();
  await new Promise((resolve) => setImmediate(resolve));
  t.is(held.length, 1, 'the drain resumed the source: the second chunk reached the sink');
  t.true(source.isPaused(), 'and, over the mark again, paused it once more');
});
