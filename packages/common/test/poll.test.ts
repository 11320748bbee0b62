import test from 'ava';
import { pollUntil } from '@overlay/common';

test('pollUntil passes as soon as the check does, counting a throw as "not yet"', async (t) => {
  let tries = 0;
  const passed = await pollUntil(() => {
    tries++;
    if (tries < 3) throw new Error('not up yet');
    return tries >= 4;
  }, { timeoutMs: 2_000, intervalMs: 5 });
  t.true(passed);
  t.is(tries, 4);
});

test('pollUntil says false once the time is up, having tried at least once', async (t) => {
  let tries = 0;
  const started = performance.now();
  t.false(await pollUntil(async () => (tries++, false), { timeoutMs: 60, intervalMs: 10 }));
  t.true(tries >= 2);
  t.true(performance.now() - started >= 60);
});
