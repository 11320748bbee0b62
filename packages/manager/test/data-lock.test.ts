import test from 'ava';
import { ownerAlive, parseOwner, parseStat, type ProcessFacts } from '../src/data-lock.js';

function facts(procs: Record<number, { state: string; startTime: string }>, bootId = 'boot-1'): ProcessFacts {
  return { stat: (pid) => procs[pid], bootId: () => bootId, exists: (pid) => pid in procs };
}

test('the owner is alive only as the same boot, the same start time and not a zombie', (t) => {
  const owner = { pid: 42, startTime: '1000', bootId: 'boot-1' };
  t.true(ownerAlive(owner, facts({ 42: { state: 'S', startTime: '1000' } })));
  t.false(ownerAlive(owner, facts({ 42: { state: 'Z', startTime: '1000' } })), 'killed, not yet reaped');
  t.false(ownerAlive(owner, facts({ 42: { state: 'S', startTime: '2000' } })), 'pid reused');
  t.false(ownerAlive(owner, facts({ 42: { state: 'S', startTime: '1000' } }, 'boot-2')), 'an earlier boot');
  t.false(ownerAlive(owner, facts({})), 'gone');
});

test('an old bare-pid lock is judged by the pid; garbage holds no lock', (t) => {
  t.deepEqual(parseOwner('42\n'), { pid: 42 });
  t.true(ownerAlive({ pid: 42 }, facts({ 42: { state: 'R', startTime: '5' } })));
  t.false(ownerAlive({ pid: 42 }, facts({ 42: { state: 'Z', startTime: '5' } })));
  t.is(parseOwner(''), undefined);
  t.is(parseOwner('{"pid": "x"}'), undefined);
  t.is(parseOwner('not json'), undefined);
});

test('/proc/PID/stat parses with spaces and parentheses in the command name', (t) => {
  const fields = Array.from({ length: 50 }, (_, i) => String(i + 3));
  fields[0] = 'Z';
  t.deepEqual(parseStat(`123 (a (b) c) ${fields.join(' ')}`), { state: 'Z', startTime: '22' });
  t.is(parseStat('garbage'), undefined);
});
