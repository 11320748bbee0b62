import test from 'ava';
import { Congestion } from '@overlay/tunnel';

/** Feeds steady acknowledgements of a path of `rate` bytes/ms and `rttMs`, every ms for `ms`. */
function drive(cc: Congestion, rate: number, rttMs: number, ms: number, start = 0): number {
  let now = start;
  for (; now < start + ms; now++) cc.onAck({ now, acked: rate, rttMs, rate, appLimited: false, inFlight: rate * rttMs });
  return now;
}

test('startup finds the bandwidth, then the window holds about two bandwidth-delay products and pacing follows the rate', (t) => {
  const cc = new Congestion();
  const now = drive(cc, 2_500, 40, 5_000);
  t.is(cc.phase, 'steady');
  t.is(cc.bandwidthAt(now), 2_500);
  const bdp = 2_500 * (40 + cc.options.ackSlackMs);
  t.true(cc.cwnd >= bdp && cc.cwnd <= 2.5 * bdp, `cwnd ${cc.cwnd} vs BDP ${bdp}`);
  const pacing = cc.pacingRate(now);
  t.true(pacing >= 2_500 * 0.8 && pacing <= 2_500 * 1.25, `pacing ${pacing}`);
});

test('a standing queue stops the probing: pacing never exceeds the bandwidth while RTT stays above the target', (t) => {
  const cc = new Congestion();
  let now = drive(cc, 2_500, 40, 5_000);
  let most = 0;
  for (let i = 0; i < 2_000; i++, now++) {
    cc.onAck({ now, acked: 2_500, rttMs: 60, rate: 2_500, appLimited: false, inFlight: 150_000 });
    most = Math.max(most, cc.pacingRate(now));
  }
  t.true(most <= 2_500, `pacing reached ${most}`);
});

test('the window never falls below one packet per hosted stream', (t) => {
  const cc = new Congestion();
  drive(cc, 10, 1, 3_000);
  cc.setStreams(1_000);
  t.true(cc.cwnd >= 1_000 * cc.options.floorPerStream);
});

test('a loss costs a tunnel of N streams a back-off of 1/(2N), not a halving', (t) => {
  const backoff = (streams: number) => {
    const cc = new Congestion();
    cc.setStreams(streams);
    const now = drive(cc, 2_500, 40, 5_000);
    // Out of the gain cycle's probe and drain rounds, so only the back-off shows.
    let at = now;
    while (cc.pacingRate(at) !== 2_500) at = drive(cc, 2_500, 40, 1, at);
    cc.onLoss(1, at);
    return cc.pacingRate(at) / 2_500;
  };
  t.is(backoff(1), 0.5);
  t.is(backoff(50), 1 - 1 / 100);
});
