import test from 'ava';
import { Congestion, PACKET_BYTES } from '@overlay/tunnel';

/** Feeds steady acknowledgements of a path of `rate` bytes/ms and `rttMs`, every ms for `ms`. */
function drive(cc: Congestion, rate: number, rttMs: number, ms: number, start = 0): number {
  let now = start;
  for (; now < start + ms; now++) cc.onAck({ now, acked: rate, rttMs, oldestRttMs: rttMs, rate, appLimited: false, inFlight: rate * rttMs });
  return now;
}

test('startup finds the bandwidth, then the window holds about two bandwidth-delay products and pacing follows the rate', (t) => {
  const cc = new Congestion();
  const now = drive(cc, 2_500, 40, 5_000);
  t.is(cc.phase, 'steady');
  t.is(cc.deliveryRate, 2_500);
  const bdp = 2_500 * (40 + cc.options.ackSlackMs);
  t.true(cc.cwnd >= bdp && cc.cwnd <= 2.5 * bdp, `cwnd ${cc.cwnd} vs BDP ${bdp}`);
  const pacing = cc.pacingRate(now);
  t.true(pacing >= 2_500 * 0.8 && pacing <= 2_500 * 1.25, `pacing ${pacing}`);
});

test('a standing queue holds pacing at or below the bandwidth, probe rounds included, while RTT stays above the target', (t) => {
  const cc = new Congestion();
  let now = drive(cc, 2_500, 40, 5_000);
  let most = 0;
  // 20 ms of queue, for fewer rounds than would take it for another flow's (a probe round among them).
  for (let i = 0; i < 11 * 40; i++, now++) {
    cc.onAck({ now, acked: 2_500, rttMs: 60, oldestRttMs: 60, rate: 2_500, appLimited: false, inFlight: 150_000 });
    most = Math.max(most, cc.pacingRate(now));
  }
  t.true(most <= 2_500, `pacing reached ${most}`);
  t.is(cc.mode, 'delay');
});

test('the window never falls below one packet per hosted stream', (t) => {
  const cc = new Congestion();
  drive(cc, 10, 1, 3_000);
  cc.setStreams(1_000);
  t.true(cc.cwnd >= 1_000 * cc.options.floorPerStream);
});

/** A steady tunnel of `streams` streams out of its gain cycle's probe and drain rounds; returns the time. */
function steady(cc: Congestion, streams: number): number {
  cc.setStreams(streams);
  let now = drive(cc, 2_500, 40, 5_000);
  while (cc.pacingRate(now) !== 2_500) now = drive(cc, 2_500, 40, 1, now);
  return now;
}

test('a loss beside a queue costs a tunnel of N streams a back-off of 1/(2N), not a halving', (t) => {
  const backoff = (streams: number) => {
    const cc = new Congestion();
    let now = steady(cc, streams);
    // 6 ms of queue, just above the target: pacing is cut a little, and the loss is congestion.
    now = drive(cc, 2_500, 46, 45, now);
    const before = cc.pacingRate(now);
    cc.onLoss(1, now);
    return Math.round((cc.pacingRate(now) / before) * 1e6) / 1e6;
  };
  t.is(backoff(1), 0.5);
  t.is(backoff(8), 1 - 1 / 16);
  // MulTCP's N is capped: 50 streams back off as 32 flows.
  t.is(backoff(50), 1 - 1 / 64);
});

test('a loss without a queue (random loss) costs no back-off, and the window gets room for what waits on the retransmission', (t) => {
  const cc = new Congestion();
  const now = steady(cc, 1);
  const [pacing, cwnd] = [cc.pacingRate(now), cc.cwnd];
  cc.onLoss(1, now);
  t.is(cc.pacingRate(now), pacing);
  drive(cc, 2_500, 40, 1, now);
  t.true(cc.cwnd > cwnd * 1.4, `cwnd ${cc.cwnd} against ${cwnd}`);
  // The room goes once the losses stop.
  drive(cc, 2_500, 40, 3_000, now + 1);
  t.true(cc.cwnd <= cwnd * 1.05, `cwnd ${cc.cwnd} against ${cwnd}`);
});

test('losses without a queue that keep coming (a lossy path) make the tunnel pace at the probe gain while no queue stands', (t) => {
  const cc = new Congestion();
  let now = steady(cc, 50);
  const probeGain = cc.options.probeGain;
  for (let i = 0; i < 3; i++, now = drive(cc, 2_500, 40, 100, now)) cc.onLoss(1, now);
  // Three could be stalls read as losses.
  t.is(cc.pacingRate(now), 2_500);
  cc.onLoss(1, now);
  t.is(cc.pacingRate(now), 2_500 * probeGain);
  // A queue: the probe gain goes, the cut comes.
  now = drive(cc, 2_500, 50, 45, now);
  t.true(cc.pacingRate(now) < 2_500, `pacing ${cc.pacingRate(now)}`);
  // The losses stop: most of a gain cycle cruises at the bandwidth again.
  now = drive(cc, 2_500, 40, 2_500, now);
  let cruising = 0;
  for (let i = 0; i < 8 * 40; i++) {
    now = drive(cc, 2_500, 40, 1, now);
    if (cc.pacingRate(now) === 2_500) cruising++;
  }
  t.true(cruising >= 5 * 40, `${cruising} ms of 320 at the bandwidth`);
});

