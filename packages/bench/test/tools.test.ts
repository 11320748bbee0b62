import test from 'ava';
import { metricSamples } from '@overlay/bench';

test('metricSamples reads every sample of one metric with its labels, and nothing of metrics that share its prefix', (t) => {
  const page = [
    '# HELP overlay_backend_origin_limit limit',
    'overlay_backend_origin_limit{origin="origin-1",role="back-end"} 8',
    'overlay_backend_origin_limit_changes_total{origin="origin-1",reason="grow"} 3',
    'overlay_backend_ring_bytes_total{ring="3",instance_id="be"} 1.5e+6',
    'process_resident_memory_bytes 123456',
  ].join('\n');
  t.deepEqual(metricSamples(page, 'overlay_backend_origin_limit'), [{ labels: { origin: 'origin-1', role: 'back-end' }, value: 8 }]);
  t.deepEqual(metricSamples(page, 'overlay_backend_ring_bytes_total'), [{ labels: { ring: '3', instance_id: 'be' }, value: 1_500_000 }]);
  t.deepEqual(metricSamples(page, 'process_resident_memory_bytes'), [{ labels: {}, value: 123_456 }]);
  t.deepEqual(metricSamples(page, 'missing'), []);
});
