import test from 'ava';
import { rateLimitSchema, ResponseRateLimiter } from '@overlay/redirector';

function limiter(overrides: Record<string, unknown> = {}): { limiter: ResponseRateLimiter; advance: (ms: number) => void } {
  let now = 0;
  const options = rateLimitSchema.parse({ responsesPerSecond: 10, burst: 3, slip: 2, exempt: [], ...overrides });
  return { limiter: new ResponseRateLimiter(options, () => now), advance: (ms) => (now += ms) };
}

const SHOP = 'positive shop.demo.test';

test('a burst, then every 2nd limited response slips; tokens refill with time', (t) => {
  const { limiter: l, advance } = limiter();
  const decisions = Array.from({ length: 7 }, () => l.decide('192.0.2.1', SHOP));
  t.deepEqual(decisions, ['allow', 'allow', 'allow', 'drop', 'slip', 'drop', 'slip']);
  advance(100); // 10/s → one token
  t.is(l.decide('192.0.2.1', SHOP), 'allow');
  t.is(l.decide('192.0.2.1', SHOP), 'drop');
});

test('the bucket is per client network: /24 shares, the next /24 does not', (t) => {
  const { limiter: l } = limiter({ burst: 1 });
  t.is(l.decide('192.0.2.1', SHOP), 'allow');
  t.not(l.decide('192.0.2.200', SHOP), 'allow');
  t.is(l.decide('192.0.3.1', SHOP), 'allow');
  t.is(l.decide('2001:db8:1:100::1', SHOP), 'allow');
  t.not(l.decide('2001:db8:1:1ff::9', SHOP), 'allow', 'same /56');
});

test('the bucket is per response too: a network asking many names is not limited by one', (t) => {
  const { limiter: l } = limiter({ burst: 1 });
  t.is(l.decide('192.0.2.1', SHOP), 'allow');
  t.not(l.decide('192.0.2.1', SHOP), 'allow', 'the same answer again is over');
  for (let i = 0; i < 50; i++) t.is(l.decide('192.0.2.1', `positive host-${i}.demo.test`), 'allow');
});

test('prefix lengths are configurable: /32 makes each address its own network', (t) => {
  const { limiter: l } = limiter({ burst: 1, ipv4PrefixLength: 32 });
  t.is(l.decide('192.0.2.1', SHOP), 'allow');
  t.is(l.decide('192.0.2.2', SHOP), 'allow');
  t.not(l.decide('192.0.2.2', SHOP), 'allow');
});

test('slip 0 drops everything over the limit; disabled or exempt allows everything', (t) => {
  const noSlip = limiter({ burst: 1, slip: 0 }).limiter;
  noSlip.decide('192.0.2.1', SHOP);
  t.deepEqual([noSlip.decide('192.0.2.1', SHOP), noSlip.decide('192.0.2.1', SHOP)], ['drop', 'drop']);
  const off = limiter({ burst: 1, enabled: false }).limiter;
  t.deepEqual([off.decide('192.0.2.1', SHOP), off.decide('192.0.2.1', SHOP)], ['allow', 'allow']);
  const exempt = limiter({ burst: 1, exempt: ['127.0.0.0/8'] }).limiter;
  t.deepEqual([exempt.decide('127.0.0.1', SHOP), exempt.decide('127.0.0.1', SHOP)], ['allow', 'allow']);
});

test('the table of buckets is bounded, forgetting the least recently used', (t) => {
  const { limiter: l } = limiter({ burst: 1, maxTrackedNetworks: 3 });
  for (let i = 0; i < 10; i++) l.decide(`198.51.${i}.1`, SHOP);
  t.true(l.size <= 6, `two generations of 3 at most, got ${l.size}`);
  t.is(l.decide('198.51.0.1', SHOP), 'allow', 'forgotten, so it starts with a full bucket');
});
