import test from 'ava';
import fc from 'fast-check';
import { frameMessage, TcpMessageReader } from '@overlay/redirector';

test('messages come out whole however the stream is split', (t) => {
  fc.assert(
    fc.property(
      fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 10 }),
      fc.array(fc.nat(), { maxLength: 20 }),
      (messages, cuts) => {
        const stream = Buffer.concat(messages.map((m) => frameMessage(Buffer.from(m))));
        const points = [...new Set(cuts.map((c) => c % (stream.length + 1)))].sort((a, b) => a - b);
        const reader = new TcpMessageReader();
        const out: Buffer[] = [];
        let last = 0;
        for (const point of [...points, stream.length]) {
          out.push(...reader.push(stream.subarray(last, point)));
          last = point;
        }
        t.deepEqual(out.map((b) => [...b]), messages.map((m) => [...m]));
      },
    ),
  );
});

test('a zero-length message completes with its prefix, even at the end of a chunk', (t) => {
  const reader = new TcpMessageReader();
  t.deepEqual(reader.push(Buffer.from([0])), []);
  t.deepEqual(reader.push(Buffer.from([0])).map((b) => b.length), [0]);
  t.deepEqual(reader.push(Buffer.from([0, 1])), []);
  t.deepEqual(reader.push(Buffer.from([9])).map((b) => [...b]), [[9]]);
});
