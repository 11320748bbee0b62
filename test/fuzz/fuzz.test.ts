/** A small sample of every fuzz target (test/fuzz/targets.ts) in the normal suite; `pnpm fuzz` runs 100k each. */
import test from 'ava';
import { targets } from './targets.js';

const SAMPLE = 1_000;

for (const target of targets) {
  test(`fuzz sample: ${target.name} (${SAMPLE} inputs)`, async (t) => {
    t.timeout(110_000);
    await target.run(SAMPLE);
    t.pass();
  });
}
