import { copyFile, readFile, writeFile, appendFile } from 'node:fs/promises';
import { join } from 'node:path';
import test from 'ava';
import fc from 'fast-check';
import { errorCode } from '@overlay/common';
import { applyChange, emptyDurableState, FileStore, siteBodySchema, type Change, type DurableState } from '@overlay/manager';
import { siteBody, tempDir } from './helpers/manager.js';

const body = (domain: string, frontEnds: string[] = []) => siteBodySchema.parse(siteBody({ domains: [domain], frontEnds }));

function plain(state: DurableState) {
  return JSON.parse(
    JSON.stringify({
      sites: Object.fromEntries(state.sites),
      rings: state.rings,
      frontEnds: Object.fromEntries(state.gateways.frontEnds),
      backEnds: Object.fromEntries(state.gateways.backEnds),
      versionCeiling: state.versionCeiling,
    }),
  );
}

async function reopen(dir: string): Promise<{ store: FileStore; state: DurableState }> {
  const store = new FileStore(dir);
  return { store, state: await store.load() };
}

test('appended changes are there after reopening, in order', async (t) => {
  const dir = await tempDir('store-');
  const { store, state } = await reopen(dir);
  t.is(state.sites.size, 0);
  const changes: Change[] = [
    { op: 'putSite', site: 'a', body: body('a.test') },
    { op: 'putSite', site: 'b', body: body('b.test') },
    { op: 'putPriorities', site: 'a', priorities: { default: 1, rules: [] } },
    { op: 'deleteSite', site: 'b' },
    { op: 'putRings', weights: [5, 4, 3, 2, 1] },
    { op: 'putGateway', kind: 'frontEnds', id: 'fe', record: { pop: 'p', addresses: { http: '127.0.0.1:1' } } },
    { op: 'setAuto', site: 'a', kind: 'backEnds', ids: ['be-9'] },
    { op: 'leaseVersions', ceiling: 77 },
  ];
  for (const change of changes) {
    await store.append(change);
    applyChange(state, change);
  }
  await store.close();
  const again = await reopen(dir);
  t.deepEqual(plain(again.state), plain(state));
  t.deepEqual([...again.state.sites.keys()], ['a']);
  t.is(again.state.sites.get('a')?.priorities?.default, 1);
  t.is(again.state.versionCeiling, 77);
  await again.store.close();
});

test('compaction folds the log into the snapshot; later appends still replay', async (t) => {
  const dir = await tempDir('store-');
  const { store, state } = await reopen(dir);
  for (const change of [
    { op: 'putSite', site: 'a', body: body('a.test') },
    { op: 'putSite', site: 'b', body: body('b.test') },
  ] satisfies Change[]) {
    await store.append(change);
    applyChange(state, change);
  }
  await store.compact(state);
  t.is(await readFile(join(dir, 'changes.log'), 'utf8'), '');
  const snapshot = JSON.parse(await readFile(join(dir, 'snapshot.json'), 'utf8'));
  t.is(snapshot.seq, 2);
  t.deepEqual(Object.keys(snapshot.state.sites), ['a', 'b']);
  const later: Change = { op: 'deleteSite', site: 'a' };
  await store.append(later);
  applyChange(state, later);
  await store.close();
  const again = await reopen(dir);
  t.deepEqual([...again.state.sites.keys()], ['b']);
  await again.store.close();
});

test('a crash after the snapshot but before the log was emptied replays nothing twice', async (t) => {
  const dir = await tempDir('store-');
  const { store, state } = await reopen(dir);
  for (const change of [
    { op: 'putSite', site: 'a', body: body('a.test') },
    { op: 'setAuto', site: 'a', kind: 'frontEnds', ids: ['x'] },
  ] satisfies Change[]) {
    await store.append(change);
    applyChange(state, change);
  }
  await copyFile(join(dir, 'changes.log'), join(dir, 'saved.log'));
  await store.compact(state);
  await store.close();
  await copyFile(join(dir, 'saved.log'), join(dir, 'changes.log'));
  const again = await reopen(dir);
  t.deepEqual(plain(again.state), plain(state));
  await again.store.append({ op: 'deleteSite', site: 'a' });
  await again.store.close();
  const third = await reopen(dir);
  t.is(third.state.sites.size, 0, 'appends after such a start continue the sequence');
  await third.store.close();
});

