import test from 'ava';
import fc from 'fast-check';
import { FrameDecoder, FrameType, HEADER_SIZE, ReceiveWindow, TunnelErrorCode, encodeFrame } from '@overlay/tunnel';

interface Frame { type: number; flags: number; id: number; payload: Buffer }

const frameArbitrary = fc.record({
  type: fc.integer({ min: 0, max: FrameType.QOS }),
  flags: fc.integer({ min: 0, max: 7 }),
  id: fc.integer({ min: 0, max: 0xffff_ffff }),
  payload: fc.uint8Array({ maxLength: 3000 }).map((bytes) => Buffer.from(bytes)),
});

/** Reference decoder: whole buffer at once, the slow obvious way. */
function referenceDecode(bytes: Buffer): Frame[] {
  const frames: Frame[] = [];
  let at = 0;
  while (at < bytes.length) {
    const length = bytes.readUInt32BE(at + 6);
    frames.push({ type: bytes[at], flags: bytes[at + 1], id: bytes.readUInt32BE(at + 2), payload: Buffer.from(bytes.subarray(at + HEADER_SIZE, at + HEADER_SIZE + length)) });
    at += HEADER_SIZE + length;
  }
  return frames;
}

test('property: the incremental decoder matches the reference however the bytes are split', (t) => {
  fc.assert(
    fc.property(fc.array(frameArbitrary, { maxLength: 30 }), fc.array(fc.integer({ min: 1, max: 4000 }), { minLength: 1, maxLength: 50 }), (frames, cuts) => {
      const wire = Buffer.concat(frames.map((f) => encodeFrame(f.type, f.flags, f.id, f.payload)));
      const decoded: Frame[] = [];
      const decoder = new FrameDecoder(1 << 16, (type, flags, id, payload) => decoded.push({ type, flags, id, payload: Buffer.from(payload) }));
      let at = 0;
      let cut = 0;
      while (at < wire.length) {
        const size = cuts[cut++ % cuts.length];
        decoder.push(wire.subarray(at, at + size));
        at += size;
      }
      t.deepEqual(decoded, referenceDecode(wire));
      t.true(decoder.idle);
    }),
    { numRuns: 300 },
  );
});

test('the decoder refuses unknown types and oversized lengths with specific codes', (t) => {
  const decoder = new FrameDecoder(1024, () => {});
  t.throws(() => decoder.push(encodeFrame(0xa, 0, 0)), { code: TunnelErrorCode.PROTOCOL, message: /unknown frame type 0xa/ });
  const big = Buffer.alloc(HEADER_SIZE);
  big.writeUInt32BE(1025, 6);
  t.throws(() => new FrameDecoder(1024, () => {}).push(big), { code: TunnelErrorCode.FRAME_SIZE });
});

test('a receive window advertises more only after half of it was consumed', (t) => {
  const window = new ReceiveWindow(1000, 1000, 0.5, 0);
  t.true(window.receive(1000));
  t.false(window.receive(1));
  const fresh = new ReceiveWindow(1000, 1000, 0.5, 0);
  fresh.receive(1000);
  t.is(fresh.consume(400, 1, 10, () => true), 0);
  t.is(fresh.consume(100, 2, 10, () => true), 500);
  t.true(fresh.receive(500));
});

test('a window doubles when its reader keeps up, within the ceiling and the session budget', (t) => {
  const window = new ReceiveWindow(1000, 4000, 0.5, 0);
  window.receive(1000);
  // Half the window consumed in 1 ms with a 10 ms RTT: the reader keeps up.
  t.is(window.consume(500, 1, 10, () => true), 1500);
  t.is(window.window, 2000);
  window.receive(1500);
  // Slow reader: 1000 ms for half a window, no growth.
  t.is(window.consume(1000, 1001, 10, () => true), 1000);
  t.is(window.window, 2000);
  // Budget refused: no growth either.
  window.receive(1000);
  window.consume(1000, 1002, 10, () => false);
  t.is(window.window, 2000);
  window.receive(1000);
  window.consume(1000, 1003, 10, () => true);
  window.receive(2000);
  window.consume(2000, 1004, 10, () => true);
  t.is(window.window, 4000);
});
