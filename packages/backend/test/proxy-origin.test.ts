import { once } from 'node:events';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import test from 'ava';
import { decodeProxyHeader } from '@overlay/common';
import { backEndConfigSchema } from '@overlay/backend';
import { closed, open, quietHealth, startHarness } from './helpers.js';

test('a TCP site with proxyProtocol starts each origin connection with a PROXY header naming the client', async (t) => {
  for (const version of [1, 2] as const) {
    const received: Buffer[] = [];
    const sockets = new Set<Socket>();
    const server = createServer((socket) => {
      sockets.add(socket);
      socket.on('data', (chunk: Buffer) => received.push(chunk));
      socket.on('end', () => socket.end());
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as AddressInfo;
    t.teardown(() => {
      for (const socket of sockets) socket.destroy();
      server.close();
    });
    const { client } = await startHarness(t, { sites: { db: { mode: 'tcp', proxyProtocol: version, origins: [{ url: `tcp://127.0.0.1:${port}`, id: 'db' }] } }, health: quietHealth });
    const { stream, reply } = open(client, { kind: 'tcp', site: 'db', client: { ip: '10.1.2.3', port: 40001 }, frontEnd: 'fe-test', priority: 1 }, 1);
    t.is((await reply).status, 200);
    stream.resume();
    stream.end(Buffer.from('hello'));
    await closed(stream);
    const bytes = Buffer.concat(received);
    const decoded = decodeProxyHeader(bytes);
    t.true(decoded.done);
    if (!decoded.done || !decoded.header.proxied) return t.fail('no PROXY header');
    t.is(decoded.header.version, version);
    t.deepEqual(decoded.header.source, { address: '10.1.2.3', port: 40001 });
    t.deepEqual(decoded.header.destination, { address: '127.0.0.1', port });
    t.is(bytes.subarray(decoded.length).toString(), 'hello', 'the client bytes follow the header');
  }
});

test('proxyProtocol is refused on HTTP sites, whose origin connections are pooled', (t) => {
  const parsed = backEndConfigSchema.safeParse({
    id: 'be-1', tunnel: { listen: '127.0.0.1:0', keys: ['k'.repeat(16)] }, admin: '127.0.0.1:0',
    state: { sites: { web: { proxyProtocol: 2, origins: [{ url: 'http://127.0.0.1:1' }] } } },
  });
  t.false(parsed.success);
  t.regex(JSON.stringify(parsed.error?.issues), /proxyProtocol/);
});
