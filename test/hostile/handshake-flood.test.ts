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
import { TUNNEL_KEY, frontEndConfig, get, goodLatency, metric, sleep, startRole, startStack, withinBar } from './stack.js';

/** Keeps `count` silent connections from `localAddress` open, refilling closed ones every 100 ms. */
function silentFlood(target: string, localAddress: string, count: number) {
  const { host, port } = parseHostPort(target);
  const open = new Set<Socket>();
  let opened = 0;
  const refill = () => {
    while (open.size < count) {
      const socket = connect({ host, port, localAddress });
      opened++;
      open.add(socket);
      socket.on('error', () => {});
      socket.on('close', () => open.delete(socket));
    }
  };
  refill();
  const timer = setInterval(refill, 100);
  return {
    get opened() {
      return opened;
    },
    stop() {
      clearInterval(timer);
      for (const socket of open) socket.destroy();
    },
  };
}

test('300 silent connections from one source do not keep real tunnels out', async (t) => {
  const stack = await startStack(t);
  const baseline = await goodLatency(stack.http);
  t.log('unattacked', baseline);

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
  const attacked = await goodLatency(String(restarted.ready.http));
  const throughOld = await goodLatency(stack.http);
  t.log('attacked (restarted front-end)', attacked, 'attacked (running front-end)', throughOld, 'silent connections opened', flood.opened);
  t.true(withinBar(attacked, baseline), 'restarted front-end keeps the bar');
  t.true(withinBar(throughOld, baseline), 'running front-end keeps the bar');

  const admin = String(stack.backEnd.ready.admin);
  t.true((await metric(admin, 'overlay_backend_tunnel_handshakes_failed_total', { outcome: 'evicted' })) > 0, 'evictions are counted');
  t.true((await metric(admin, 'overlay_backend_tunnel_handshakes_pending')) <= 256);
  flood.stop();
});