/** Acknowledgements over a path of 2,500 bytes/ms and 40 ms whose queue holds `queueMs` whatever the tunnel does. */
function foreignQueue(cc: Congestion, queueMs: number, ms: number, start: number, inFlight = 100_000): number {
  let now = start;
  for (; now < start + ms; now++) cc.onAck({ now, acked: 1_250, rttMs: 40 + queueMs, oldestRttMs: 40 + queueMs, rate: 1_250, appLimited: false, inFlight });
  return now;
}

test('a queue that stands however far the tunnel cuts its pacing is another flow\'s: the tunnel turns loss-based at its fair share', (t) => {
  const lone = new Congestion();
  let now = steady(lone, 1);
  // A competing TCP flow fills the bottleneck queue (40 ms of it): fewer than competeAfterRounds rounds
  // leave the tunnel delay-based, yielding.
  now = foreignQueue(lone, 40, 10 * 40, now);
  t.is(lone.mode, 'delay');
  t.true(lone.pacingRate(now) < 2_500);
  now = foreignQueue(lone, 40, 4 * 40, now);
  t.is(lone.mode, 'competing');
  t.is(lone.competeEntries, 1);
  // One of two flows: half of what the path holds (2,500 bytes/ms over the 80-ms RTT).
  const path = 2_500 * lone.srttMs;
  t.true(Math.abs(lone.cwnd - path / 2) < path * 0.1, `cwnd ${lone.cwnd} against ${path / 2}`);
  const many = new Congestion();
  now = steady(many, 8);
  now = foreignQueue(many, 40, 14 * 40, now);
  t.is(many.mode, 'competing');
  t.true(many.cwnd > 2_500 * many.srttMs * 0.8, `cwnd ${many.cwnd}: 8 of 9 flows`);
});

test('competing mode: the window grows N packets per round trip and a loss costs it 1/(2N), at most 30 %', (t) => {
  const growth = (streams: number) => {
    const cc = new Congestion();
    let now = steady(cc, streams);
    now = foreignQueue(cc, 40, 14 * 40, now);
    t.is(cc.mode, 'competing');
    const start = cc.cwnd;
    // One window's worth of acknowledgements is one round trip.
    let acked = 0;
    while (acked < start) {
      cc.onAck({ now: now++, acked: 1_000, rttMs: 80, oldestRttMs: 80, rate: 1_250, appLimited: false, inFlight: start });
      acked += 1_000;
    }
    const grown = cc.cwnd - start;
    const before = cc.cwnd;
    cc.onLoss(1, now);
    return { packets: grown / PACKET_BYTES, kept: Math.round((cc.cwnd / before) * 1e6) / 1e6 };
  };
  const one = growth(1);
  t.true(one.packets > 0.9 && one.packets < 1.1, `grew ${one.packets} packets`);
  // One stream backs off as Cubic does, not by Reno's half.
  t.is(one.kept, 0.7);
  const eight = growth(8);
  t.true(eight.packets > 7.5 && eight.packets < 8.5, `grew ${eight.packets} packets`);
  t.is(eight.kept, 1 - 1 / 16);
});

test('competing mode ends when the queue has emptied for calmRounds, or after competeHoldMs', (t) => {
  const calm = new Congestion();
  let now = steady(calm, 1);
  now = foreignQueue(calm, 40, 14 * 40, now);
  t.is(calm.mode, 'competing');
  now = drive(calm, 2_500, 40, 2 * 40, now);
  t.is(calm.mode, 'competing');
  drive(calm, 2_500, 40, 2 * 40, now);
  t.is(calm.mode, 'delay');
  const held = new Congestion();
  now = steady(held, 1);
  now = foreignQueue(held, 40, 14 * 40, now);
  t.is(held.mode, 'competing');
  now = foreignQueue(held, 40, held.options.competeHoldMs - 14 * 40, now);
  t.is(held.mode, 'competing');
  foreignQueue(held, 40, 14 * 40, now);
  t.is(held.mode, 'delay');
});

test('RTT raised by event-loop stalls (a round without acknowledgements, packets in flight) does not switch modes', (t) => {
  const cc = new Congestion();
  let now = steady(cc, 1);
  // Every 100 ms the receiver stalls 60 ms; the samples after each stall carry its delay.
  for (let cycle = 0; cycle < 40; cycle++) {
    now = foreignQueue(cc, 40, 40, now);
    now += 60;
  }
  t.is(cc.mode, 'delay');
  t.is(cc.competeEntries, 0);
});

