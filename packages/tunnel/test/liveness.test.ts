import { once } from 'node:events';
import { connect } from 'node:net';
import test from 'ava';
import { TunnelErrorCode, defaultSettings, initiatorHandshake, type TunnelError, type TunnelSession } from '@overlay/tunnel';
import { KEY, tunnelPair, waitFor } from './fixtures.js';

test('a peer that goes silent is closed with ERR_TUNNEL_PEER_TIMEOUT', async (t) => {
  const pair = await tunnelPair(t, { session: { pingIntervalMs: 50, deadPeerTimeoutMs: 300 } });
  const sessionUp = once(pair.server, 'session') as Promise<[TunnelSession]>;
  const socket = connect({ host: '127.0.0.1', port: pair.port });
  socket.on('error', () => {});
  await once(socket, 'connect');
  await initiatorHandshake(socket, { key: Buffer.from(KEY), id: 'silent', tunnel: 'silent', settings: defaultSettings, timeoutMs: 2_000 });
  // Authenticated, then never a frame: no PING answers, nothing at all.
  socket.pause();
  const [session] = await sessionUp;
  const [error] = (await once(session, 'close')) as [TunnelError];
  t.is(error.code, TunnelErrorCode.PEER_TIMEOUT);
  socket.destroy();
});

test('both ends measure RTT and receive each other\'s QoS reports', async (t) => {
  const pair = await tunnelPair(t, { reportLoad: () => 0.25, session: { qosIntervalMs: 100, pingIntervalMs: 100, deadPeerTimeoutMs: 1_000 } }, { session: { qosIntervalMs: 100, pingIntervalMs: 100, deadPeerTimeoutMs: 1_000 } });
  await waitFor(() => pair.client.qos().peer !== undefined && pair.serverSession.peerQos !== undefined, 'QoS reports both ways');
  const front = pair.client.qos();
  t.true(front.rttMs >= 0 && front.jitterMs >= 0);
  t.is(front.peer?.load, 0.25, 'the back-end reports its load');
  t.true((pair.serverSession.peerQos?.rttMs ?? -1) >= 0, 'the front-end reports its RTT to the back-end');
  t.true(pair.serverSession.rtt.value !== undefined, 'the back-end measures RTT too');
});
