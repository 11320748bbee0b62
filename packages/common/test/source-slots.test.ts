import test from 'ava';
import { SourceSlots, sourceKey } from '@overlay/common';

function slots(maxTotal: number, maxPerSource: number) {
  const evicted: string[] = [];
  const table = new SourceSlots<string>({ maxTotal, maxPerSource }, (item) => evicted.push(item));
  return { table, evicted };
}

test('a source at its cap pushes out its own oldest, never another source', (t) => {
  const { table, evicted } = slots(10, 2);
  table.admit('a', 'a1');
  table.admit('b', 'b1');
  table.admit('a', 'a2');
  table.admit('a', 'a3');
  t.deepEqual(evicted, ['a1']);
  t.is(table.held('a'), 2);
  t.is(table.held('b'), 1);
  t.is(table.evictions, 1);
});

test('when full, the heaviest source loses its oldest and a light newcomer always gets in', (t) => {
  const { table, evicted } = slots(4, 4);
  for (const item of ['h1', 'h2', 'h3']) table.admit('heavy', item);
  table.admit('light', 'l1');
  table.admit('other', 'o1');
  t.deepEqual(evicted, ['h1']);
  t.deepEqual([...table].sort(), ['h2', 'h3', 'l1', 'o1']);
});

test('release is idempotent and frees the slot; admitting twice counts once', (t) => {
  const { table } = slots(2, 2);
  table.admit('a', 'x');
  table.admit('a', 'x');
  t.is(table.size, 1);
  table.release('x');
  table.release('x');
  t.is(table.size, 0);
  t.is(table.held('a'), 0);
});

test('a flood from one source never holds more than its cap', (t) => {
  const { table } = slots(256, 16);
  for (let i = 0; i < 10_000; i++) table.admit('attacker', `s${i}`);
  for (let i = 0; i < 20; i++) table.admit(`fe-${i}`, `fe${i}`);
  t.is(table.held('attacker'), 16);
  t.is(table.size, 36);
});

test('sources: IPv4 as is, mapped IPv4 unwrapped, IPv6 by /64', (t) => {
  t.is(sourceKey('10.0.0.1'), '10.0.0.1');
  t.is(sourceKey('::ffff:127.0.0.2'), '127.0.0.2');
  t.is(sourceKey('2001:db8:0:1::5'), '2001:db8:0:1::/64');
  t.is(sourceKey('2001:db8:0:1:aaaa:bbbb:cccc:dddd'), '2001:db8:0:1::/64');
  t.is(sourceKey('::1'), '0:0:0:0::/64');
  t.is(sourceKey(undefined), '?');
});