test('a queue of the tunnel\'s own, which drains under the pacing cut, leaves it delay-based', (t) => {
  const cc = new Congestion();
  let now = steady(cc, 1);
  // The tunnel overshot: 30 ms of queue, which drains as fast as pacing runs below the delivery rate.
  let queueMs = 30;
  for (let i = 0; i < 3_000; i++, now++) {
    queueMs = Math.max(0, queueMs - (2_500 - Math.min(2_500, cc.pacingRate(now))) / 2_500);
    cc.onAck({ now, acked: 2_500, rttMs: 40 + queueMs, oldestRttMs: 40 + queueMs, rate: 2_500, appLimited: false, inFlight: 100_000 });
  }
  t.is(cc.mode, 'delay');
  t.is(cc.competeEntries, 0);
});

test('a standing queue while the bottleneck delivers less than the tunnel paces brings the bandwidth down to what it delivers', (t) => {
  const cc = new Congestion();
  // Noise made the estimate 3,600 bytes/ms; the bottleneck delivers 2,400, so a queue builds: what the
  // tunnel has in flight grows. Well within the bandwidth filter's window: the cap, not forgetting, acts.
  let now = drive(cc, 3_600, 40, 5_000);
  for (let i = 0; i < 300; i++, now++) cc.onAck({ now, acked: 2_400, rttMs: 60, oldestRttMs: 60, rate: 2_400, appLimited: false, inFlight: 100_000 + i * 1_000 });
  t.true(cc.deliveryRate <= 2_400 * 1.05, `bandwidth ${cc.deliveryRate}`);
  t.true(cc.pacingRate(now) <= 2_400, `pacing ${cc.pacingRate(now)}`);
});

test('RTT noise while delivery keeps up with pacing does not lower the bandwidth (no delay-based collapse)', (t) => {
  const cc = new Congestion();
  let now = drive(cc, 2_500, 40, 5_000);
  for (let i = 0; i < 3_000; i++, now++) {
    const pacing = cc.pacingRate(now);
    cc.onAck({ now, acked: pacing, rttMs: 50, oldestRttMs: 50, rate: pacing, appLimited: false, inFlight: 100_000 });
  }
  t.true(cc.deliveryRate >= 2_500 * 0.9, `bandwidth ${cc.deliveryRate}`);
});

test('an idle tunnel resumes at the rate it had, not at what its few idle bytes showed', (t) => {
  const cc = new Congestion();
  let now = drive(cc, 2_500, 40, 5_000);
  for (let i = 0; i < 20_000; i += 10, now += 10) cc.onAck({ now, acked: 10, rttMs: 40, oldestRttMs: 40, rate: 1, appLimited: true, inFlight: 0 });
  t.is(cc.deliveryRate, 2_500);
});

test('a few small requests with RTT noise do not end startup', (t) => {
  const cc = new Congestion();
  let now = 0;
  for (let i = 0; i < 100; i++, now += 50) cc.onAck({ now, acked: 200, rttMs: i % 2 ? 40 : 70, oldestRttMs: 70, rate: 5, appLimited: true, inFlight: 0 });
  t.is(cc.phase, 'startup');
});

test('an acknowledgement a round trip late counts as a loss; steady ones do not', (t) => {
  const cc = new Congestion();
  let now = drive(cc, 2_500, 40, 5_000);
  t.is(cc.lossEvents, 0);
  // A lost segment: what was sent behind it arrives with its retransmission, a round trip late.
  t.true(cc.onAck({ now: now++, acked: 60_000, rttMs: 41, oldestRttMs: 82, rate: 2_500, appLimited: false, inFlight: 100_000 }));
  t.is(cc.lossEvents, 1);
  drive(cc, 2_500, 40, 1_000, now);
  t.is(cc.lossEvents, 1);
});

test('a probe that finds room starts startup again; one that does not leaves the tunnel steady', (t) => {
  const roomy = new Congestion();
  // A path of 20,000 bytes/ms that the tunnel measured at 200 (after a stall): deliveries follow pacing.
  let now = drive(roomy, 200, 40, 5_000);
  t.is(roomy.phase, 'steady');
  for (let i = 0; i < 2_000 && roomy.phase === 'steady'; i++, now++) {
    const rate = Math.min(20_000, roomy.pacingRate(now));
    roomy.onAck({ now, acked: rate, rttMs: 40, oldestRttMs: 40, rate, appLimited: false, inFlight: rate * 40 });
  }
  t.is(roomy.phase, 'startup');
  const full = new Congestion();
  now = drive(full, 2_500, 40, 5_000);
  drive(full, 2_500, 40, 2_000, now);
  t.is(full.phase, 'steady');
});

test('a probe whose bandwidth grew beside a queue (acknowledgements bunched by a busy host) does not start startup again', (t) => {
  const cc = new Congestion();
  let now = drive(cc, 200, 40, 5_000);
  let restarted = false;
  for (let i = 0; i < 2_000; i++, now++) {
    // Deliveries follow pacing, probes included, as on a roomy path, but with 5 ms of queue standing.
    const rate = Math.min(20_000, cc.pacingRate(now));
    cc.onAck({ now, acked: rate, rttMs: 45, oldestRttMs: 45, rate, appLimited: false, inFlight: rate * 45 });
    restarted ||= cc.phase === 'startup';
  }
  t.false(restarted);
});
