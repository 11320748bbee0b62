import test from 'ava';
import { ADVISED_NOTSENT_LOWAT, notSentLowatAdvice } from '@overlay/tunnel';

test('advises setting tcp_notsent_lowat when the kernel default (unlimited) is in force', (t) => {
  const advice = notSentLowatAdvice(() => '4294967295\n');
  t.regex(advice ?? '', /tcp_notsent_lowat is 4294967295/);
  t.regex(advice ?? '', new RegExp(`tcp_notsent_lowat=${ADVISED_NOTSENT_LOWAT}`));
});

test('says nothing when the setting is small, or when there is no procfs to read', (t) => {
  t.is(notSentLowatAdvice(() => '16384\n'), undefined);
  t.is(notSentLowatAdvice(() => {
    throw new Error('ENOENT');
  }), undefined);
});
