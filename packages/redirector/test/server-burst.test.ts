/** Bursts of UDP queries: the socket's receive buffer, and what happens when the kernel caps it. */
import dgram from 'node:dgram';
import { readFileSync } from 'node:fs';
import { Writable } from 'node:stream';
import test from 'ava';
import { createLogger, Registry } from '@overlay/common';
import { startRedirector } from '@overlay/redirector';
import { demoState } from './helpers/fixture.js';
import { query, responseHeader } from './helpers/wire.js';

/** The kernel's ceiling on any socket's receive buffer. */
const rmemMax = Number(readFileSync('/proc/sys/net/core/rmem_max', 'utf8'));

/** Generous kernel cost of one small queued datagram on loopback (its skb), bytes. */
const QUEUED_DATAGRAM_BYTES = 1536;

function capturingLogger(lines: Array<Record<string, unknown>>) {
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n')) if (line) lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return createLogger('redirector-test', { destination, level: 'info' });
}

test('the UDP socket gets the receive buffer asked for, up to rmem_max, and says so when capped', async (t) => {
  const lines: Array<Record<string, unknown>> = [];
  const asked = 128 * 1024;
  const fits = await startRedirector({ listen: '127.0.0.1:0', udpReceiveBufferBytes: asked, ...demoState() }, { log: capturingLogger(lines), registry: new Registry() });
  t.teardown(() => fits.close());
  t.is(fits.udpReceiveBufferBytes, Math.min(asked, rmemMax));

  const over = rmemMax + 64 * 1024;
  const capped = await startRedirector({ listen: '127.0.0.1:0', udpReceiveBufferBytes: over, ...demoState() }, { log: capturingLogger(lines), registry: new Registry() });
  t.teardown(() => capped.close());
  t.is(capped.udpReceiveBufferBytes, rmemMax);
  const warning = lines.find((line) => typeof line.msg === 'string' && line.msg.includes('rmem_max'));
  t.like(warning, { level: 40, asked: over, granted: rmemMax });
});

test('a burst of queries sent at once is answered in full (up to what the granted buffer holds)', async (t) => {
  const running = await startRedirector({ listen: '127.0.0.1:0', ...demoState() }, { log: capturingLogger([]), registry: new Registry() });
  t.teardown(() => running.close());
  // The kernel's default buffer (about 208 KiB) drops a burst of about 200; the configured one must not.
  const burst = Math.min(2000, Math.floor(running.udpReceiveBufferBytes / QUEUED_DATAGRAM_BYTES));
  t.log(`receive buffer ${running.udpReceiveBufferBytes} B: burst of ${burst}`);

  const client = dgram.createSocket({ type: 'udp4', recvBufferSize: running.udpReceiveBufferBytes });
  const answered = new Set<number>();
  client.on('message', (message) => answered.add(responseHeader(message).id));
  await new Promise<void>((resolve) => client.bind(0, '127.0.0.1', resolve));
  t.teardown(() => client.close());
  for (let id = 0; id < burst; id++) client.send(query({ id, name: 'shop.demo.test' }), running.udpPort, '127.0.0.1');
  const deadline = Date.now() + 5_000;
  while (answered.size < burst && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
  t.is(answered.size, burst);
});
