/** Several listen addresses, IPv4 and IPv6: each answers UDP from the address it was asked at, and TCP too. */
import dgram from 'node:dgram';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import test from 'ava';
import { parseDig, requireDig } from './helpers/dig.js';
import { startTestRedirector } from './helpers/server.js';
import { query, responseHeader } from './helpers/wire.js';

const run = promisify(execFile);

test('every listen address answers UDP from itself and TCP, IPv4 and IPv6', async (t) => {
  await requireDig();
  const server = await startTestRedirector(undefined, {
    listen: [{ host: '127.0.0.1', port: 0 }, '127.0.0.2:0', '[::1]:0'],
  });
  t.teardown(() => server.close());
  t.deepEqual(server.listeners.map((bound) => bound.host), ['127.0.0.1', '127.0.0.2', '::1']);
  for (const bound of server.listeners) {
    for (const transport of ['+notcp', '+tcp']) {
      // dig refuses a UDP reply from any other source than the one it asked.
      const { stdout } = await run('dig', [`@${bound.host}`, '-p', String(bound.udpPort), '+norec', '+tries=1', '+time=3', transport, 'demo.test', 'SOA']);
      const r = parseDig(stdout);
      t.is(r.status, 'NOERROR', `${bound.host} ${transport}`);
      t.is(r.answer[0]?.type, 'SOA');
    }
    const family = bound.host.includes(':') ? 'udp6' : 'udp4';
    const socket = dgram.createSocket(family);
    t.teardown(() => socket.close());
    const reply = new Promise<{ message: Buffer; from: string }>((resolve) => socket.once('message', (message, remote) => resolve({ message, from: remote.address })));
    socket.send(query({ id: 77, name: 'shop.demo.test' }), bound.udpPort, bound.host);
    const { message, from } = await reply;
    t.is(from, bound.host);
    t.is(responseHeader(message).id, 77);
  }
});
