import test from 'ava';
import { parseAddress, PopTable } from '@overlay/redirector';

const table = new PopTable({
  '10.1.0.0/16': ['pop-a', 'pop-b'],
  '10.2.0.0/16': ['pop-b', 'pop-a'],
  '10.1.128.0/20': ['pop-c'],
  '2001:db8:a::/48': ['pop-a'],
});

test('longest prefix wins; scope is the matched entry length', (t) => {
  t.deepEqual(table.lookup(parseAddress('10.1.2.3')).pops, ['pop-a', 'pop-b']);
  t.deepEqual(table.lookup(parseAddress('10.2.200.1')), { pops: ['pop-b', 'pop-a'], scopeLength: 16 });
  t.deepEqual(table.lookup(parseAddress('10.1.130.9')), { pops: ['pop-c'], scopeLength: 20 });
  t.deepEqual(table.lookup(parseAddress('2001:db8:a:1::5')), { pops: ['pop-a'], scopeLength: 48 });
});

test('a more specific entry nested in the match narrows the scope so it is not covered', (t) => {
  // 10.1.144.1 shares 19 bits with 10.1.128.0/20: only a /20 (10.1.144.0/20) keeps that entry's clients out.
  const match = table.lookup(parseAddress('10.1.144.1'));
  t.deepEqual(match.pops, ['pop-a', 'pop-b']);
  t.is(match.scopeLength, 20);
  t.is(table.lookup(parseAddress('10.1.64.1')).scopeLength, 17, 'shares 16 bits with 10.1.128.0/20');
});

test('no match: no preference, and a scope just long enough to exclude every entry', (t) => {
  t.deepEqual(table.lookup(parseAddress('192.168.1.1')), { pops: [], scopeLength: 1 });
  // 10.3/16 shares 15 bits with 10.2.0.0/16: the /15 would cover 10.2/16, so the scope is 16.
  t.deepEqual(table.lookup(parseAddress('10.3.0.1')), { pops: [], scopeLength: 16 });
  t.deepEqual(new PopTable({}).lookup(parseAddress('10.1.2.3')), { pops: [], scopeLength: 0 });
  t.deepEqual(table.lookup(parseAddress('2001:db9::1')).scopeLength, 32, 'IPv4 entries do not affect IPv6 scope');
});

test('IPv4-mapped IPv6 sources are looked up as IPv4', (t) => {
  t.deepEqual(table.lookup(parseAddress('::ffff:10.2.0.9')).pops, ['pop-b', 'pop-a']);
});
