import test from 'ava';
import { rateLimitSchema, ResponseRateLimiter } from '@overlay/redirector';

function limiter(overrides: Record<string, unknown> = {}): { limiter: ResponseRateLimiter; advance: (ms: number) => void } {
  let now = 0;
  const options = rateLimitSchema.parse({ responsesPerSecond: 10, burst: 3, slip: 2, exempt: [], ...overrides });
  return { limiter: new ResponseRateLimiter(options, () => now), advance: (ms) => (now += ms) };
}

test('a burst, then every 2nd limited response slips; tokens refill with time', (t) => {
  const { limiter: l, advance } = limiter();
  const decisions = Array.from({ length: 7 }, () => l.decide('192.0.2.1'));
  t.deepEqual(decisions, ['allow', 'allow', 'allow', 'drop', 'slip', 'drop', 'slip']);
  advance(100); // 10/s → one token
  t.is(l.decide('192.0.2.1'), 'allow');
  t.is(l.decide('192.0.2.1'), 'drop');
});

test('the limit is per client network: /24 shares, the next /24 does not', (t) => {
  const { limiter: l } = limiter({ burst: 1 });
  t.is(l.decide('192.0.2.1'), 'allow');
  t.not(l.decide('192.0.2.200'), 'allow');
  t.is(l.decide('192.0.3.1'), 'allow');
  t.is(l.decide('2001:db8:1:100::1'), 'allow');
  t.not(l.decide('2001:db8:1:1ff::9'), 'allow', 'same /56');
});

test('slip 0 drops everything over the limit; disabled or exempt allows everything', (t) => {
  const noSlip = limiter({ burst: 1, slip: 0 }).limiter;
  noSlip.decide('192.0.2.1');
  t.deepEqual([noSlip.decide('192.0.2.1'), noSlip.decide('192.0.2.1')], ['drop', 'drop']);
  const off = limiter({ burst: 1, enabled: false }).limiter;
  t.deepEqual([off.decide('192.0.2.1'), off.decide('192.0.2.1')], ['allow', 'allow']);
  const exempt = limiter({ burst: 1, exempt: ['127.0.0.0/8'] }).limiter;
  t.deepEqual([exempt.decide('127.0.0.1'), exempt.decide('127.0.0.1')], ['allow', 'allow']);
});

test('the table of networks is bounded, forgetting the least recently seen', (t) => {
  const { limiter: l } = limiter({ burst: 1, maxTrackedNetworks: 3 });
  for (let i = 0; i < 10; i++) l.decide(`198.51.${i}.1`);
  t.is(l.size, 3);
  t.is(l.decide('198.51.0.1'), 'allow', 'forgotten, so it starts with a full bucket');
});