test('a torn last line (an unacknowledged write) is dropped and cut off, so later appends stay readable', async (t) => {
  const dir = await tempDir('store-');
  const { store } = await reopen(dir);
  await store.append({ op: 'putSite', site: 'a', body: body('a.test') });
  await store.close();
  await appendFile(join(dir, 'changes.log'), '{"seq":2,"change":{"op":"putSite","site":"b","bo');
  const { store: second, state } = await reopen(dir);
  t.deepEqual([...state.sites.keys()], ['a']);
  await second.append({ op: 'putSite', site: 'c', body: body('c.test') });
  await second.close();
  const third = await reopen(dir);
  t.deepEqual([...third.state.sites.keys()], ['a', 'c']);
  await third.store.close();
});

test('damage in the middle of the log or in the snapshot refuses to start', async (t) => {
  const dir = await tempDir('store-');
  const { store } = await reopen(dir);
  await store.append({ op: 'putSite', site: 'a', body: body('a.test') });
  await store.append({ op: 'putSite', site: 'b', body: body('b.test') });
  await store.close();
  const lines = (await readFile(join(dir, 'changes.log'), 'utf8')).split('\n');
  await writeFile(join(dir, 'changes.log'), [lines[0]?.slice(0, 10), lines[1], ''].join('\n'));
  const error = await t.throwsAsync(() => new FileStore(dir).load());
  t.is(errorCode(error), 'ERR_STORE_CORRUPT');

  const other = await tempDir('store-');
  await writeFile(join(other, 'snapshot.json'), '{"format":1,"seq":3,"state":{"sites":{}}}');
  const snapshotError = await t.throwsAsync(() => new FileStore(other).load());
  t.is(errorCode(snapshotError), 'ERR_STORE_CORRUPT');
  t.regex(snapshotError?.message ?? '', /rings/);

  const wrongShape = await tempDir('store-');
  await writeFile(join(wrongShape, 'changes.log'), '{"seq":1,"change":{"op":"explode"}}\n');
  t.is(errorCode(await t.throwsAsync(() => new FileStore(wrongShape).load())), 'ERR_STORE_CORRUPT');
});

test('one store per directory: a second one is refused; a dead owner\'s lock is taken over', async (t) => {
  const dir = await tempDir('store-');
  const { store } = await reopen(dir);
  t.is(errorCode(await t.throwsAsync(() => new FileStore(dir).load())), 'ERR_STORE_LOCKED');
  await store.close();

  await writeFile(join(dir, 'lock'), `${process.ppid}\n`);
  t.is(errorCode(await t.throwsAsync(() => new FileStore(dir).load())), 'ERR_STORE_LOCKED', 'a live process holds it');
  await writeFile(join(dir, 'lock'), '999999999\n');
  const taken = await reopen(dir);
  t.is(taken.state.sites.size, 0);
  await taken.store.close();
});

const changeArbitrary: fc.Arbitrary<Change> = fc.oneof(
  fc.record({ op: fc.constant('putSite' as const), site: fc.constantFrom('a', 'b', 'c'), body: fc.constantFrom('x.test', 'y.test').map((d) => body(d)) }),
  fc.record({ op: fc.constant('deleteSite' as const), site: fc.constantFrom('a', 'b', 'c') }),
  fc.record({ op: fc.constant('putRings' as const), weights: fc.array(fc.integer({ min: 1, max: 1000 }), { minLength: 5, maxLength: 5 }) }),
  fc.record({ op: fc.constant('setAuto' as const), site: fc.constantFrom('a', 'b'), kind: fc.constantFrom('frontEnds' as const, 'backEnds' as const), ids: fc.array(fc.constantFrom('g1', 'g2')) }),
  fc.record({ op: fc.constant('putGateway' as const), kind: fc.constantFrom('frontEnds' as const, 'backEnds' as const), id: fc.constantFrom('g1', 'g2'), record: fc.constant({ addresses: {} }) }),
);

test('whatever the changes and wherever the compactions, reloading gives the state that was built', async (t) => {
  await fc.assert(
    fc.asyncProperty(fc.array(fc.tuple(changeArbitrary, fc.boolean()), { maxLength: 25 }), async (steps) => {
      const dir = await tempDir('store-prop-');
      const { store, state } = await reopen(dir);
      const expected = emptyDurableState();
      for (const [change, compactAfter] of steps) {
        await store.append(change);
        applyChange(state, change);
        applyChange(expected, change);
        if (compactAfter) await store.compact(state);
      }
      await store.close();
      const again = await reopen(dir);
      await again.store.close();
      t.deepEqual(plain(again.state), plain(expected));
    }),
    { numRuns: 25 },
  );
});
