/** Issue 17, case 7: retiring an idle striped tunnel connection is routine (debug), not "tunnel connection lost". */
import test from 'ava';
import { pollUntil } from '@overlay/common';
import { TunnelClient, TunnelServer, type TunnelStream } from '@overlay/tunnel';

const KEY = 'hostile-retire-test-key-0123456789';

test('idle extra tunnel connections retire with a debug line and no warning', async (t) => {
  const server = new TunnelServer({ id: 'be-r', keys: [KEY] });
  const { port } = await server.listen();
  server.on('stream', (stream: TunnelStream) => stream.on('error', () => {}).resume());
  const lines: Array<{ level: string; msg: string }> = [];
  const log = {
    child: () => log,
    debug: (_: unknown, msg: string) => lines.push({ level: 'debug', msg }),
    info: (_: unknown, msg: string) => lines.push({ level: 'info', msg }),
    warn: (_: unknown, msg: string) => lines.push({ level: 'warn', msg }),
    error: (_: unknown, msg: string) => lines.push({ level: 'error', msg }),
  };
  const client = new TunnelClient({ id: 'fe-r', host: '127.0.0.1', port, key: KEY, log: log as never, striping: { maxConnections: 3, streamsPerConnection: 2, idleMs: 300 } }).start();
  t.teardown(async () => {
    await client.close();
    await server.close(500);
  });
  await client.ready(5_000);
  const streams: TunnelStream[] = [];
  for (let i = 0; i < 6; i++) {
    streams.push(client.openStream({ meta: {} }));
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  t.true(await pollUntil(async () => client.sessions.length === 3, { timeoutMs: 5_000 }));
  for (const stream of streams) stream.on('error', () => {}).destroy();
  t.true(await pollUntil(async () => client.sessions.length === 1, { timeoutMs: 5_000 }));
  t.true(await pollUntil(async () => lines.filter((l) => l.msg === 'retired tunnel connection closed').length === 2, { timeoutMs: 5_000 }));
  t.deepEqual(lines.filter((l) => l.level === 'warn' || l.level === 'error'), []);
});
