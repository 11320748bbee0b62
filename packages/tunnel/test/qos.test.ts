import test from 'ava';
import { lossRateOf, readQosReport } from '@overlay/tunnel';

test('the loss rate is loss events per packet sent, and unknown when too little was sent', (t) => {
  t.is(lossRateOf(0, 1448 * 1_000), 0);
  t.is(lossRateOf(10, 1448 * 1_000), 0.01);
  t.is(lossRateOf(5_000, 1448 * 1_000), 1);
  t.is(lossRateOf(3, 1448 * 10), -1);
});

test('a peer\'s report carries its loss rate; a malformed one stays unknown', (t) => {
  t.is(readQosReport({ lossRate: 0.02 }).lossRate, 0.02);
  t.is(readQosReport({ lossRate: 'lots' }).lossRate, -1);
  t.is(readQosReport({}).lossRate, -1);
});
