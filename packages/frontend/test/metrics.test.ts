import test from 'ava';
import { AggregatorRegistry, Histogram, Registry } from 'prom-client';
import { TalliedHistogram } from '@overlay/frontend';

const BOUNDS = [0.001, 0.01, 0.1, 1];
const OBSERVED: Array<[string, number]> = [['0', 0.0005], ['0', 0.001], ['2', 0.05], ['2', 0.5], ['2', 7], ['0', 0.02], ['1', 1]];

function both() {
  const tallied = new Registry();
  const reference = new Registry();
  const histogram = new TalliedHistogram('t_seconds', 'help text', 'priority', BOUNDS, tallied);
  const prom = new Histogram({ name: 't_seconds', help: 'help text', labelNames: ['priority'], buckets: BOUNDS, registers: [reference] });
  for (const [priority, value] of OBSERVED) {
    histogram.observe(priority, value);
    prom.observe({ priority }, value);
  }
  return { tallied, reference };
}

test('a tallied histogram reads exactly as prom-client\'s own with the same observations', async (t) => {
  const { tallied, reference } = both();
  t.is(await tallied.metrics(), await reference.metrics());
  // As cluster workers send it to the primary: serialized.
  const sent = async (registry: Registry) => JSON.parse(JSON.stringify(await registry.getMetricsAsJSON())) as unknown;
  t.deepEqual(await sent(tallied), await sent(reference));
});

test('a tallied histogram sums across cluster workers as prom-client\'s does, and resets', async (t) => {
  const { tallied, reference } = both();
  const merged = async (registry: Registry) => AggregatorRegistry.aggregate([await registry.getMetricsAsJSON(), await registry.getMetricsAsJSON()]).metrics();
  t.is(await merged(tallied), await merged(reference));
  tallied.resetMetrics();
  t.is(await tallied.metrics(), '# HELP t_seconds help text\n# TYPE t_seconds histogram\n');
});
