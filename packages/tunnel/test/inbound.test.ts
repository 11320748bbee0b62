import test from 'ava';
import lz4 from 'lz4';
import { JOINED_CHUNK_BYTES, PLAIN, ReadAssembler, TunnelErrorCode, TunnelError } from '@overlay/tunnel';

interface Slotted { name: string; readSlot: number; inbox: Buffer[] }

const stream = (name: string): Slotted => ({ name, readSlot: -1, inbox: [] });

/** A COMPRESSED payload as the writer makes it: u32 BE inflated length | lz4 block. */
function compressed(bytes: Buffer): Buffer {
  const block = Buffer.alloc(lz4.encodeBound(bytes.length));
  const length = lz4.encodeBlock(bytes, block);
  const payload = Buffer.alloc(4 + length);
  payload.writeUInt32BE(bytes.length, 0);
  block.copy(payload, 4, 0, length);
  return payload;
}

function flushAll(assembler: ReadAssembler<Slotted>, readLength: number): Array<[string, Buffer[]]> {
  const delivered: Array<[string, Buffer[]]> = [];
  assembler.flush(readLength, (s) => delivered.push([s.name, s.inbox.splice(0)]));
  return delivered;
}

test('one read: each stream gets its pieces joined in order, plain and inflated alike, streams in first-touched order', (t) => {
  const assembler = new ReadAssembler<Slotted>();
  const [a, b] = [stream('a'), stream('b')];
  const text = Buffer.from('abc'.repeat(3000));
  assembler.add(b, Buffer.from('b1'), PLAIN);
  assembler.add(a, compressed(text), text.length);
  assembler.add(b, Buffer.from('b2'), PLAIN);
  assembler.add(a, Buffer.from('tail'), PLAIN);
  const delivered = flushAll(assembler, 65_536);
  t.deepEqual(delivered.map(([name, chunks]) => [name, chunks.length]), [['b', 1], ['a', 1]]);
  t.is(delivered[0][1][0].toString(), 'b1b2');
  t.true(delivered[1][1][0].equals(Buffer.concat([text, Buffer.from('tail')])));
  t.is(a.readSlot, -1, 'slots are released for the next read');
  t.true(assembler.empty);
});

test('a large piece that is most of the read goes on as the view it is; a small one is copied out of the read', (t) => {
  const assembler = new ReadAssembler<Slotted>();
  const read = Buffer.alloc(1000, 7);
  const big = read.subarray(0, 900);
  const small = read.subarray(900, 910);
  const [a, b] = [stream('a'), stream('b')];
  assembler.add(a, big, PLAIN);
  assembler.add(b, small, PLAIN);
  const [[, [bigOut]], [, [smallOut]]] = flushAll(assembler, read.length);
  t.is(bigOut.buffer, read.buffer, 'no copy of the big piece');
  t.not(smallOut.buffer, read.buffer, 'the small piece does not pin the read');
  t.true(smallOut.equals(small));
});

test('a compressed read of many megabytes for one stream arrives in chunks of at most JOINED_CHUNK_BYTES, every byte in order', (t) => {
  const assembler = new ReadAssembler<Slotted>();
  const a = stream('a');
  const frames = Array.from({ length: 200 }, (_, i) => Buffer.alloc(16 * 1024, i));
  for (const frame of frames) assembler.add(a, compressed(frame), frame.length);
  assembler.touch(stream('fin-only'));
  const delivered = flushAll(assembler, 20_000);
  const [, chunks] = delivered[0];
  t.true(chunks.every((chunk) => chunk.length <= JOINED_CHUNK_BYTES));
  t.is(chunks.length, (200 * 16 * 1024) / JOINED_CHUNK_BYTES);
  t.true(Buffer.concat(chunks).equals(Buffer.concat(frames)));
  t.deepEqual(delivered[1], ['fin-only', []], 'a stream touched without bytes (a bare FIN) is still told');
});

test('a corrupt compressed piece, or one that inflates to another length than it claims, is a COMPRESSION_ERROR', (t) => {
  const text = Buffer.from('hello hello hello hello hello hello');
  const cases: Array<[string, Buffer, number, RegExp]> = [
    ['corrupt block', Buffer.concat([Buffer.from([0, 0, 0, 40]), Buffer.from([0xff, 0xff, 0xff, 0xff, 0x01])]), 40, /corrupt lz4 block|inflated to/],
    ['claims more than it holds', compressed(text), text.length + 5, /lz4 block inflated to|corrupt lz4 block/],
  ];
  for (const [what, payload, inflated, message] of cases) {
    const assembler = new ReadAssembler<Slotted>();
    const a = stream('a');
    assembler.add(a, payload, inflated);
    const error = t.throws(() => flushAll(assembler, 100), { instanceOf: TunnelError }, what) as TunnelError;
    t.is(error.code, TunnelErrorCode.COMPRESSION, what);
    t.regex(error.message, message, what);
    t.is(a.readSlot, -1, `${what}: the stream's slot is released`);
  }
});
