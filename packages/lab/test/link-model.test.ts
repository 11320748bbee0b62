import test from 'ava';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

// The forwarder's link model (delay-link.py's Direction), driven with made-up arrival times: no TUN, no clock.
const FORWARDER = fileURLToPath(new URL('../forwarder/delay-link.py', import.meta.url));
const run = promisify(execFile);

interface Outcome {
  /** Delivery time (s) of each accepted packet, in queue order. */
  deliveries: number[];
  drops: number;
  losses: number;
}

/** Feeds `arrivals` ([time s, size bytes]) to one direction and reports when each packet would leave. */
async function drive(link: { delay: number; jitter: number; rateBytes: number; queueBytes: number; loss?: number }, arrivals: Array<[number, number]>): Promise<Outcome> {
  const program = `
import importlib.util, json, random, sys
spec = importlib.util.spec_from_file_location("delay_link", sys.argv[1])
model = importlib.util.module_from_spec(spec)
spec.loader.exec_module(model)
link, arrivals = json.loads(sys.argv[2]), json.loads(sys.argv[3])
d = model.Direction("test", link["delay"], link["jitter"], link["rateBytes"], link["queueBytes"], link.get("loss", 0), random.Random(7))
for at, size in arrivals:
    d.accept(b"x" * size, at)
print(json.dumps({"deliveries": [t for t, _ in d.in_flight], "drops": d.drops, "losses": d.losses}))
`;
  const { stdout } = await run('python3', ['-c', program, FORWARDER, JSON.stringify(link), JSON.stringify(arrivals)]);
  return JSON.parse(stdout) as Outcome;
}

const close = (a: number, b: number) => Math.abs(a - b) < 1e-9;

test('uncapped: every packet leaves exactly one delay after it arrived', async (t) => {
  const { deliveries, drops } = await drive({ delay: 0.04, jitter: 0, rateBytes: 0, queueBytes: 1500 }, [[1, 1500], [1, 1500], [1.5, 60]]);
  t.is(drops, 0);
  t.true(close(deliveries[0], 1.04) && close(deliveries[1], 1.04) && close(deliveries[2], 1.54), String(deliveries));
});

test('rate cap: packets serialize back to back at size/rate, then take the delay', async (t) => {
  // 1 MB/s: a 1000-byte packet takes 1 ms on the wire.
  const { deliveries } = await drive({ delay: 0.01, jitter: 0, rateBytes: 1e6, queueBytes: 10_000 }, [[0, 1000], [0, 1000], [0, 1000], [0.1, 1000]]);
  t.deepEqual(deliveries.map((d) => Math.round(d * 1e6) / 1e6), [0.011, 0.012, 0.013, 0.111]);
});

test('drop-tail: a burst past the queue loses its tail, and the queue drains at the rate', async (t) => {
  const burst: Array<[number, number]> = Array.from({ length: 5 }, () => [0, 1000]);
  const { deliveries, drops } = await drive({ delay: 0, jitter: 0, rateBytes: 1e6, queueBytes: 3000 }, [...burst, [0.0025, 1000]]);
  // Three fit at t=0; at 2.5 ms 500 bytes are still queued, so one more fits.
  t.is(drops, 2);
  t.deepEqual(deliveries.map((d) => Math.round(d * 1e6) / 1e6), [0.001, 0.002, 0.003, 0.004]);
});

test('jitter adds up to its bound and never reorders', async (t) => {
  const arrivals: Array<[number, number]> = Array.from({ length: 500 }, (_, i) => [i * 0.001, 100]);
  const { deliveries } = await drive({ delay: 0.02, jitter: 0.03, rateBytes: 0, queueBytes: 1500 }, arrivals);
  t.is(deliveries.length, 500);
  deliveries.forEach((at, i) => {
    const extra = at - arrivals[i][0] - 0.02;
    t.true(extra >= -1e-9, `packet ${i} left before its delay`);
    // Order-keeping can hold a packet behind its predecessor, which had at most the full jitter.
    t.true(extra <= 0.03 + 1e-9, `packet ${i} waited ${extra} s extra`);
    if (i > 0) t.true(at >= deliveries[i - 1], `packet ${i} overtook ${i - 1}`);
  });
  const extras = deliveries.map((at, i) => at - arrivals[i][0] - 0.02);
  t.true(Math.max(...extras) - Math.min(...extras) > 0.015, 'the delay really varies');
});

test('random loss drops about its share of packets, independently of the queue', async (t) => {
  const arrivals: Array<[number, number]> = Array.from({ length: 8_000 }, (_, i) => [i, 100]);
  const { deliveries, drops, losses } = await drive({ delay: 0.02, jitter: 0, rateBytes: 0, queueBytes: 1500, loss: 0.025 }, arrivals);
  t.is(drops, 0);
  t.is(deliveries.length + losses, 8_000);
  t.true(losses > 140 && losses < 260, `2.5 % of 8,000 is 200; lost ${losses}`);
});
