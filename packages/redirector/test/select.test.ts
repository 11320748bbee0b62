import test from 'ava';
import fc from 'fast-check';
import { selectFrontEnds, type FrontEndView } from '@overlay/redirector';

const fe = (id: string, pop: string, extra: Partial<FrontEndView> = {}): FrontEndView => ({ id, pop, healthy: true, load: 0, ...extra });
const base = { clientKey: '10.1.2.0/24', count: 1, overloadThreshold: 0.9 };
const ids = (chosen: FrontEndView[]): string[] => chosen.map((f) => f.id);

test('the first preferred POP that has a healthy front-end wins', (t) => {
  const assigned = [fe('a1', 'pop-a'), fe('b1', 'pop-b')];
  t.deepEqual(ids(selectFrontEnds({ ...base, assigned, popPreference: ['pop-b', 'pop-a'] }).chosen), ['b1']);
  t.deepEqual(ids(selectFrontEnds({ ...base, assigned, popPreference: ['pop-a', 'pop-b'] }).chosen), ['a1']);
  const down = [fe('a1', 'pop-a', { healthy: false }), fe('b1', 'pop-b')];
  const selection = selectFrontEnds({ ...base, assigned: down, popPreference: ['pop-a', 'pop-b'] });
  t.deepEqual(ids(selection.chosen), ['b1']);
  t.is(selection.basis, 'preferred-pop');
});

test('outside the preference list, any healthy front-end', (t) => {
  const selection = selectFrontEnds({ ...base, assigned: [fe('a1', 'pop-a', { healthy: false }), fe('c1', 'pop-c')], popPreference: ['pop-a'] });
  t.deepEqual(ids(selection.chosen), ['c1']);
  t.is(selection.basis, 'any-healthy');
});

test('front-ends at or above the load threshold are skipped while others exist', (t) => {
  const assigned = [fe('a1', 'pop-a', { load: 0.9 }), fe('b1', 'pop-b', { load: 0.3 })];
  t.deepEqual(ids(selectFrontEnds({ ...base, assigned, popPreference: ['pop-a', 'pop-b'] }).chosen), ['b1']);
  const allLoaded = [fe('a1', 'pop-a', { load: 0.95 }), fe('b1', 'pop-b', { load: 0.99 })];
  const selection = selectFrontEnds({ ...base, assigned: allLoaded, popPreference: ['pop-a', 'pop-b'] });
  t.deepEqual(ids(selection.chosen), ['a1'], 'all loaded: back to POP preference');
  t.is(selection.basis, 'overloaded');
});

test('no healthy front-end: every assigned one is answered, whatever the count', (t) => {
  const assigned = [fe('a1', 'pop-a', { healthy: false }), fe('b1', 'pop-b', { healthy: false }), fe('b2', 'pop-b', { healthy: false })];
  const selection = selectFrontEnds({ ...base, assigned, popPreference: ['pop-b'] });
  t.is(selection.basis, 'no-healthy');
  t.deepEqual(ids(selection.chosen).sort(), ['a1', 'b1', 'b2']);
  t.not(selection.chosen[0]?.pop, 'pop-a', 'still best first');
  t.deepEqual(selectFrontEnds({ ...base, assigned: [], popPreference: [] }), { chosen: [], basis: 'none-assigned' });
});

test('count > 1 fills from the preferred POP first, then the next', (t) => {
  const assigned = [fe('a1', 'pop-a'), fe('b1', 'pop-b'), fe('b2', 'pop-b'), fe('c1', 'pop-c')];
  const chosen = selectFrontEnds({ ...base, count: 3, assigned, popPreference: ['pop-b', 'pop-a'] }).chosen;
  t.deepEqual(ids(chosen.slice(0, 2)).sort(), ['b1', 'b2']);
  t.deepEqual(ids(chosen.slice(2)), ['a1']);
});

test('the same client network always gets the same front-end; networks spread over equal ones', (t) => {
  const assigned = ['a1', 'a2', 'a3', 'a4'].map((id) => fe(id, 'pop-a'));
  const pick = (clientKey: string): string => ids(selectFrontEnds({ ...base, clientKey, assigned, popPreference: ['pop-a'] }).chosen)[0] as string;
  t.is(pick('10.1.7.0/24'), pick('10.1.7.0/24'));
  const reversed = selectFrontEnds({ ...base, assigned: [...assigned].reverse(), popPreference: ['pop-a'] }).chosen;
  t.is(reversed[0]?.id, pick(base.clientKey), 'order of assignment does not matter');
  const counts = new Map<string, number>();
  for (let i = 0; i < 400; i++) {
    const chosen = pick(`10.${Math.floor(i / 256)}.${i % 256}.0/24`);
    counts.set(chosen, (counts.get(chosen) ?? 0) + 1);
  }
  t.is(counts.size, 4);
  for (const count of counts.values()) t.true(count > 60, `roughly even: ${[...counts.values()]}`);
});

test('rendezvous: removing a front-end moves only the clients it had', (t) => {
  fc.assert(
    fc.property(
      fc.uniqueArray(fc.string({ minLength: 1, maxLength: 6 }), { minLength: 2, maxLength: 8 }),
      fc.nat({ max: 7 }),
      fc.array(fc.ipV4(), { minLength: 1, maxLength: 30 }),
      (frontEndIds, removeAt, clients) => {
        const all = frontEndIds.map((id) => fe(id, 'pop-a'));
        const removed = all[removeAt % all.length] as FrontEndView;
        const rest = all.filter((f) => f !== removed);
        for (const clientKey of clients) {
          const before = selectFrontEnds({ ...base, clientKey, assigned: all, popPreference: [] }).chosen[0];
          const after = selectFrontEnds({ ...base, clientKey, assigned: rest, popPreference: [] }).chosen[0];
          if (before !== removed && before !== after) return false;
        }
        return true;
      },
    ),
  );
  t.pass();
});
