import test from 'ava';
import fc from 'fast-check';
import { deflateRawSync } from 'node:zlib';
import { DEMO_CHUNK_BYTES, demoBytes } from '@overlay/demo-origin';

const collect = (n: number, offset?: number): Buffer => Buffer.concat([...demoBytes(n, offset)]);

test('demoBytes: any window equals the same slice of a longer run', (t) => {
  const whole = collect(3 * DEMO_CHUNK_BYTES + 17);
  fc.assert(
    fc.property(fc.nat(whole.length), fc.nat(whole.length), (a, b) => {
      const [offset, end] = a <= b ? [a, b] : [b, a];
      return collect(end - offset, offset).equals(whole.subarray(offset, end));
    }),
    { numRuns: 300 },
  );
  t.pass();
});

test('demoBytes: chunks are at most DEMO_CHUNK_BYTES and add up to n', (t) => {
  const sizes = [...demoBytes(2 * DEMO_CHUNK_BYTES + 5, 3)].map((chunk) => chunk.length);
  t.deepEqual(sizes, [DEMO_CHUNK_BYTES, DEMO_CHUNK_BYTES, 5]);
  t.deepEqual([...demoBytes(0)], []);
});

test('demoBytes: looks random (every byte value, incompressible)', (t) => {
  const sample = collect(1 << 20);
  t.is(new Set(sample).size, 256);
  t.true(deflateRawSync(sample).length > sample.length * 0.99);
});

test('demoBytes: refuses windows outside the stream', (t) => {
  t.throws(() => collect(-1), { instanceOf: RangeError });
  t.throws(() => collect(1, 2 ** 34), { instanceOf: RangeError });
  t.throws(() => collect(1.5), { instanceOf: RangeError });
});
