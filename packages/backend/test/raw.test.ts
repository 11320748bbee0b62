import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import test, { type ExecutionContext } from 'ava';
import { BackEndErrorCode } from '@overlay/backend';
import type { TcpHead } from '@overlay/stream-heads';
import type { TunnelStream } from '@overlay/tunnel';
import { closed, demoOrigin, header, httpHead, open, quietHealth, sleep, startHarness } from './helpers.js';

const WEBSOCKET_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

/** A masked client text frame (payload < 126 bytes). */
function clientTextFrame(text: string): Buffer {
  const payload = Buffer.from(text);
  const mask = randomBytes(4);
  const masked = Buffer.from(payload.map((byte, i) => byte ^ mask[i % 4]));
  return Buffer.concat([Buffer.from([0x81, 0x80 | payload.length]), mask, masked]);
}

/** Reads one unmasked server frame (payload < 126 bytes) from the stream. */
async function readServerFrame(stream: TunnelStream): Promise<{ opcode: number; text: string }> {
  let buffered = Buffer.alloc(0);
  for (;;) {
    if (buffered.length >= 2 && buffered.length >= 2 + (buffered[1] & 0x7f)) {
      return { opcode: buffered[0] & 0x0f, text: buffered.subarray(2, 2 + (buffered[1] & 0x7f)).toString() };
    }
    const [chunk] = (await once(stream, 'data')) as [Buffer];
    buffered = Buffer.concat([buffered, chunk]);
  }
}

function tcpHead(site: string): TcpHead {
  return { kind: 'tcp', site, client: { ip: '10.1.2.3', port: 40001 }, frontEnd: 'fe-test', priority: 1 };
}

async function echoServer(t: ExecutionContext): Promise<number> {
  const sockets = new Set<Socket>();
  const server = createServer({ allowHalfOpen: true }, (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    socket.pipe(socket);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.teardown(() => {
    for (const socket of sockets) socket.destroy();
    server.close();
  });
  return (server.address() as AddressInfo).port;
}

test('a WebSocket upgrade turns the stream raw and echoes through the back-end', async (t) => {
  const origin = await demoOrigin(t, { id: 'ws' });
  const { client, backEnd } = await startHarness(t, { sites: { shop: { origins: [{ url: origin.url, id: 'ws' }] } }, health: quietHealth });
  const key = randomBytes(16).toString('base64');
  const base = httpHead('shop', 'GET', '/ws', { upgrade: true });
  const head = { ...base, headers: [...base.headers, ['sec-websocket-key', key], ['sec-websocket-version', '13']] as Array<[string, string]> };
  const { stream, reply } = open(client, head);
  const answer = await reply;
  t.is(answer.status, 101);
  t.is(header(answer, 'sec-websocket-accept'), createHash('sha1').update(key + WEBSOCKET_GUID).digest('base64'));
  t.is(header(answer, 'x-overlay-backend'), 'be-test');
  t.is(header(answer, 'upgrade'), undefined, 'hop-by-hop fields stay on their leg');
  t.is(backEnd.status().origins[0]?.inFlight, 0, 'an upgraded connection holds no request slot');

  for (const text of ['hello', 'through the overlay']) {
    stream.write(clientTextFrame(text));
    t.deepEqual(await readServerFrame(stream), { opcode: 1, text });
  }
  stream.end(Buffer.from([0x88, 0x80, 0, 0, 0, 0])); // close frame, masked with zeros
  await closed(stream);
});

test('a TCP-mode stream is piped raw to a TCP origin, half-close included', async (t) => {
  const port = await echoServer(t);
  const { client, backEnd } = await startHarness(t, {
    sites: { db: { mode: 'tcp', origins: [{ url: `tcp://127.0.0.1:${port}`, id: 'db' }] } },
    health: { ...quietHealth, silenceMs: 200 },
  });
  const { stream, reply } = open(client, tcpHead('db'), 1);
  const answer = await reply;
  t.is(answer.status, 200);
  t.is(answer.origin, 'db');
  t.is(backEnd.status().origins[0]?.inFlight, 1, 'a TCP connection holds its slot');
  await sleep(1_300); // past silenceMs and a health tick: a quiet connection is not a silent origin
  t.is(backEnd.status().origins[0]?.state, 'up');
  const payload = randomBytes(2 * 1024 * 1024);
  const chunks: Buffer[] = [];
  stream.on('data', (chunk: Buffer) => chunks.push(chunk));
  stream.end(payload);
  await once(stream, 'end');
  t.true(Buffer.concat(chunks).equals(payload));
  await closed(stream);
  await new Promise((resolve) => setTimeout(resolve, 50));
  t.is(backEnd.status().origins[0]?.inFlight, 0);
});

test('a TCP origin that refuses gets REPLY 502 ERR_ORIGIN_CONNECT; a TCP head for an HTTP site 404', async (t) => {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  const origin = await demoOrigin(t, { id: 'web' });
  const { client } = await startHarness(t, {
    sites: { db: { mode: 'tcp', origins: [{ url: `tcp://127.0.0.1:${port}` }] }, web: { origins: [{ url: origin.url }] } },
    health: quietHealth,
  });
  const refused = open(client, tcpHead('db'));
  refused.stream.resume();
  const answer = await refused.reply;
  t.is(answer.status, 502);
  t.deepEqual(answer.error, { code: BackEndErrorCode.originConnect, retryable: true });
  refused.stream.end(); // a front-end closes its client connection on a non-200 TCP reply
  await closed(refused.stream);

  const wrongMode = open(client, tcpHead('web'));
  wrongMode.stream.resume();
  t.is((await wrongMode.reply).status, 404);
  wrongMode.stream.end();
  await closed(wrongMode.stream);
});
