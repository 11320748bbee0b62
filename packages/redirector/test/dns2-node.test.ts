/** dns2 3.1.1 declares engines node >= 22; this proves it loads and works on the Node running the tests. */
import { createRequire } from 'node:module';
import test from 'ava';
import dns2, { Packet } from 'dns2';

const on = `dns2 on Node ${process.version}`;

test('dns2 is exactly 3.1.1', (t) => {
  const version = (createRequire(import.meta.url)('dns2/package.json') as { version: string }).version;
  t.is(version, '3.1.1', on);
});

test('dns2 encodes and decodes a response with an OPT record and ECS', (t) => {
  const packet = new Packet();
  packet.header.id = 4242;
  packet.header.qr = 1;
  packet.questions.push({ name: 'shop.demo.test', type: Packet.TYPE.A, class: Packet.CLASS.IN } as Packet['questions'][number]);
  packet.answers.push(new Packet.Resource({ name: 'shop.demo.test', type: Packet.TYPE.A, class: Packet.CLASS.IN, ttl: 20, address: '127.0.1.1' }));
  packet.additionals.push(Packet.Resource.EDNS([Packet.Resource.EDNS.ECS('10.1.2.0/24')], { udpPayloadSize: 1232 }));
  const decoded = Packet.parse(packet.toBuffer());
  t.is(decoded.header.id, 4242, on);
  t.is(decoded.answers[0]?.address, '127.0.1.1', on);
  t.is(decoded.additionals[0]?.class, 1232, on);
  t.like(decoded.additionals[0]?.rdata?.[0], { sourcePrefixLength: 24, ip: '10.1.2.0' }, on);
});

test('a dns2 UDP server and client talk over loopback', async (t) => {
  const server = dns2.createServer({
    udp: true,
    handle: (request, send) => {
      const response = Packet.createResponseFromRequest(request);
      const [question] = request.questions;
      response.answers.push(new Packet.Resource({ name: question?.name, type: Packet.TYPE.A, class: Packet.CLASS.IN, ttl: 5, address: '192.0.2.7' }));
      send(response);
    },
  });
  const { udp } = await server.listen({ udp: { port: 0, address: '127.0.0.1' } });
  t.teardown(() => server.close());
  const resolve = dns2.UDPClient({ dns: '127.0.0.1', port: (udp as { port: number }).port, timeout: 2000 });
  const answer = await resolve('works.test', 'A');
  t.is(answer.answers[0]?.address, '192.0.2.7', on);
});
