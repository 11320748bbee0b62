import test from 'ava';
import fc from 'fast-check';
import { applyStatePatch, diffStates, type ManagerState } from '@overlay/manager';

const entries = fc.dictionary(fc.constantFrom('a', 'b', 'c', 'd'), fc.jsonValue());
const state = fc.record({
  version: fc.nat(),
  role: fc.constantFrom('both', 'front-end', 'back-end'),
  sites: entries,
  rings: fc.record({ weights: fc.array(fc.nat(), { minLength: 5, maxLength: 5 }) }),
  frontEnds: entries,
  backEnds: entries,
}) as unknown as fc.Arbitrary<ManagerState>;

test('property: applying the diff of two states to the first gives the second, and leaves the first as it was', (t) => {
  fc.assert(
    fc.property(state, state, (before, after) => {
      const kept = JSON.stringify(before);
      const patched = applyStatePatch(before, diffStates(before, after));
      t.deepEqual(JSON.parse(JSON.stringify(patched)), JSON.parse(JSON.stringify(after)));
      t.is(JSON.stringify(before), kept);
    }),
    { numRuns: 300 },
  );
});

test('a report-sized change is one entry, not the section', (t) => {
  const before = { version: 7, role: 'both', sites: {}, rings: { weights: [5, 4, 3, 2, 1] }, frontEnds: { 'pop-a': { load: 0.1 }, 'pop-b': { load: 0.2 } }, backEnds: { 'be-1': { load: 0 } } } as unknown as ManagerState;
  const after = { ...before, version: 8, frontEnds: { ...before.frontEnds, 'pop-b': { load: 0.3 } } } as unknown as ManagerState;
  t.deepEqual(diffStates(before, after), { set: [[['version'], 8], [['frontEnds', 'pop-b'], { load: 0.3 }]], unset: [] });
  const { 'pop-a': _gone, ...rest } = after.frontEnds;
  t.deepEqual(diffStates(after, { ...after, frontEnds: rest }).unset, [['frontEnds', 'pop-a']]);
});
