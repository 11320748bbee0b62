import test from 'ava';
import { bandwidthDelayBytes, defaultLabOptions, resolveLabOptions } from '@overlay/lab';

test('defaults: 40 ms, no jitter, no cap, the six hosts, a 64 KiB queue', (t) => {
  const options = resolveLabOptions();
  t.like(options, { delayMs: 40, jitterMs: 0, rateMbit: 0, queueBytes: 64 * 1024 });
  t.deepEqual(options.near, [...defaultLabOptions.near]);
  t.deepEqual(options.far, ['back-end', 'origin-1', 'origin-2']);
});

test('the default queue is one bandwidth-delay product once that passes 64 KiB', (t) => {
  t.is(bandwidthDelayBytes(100, 40), 1_000_000); // 12.5 MB/s × 80 ms
  t.is(resolveLabOptions({ rateMbit: 100, delayMs: 40 }).queueBytes, 1_000_000);
  t.is(resolveLabOptions({ rateMbit: 1, delayMs: 40 }).queueBytes, 64 * 1024);
  t.is(resolveLabOptions({ rateMbit: 100, queueBytes: 3000 }).queueBytes, 3000);
});

test('bad options fail naming the field', (t) => {
  const bad: Array<[object, RegExp]> = [
    [{ delayMs: -1 }, /delayMs/],
    [{ jitterMs: Number.NaN }, /jitterMs/],
    [{ rateMbit: Infinity }, /rateMbit/],
    [{ queueBytes: 100 }, /queueBytes/],
    [{ near: [] }, /near/],
    [{ far: ['Bad_Name'] }, /far/],
    [{ near: ['router'] }, /router/],
    [{ near: ['a'], far: ['a'] }, /named twice/],
  ];
  for (const [options, message] of bad) {
    const err = t.throws(() => resolveLabOptions(options), { message });
    t.is((err as { code?: string }).code, 'ERR_LAB_OPTIONS');
  }
});
