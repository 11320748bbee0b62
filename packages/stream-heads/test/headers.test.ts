import test from 'ava';
import { endToEndFlat, endToEndFromRaw } from '@overlay/stream-heads';

test('endToEndFromRaw lower-cases names, keeps order and repeats, drops hop-by-hop, Connection-named and skipped fields', (t) => {
  const raw = ['Host', 'a.test', 'Connection', 'keep-alive, X-Secret', 'X-Secret', 's', 'Set-Cookie', 'a=1', 'Transfer-Encoding', 'chunked', 'set-cookie', 'b=2', 'X-Overlay-Backend', 'spoof'];
  t.deepEqual(endToEndFromRaw(raw, new Set(['x-overlay-backend'])), [['host', 'a.test'], ['set-cookie', 'a=1'], ['set-cookie', 'b=2']]);
});

test('endToEndFromRaw reads undici Buffer lists as latin1', (t) => {
  const raw = [Buffer.from('Content-Type'), Buffer.from('text/plain'), Buffer.from('X-Name'), Buffer.from([0x63, 0x61, 0x66, 0xe9])];
  t.deepEqual(endToEndFromRaw(raw), [['content-type', 'text/plain'], ['x-name', 'café']]);
});

test('endToEndFlat gives the flat list of the end-to-end pairs, without the skipped ones', (t) => {
  const pairs: Array<[string, string]> = [['connection', 'x-a'], ['x-a', '1'], ['upgrade', 'websocket'], ['accept', '*/*'], ['host', 'h'], ['accept', 'text/html']];
  t.deepEqual(endToEndFlat(pairs, new Set(['host'])), ['accept', '*/*', 'accept', 'text/html']);
  t.deepEqual(endToEndFlat([]), []);
});
