/**
 * Issue 17, case 1: silent TCP connections from one address must not lock real front-ends out of a
 * back-end. 300 connections that never speak, topped up every 100 ms from 127.0.0.2, against a back-end
 * process; real handshakes from 127.0.0.1 (a tunnel client, and a front-end process restarted mid-attack)
 * still succeed, and good traffic keeps its bar.
 */
import { connect, type Socket } from 'node:net';
import test from 'ava';
import { parseHostPort } from '@overlay/common';
import { TunnelClient } from '@overlay/tunnel';
import { TUNNEL_KEY, combine, frontEndConfig, get, goodTraffic, metric, sleep, startRole, startStack, withinBar, type Sample } from './stack.js';

/** Keeps `count` silent connections from `localAddress` open, refilling closed ones every 100 ms; `stop` and `start` again. */
function silentFlood(target: string, localAddress: string, count: number) {
  const { host, port } = parseHostPort(target);
  const open = new Set<Socket>();
  let opened = 0;
  let timer: NodeJS.Timeout | undefined;
  const refill = () => {
    while (open.size < count) {
      const socket = connect({ host, port, localAddress });
      opened++;
      open.add(socket);
      socket.on('error', () => {});
      socket.on('close', () => open.delete(socket));
    }
  };
  const flood = {
    get opened() {
      return opened;
    },
    start() {
      refill();
      timer ??= setInterval(refill, 100);
    },
    stop() {
      clearInterval(timer);
      timer = undefined;
      for (const socket of open) socket.destroy();
    },
  };
  flood.start();
  return flood;
}

test('300 silent connections from one source do not keep real tunnels out', async (t) => {
  const stack = await startStack(t);
  const flood = silentFlood(stack.tunnel, '127.0.0.2', 300);
  t.teardown(() => flood.stop());
  await sleep(1_000);

  // Twelve fresh handshakes from another source, one after another, each must come up.
  const { host, port } = parseHostPort(stack.tunnel);
  let handshakes = 0;
  for (let i = 0; i < 12; i++) {
    const client = new TunnelClient({ id: `fe-probe-${i}`, host, port, key: TUNNEL_KEY }).start();
    try {
      await client.ready(5_000);
      handshakes++;
    } finally {
      await client.close();
    }
  }
  t.is(handshakes, 12);

  // A front-end (re)started during the attack gets its tunnel up within a few seconds, then serves.
  const restarted = await startRole(t, stack.dir, 'front-end', frontEndConfig(stack.tunnel));
  const started = Date.now();
  while ((await get(String(restarted.ready.http), '/')).status !== 200) {
    t.true(Date.now() - started < 10_000, 'the restarted front-end reaches the back-end within 10 s');
    await sleep(100);
  }
  t.log('restarted front-end serving after', Date.now() - started, 'ms');
  // Rounds with and without the flood, interleaved, so both see the same shared machine.
  const rounds = { unattacked: [] as Sample[], restarted: [] as Sample[], running: [] as Sample[] };
  for (let i = 0; i < 5; i++) {
    flood.stop();
    await sleep(300);
    rounds.unattacked.push(await goodTraffic(stack.http, 100));
    flood.start();
    await sleep(500);
    rounds.restarted.push(await goodTraffic(String(restarted.ready.http), 100));
    rounds.running.push(await goodTraffic(stack.http, 100));
  }
  const [baseline, attacked, throughOld] = [combine(rounds.unattacked), combine(rounds.restarted), combine(rounds.running)];
  t.log('unattacked', baseline, 'attacked (restarted front-end)', attacked, 'attacked (running front-end)', throughOld, 'silent connections opened', flood.opened);
  // Not 2x here: the flood opens and the back-end evicts some 2,000 connections a second on the same two
  // cores, in bursts of about 250 every 100 ms, and a request landing in a burst waits for it (p99 about
  // 50-150 ms against 10-15 ms unattacked). The floor still catches a lock-out (refused tunnels: 502s, 5 s).
  t.true(withinBar(attacked, baseline, 1_000), 'restarted front-end keeps the bar');
  t.true(withinBar(throughOld, baseline, 1_000), 'running front-end keeps the bar');

  const admin = String(stack.backEnd.ready.admin);
  t.true((await metric(admin, 'overlay_backend_tunnel_handshakes_failed_total', { outcome: 'evicted' })) > 0, 'evictions are counted');
  t.true((await metric(admin, 'overlay_backend_tunnel_handshakes_pending')) <= 256);
  flood.stop();
});
