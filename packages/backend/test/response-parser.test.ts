import test from 'ava';
import { ResponseError, ResponseErrorCode, ResponseParser } from '../src/response-parser.js';

interface Parsed {
  heads: Array<{ status: number; headers: string[] }>;
  body: string;
  ends: boolean[];
}

/** Parses `wire` fed in the pieces `cuts` splits it into (offsets), for a request with `method`. */
function parse(wire: string, cuts: number[] = [], method = 'GET', eof = false): Parsed {
  const parsed: Parsed = { heads: [], body: '', ends: [] };
  const parser = new ResponseParser({
    onHead: (status, headers) => parsed.heads.push({ status, headers }),
    onBody: (chunk) => (parsed.body += chunk.toString('latin1')),
    onEnd: (reusable) => parsed.ends.push(reusable),
  }, 256);
  parser.expect(method);
  const bytes = Buffer.from(wire, 'latin1');
  let from = 0;
  for (const cut of [...cuts, bytes.length]) {
    if (cut > from) parser.feed(bytes.subarray(from, cut));
    from = Math.max(from, cut);
  }
  if (eof) parser.finish();
  return parsed;
}

const wellFormed: Array<{ name: string; wire: string; method?: string; eof?: boolean; want: Parsed }> = [
  {
    name: 'Content-Length',
    wire: 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A:  a b \t\r\nx-a: second\r\n\r\nhello',
    want: { heads: [{ status: 200, headers: ['Content-Length', '5', 'X-A', 'a b', 'x-a', 'second'] }], body: 'hello', ends: [true] },
  },
  {
    name: 'chunked with extensions and trailers',
    wire: 'HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, Chunked\r\n\r\n5;ext=1\r\nhello\r\nA \r\n0123456789\r\n0\r\nX-Trailer: t\r\n\r\n',
    want: { heads: [{ status: 200, headers: ['Transfer-Encoding', 'gzip, Chunked'] }], body: 'hello0123456789', ends: [true] },
  },
  {
    name: 'close-delimited',
    wire: 'HTTP/1.1 200 OK\r\n\r\nuntil the end',
    eof: true,
    want: { heads: [{ status: 200, headers: [] }], body: 'until the end', ends: [false] },
  },
  {
    name: 'HEAD: no body whatever the length says',
    wire: 'HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n',
    method: 'HEAD',
    want: { heads: [{ status: 200, headers: ['Content-Length', '1000'] }], body: '', ends: [true] },
  },
  {
    name: '204 and 304 have no body',
    wire: 'HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n',
    want: { heads: [{ status: 304, headers: ['Content-Length', '10'] }], body: '', ends: [true] },
  },
  {
    name: 'interim 100 and 103 skipped',
    wire: 'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 201\r\nContent-Length: 2\r\n\r\nok',
    want: { heads: [{ status: 201, headers: ['Content-Length', '2'] }], body: 'ok', ends: [true] },
  },
  {
    name: 'Connection: close ends reuse; identical Content-Length repeats are one',
    wire: 'HTTP/1.1 200 OK\r\nConnection: Close\r\nContent-Length: 2, 2\r\nContent-Length: 2\r\n\r\nok',
    want: { heads: [{ status: 200, headers: ['Connection', 'Close', 'Content-Length', '2, 2', 'Content-Length', '2'] }], body: 'ok', ends: [false] },
  },
  {
    name: 'HTTP/1.0 is reused only with keep-alive',
    wire: 'HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n',
    want: { heads: [{ status: 200, headers: ['Connection', 'keep-alive', 'Content-Length', '0'] }], body: '', ends: [true] },
  },
];

for (const { name, wire, method, eof, want } of wellFormed) {
  test(`parses ${name}, however the bytes are split`, (t) => {
    t.deepEqual(parse(wire, [], method, eof), want, 'in one piece');
    for (let cut = 1; cut < wire.length; cut++) t.deepEqual(parse(wire, [cut], method, eof), want, `split at ${cut}`);
    t.deepEqual(parse(wire, Array.from({ length: wire.length }, (_, i) => i), method, eof), want, 'byte by byte');
  });
}

const malformed: Array<{ name: string; wire: string; code: string; eof?: boolean }> = [
  { name: 'a status line that is not HTTP/1.x', wire: 'HTTP/2 200 OK\r\n\r\n', code: ResponseErrorCode.malformed },
  { name: 'a two-digit status', wire: 'HTTP/1.1 20 OK\r\n\r\n', code: ResponseErrorCode.malformed },
  { name: 'bare LF line ends', wire: 'HTTP/1.1 200 OK\nContent-Length: 0\n\r\n\r\n', code: ResponseErrorCode.malformed },
  { name: 'a bare CR in a field', wire: 'HTTP/1.1 200 OK\r\nX-A: a\rb\r\n\r\n', code: ResponseErrorCode.malformed },
  { name: 'obs-fold', wire: 'HTTP/1.1 200 OK\r\nX-A: a\r\n b\r\nContent-Length: 0\r\n\r\n', code: ResponseErrorCode.malformed },
  { name: 'whitespace before the colon', wire: 'HTTP/1.1 200 OK\r\nContent-Length : 0\r\n\r\n', code: ResponseErrorCode.malformed },
  { name: 'a line without a colon', wire: 'HTTP/1.1 200 OK\r\nnonsense\r\n\r\n', code: ResponseErrorCode.malformed },
  { name: 'a NUL in a value', wire: 'HTTP/1.1 200 OK\r\nX-A: a\0b\r\n\r\n', code: ResponseErrorCode.malformed },
  { name: 'Content-Length with Transfer-Encoding', wire: 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n', code: ResponseErrorCode.malformed },
  { name: 'differing Content-Length values', wire: 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello', code: ResponseErrorCode.malformed },
  { name: 'a signed Content-Length', wire: 'HTTP/1.1 200 OK\r\nContent-Length: +5\r\n\r\nhello', code: ResponseErrorCode.malformed },
  { name: 'a coding after chunked', wire: 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n', code: ResponseErrorCode.malformed },
  { name: 'a Transfer-Encoding without chunked', wire: 'HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n', code: ResponseErrorCode.malformed },
  { name: 'a chunk size that is not hex', wire: 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n', code: ResponseErrorCode.malformed },
  { name: 'an over-long chunk size', wire: 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1000000000000\r\n', code: ResponseErrorCode.malformed },
  { name: 'chunk data without its CRLF', wire: 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nokX\r\n0\r\n\r\n', code: ResponseErrorCode.malformed },
  { name: 'a malformed trailer', wire: 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nbad trailer\r\n\r\n', code: ResponseErrorCode.malformed },
  { name: 'a 101 nobody asked for', wire: 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\n', code: ResponseErrorCode.malformed },
  { name: 'a second response behind the first (smuggled)', wire: 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n', code: ResponseErrorCode.malformed },
  { name: 'a head over the limit', wire: `HTTP/1.1 200 OK\r\nX-A: ${'a'.repeat(300)}\r\n\r\n`, code: ResponseErrorCode.tooLarge },
  { name: 'a head that never ends, over the limit', wire: `HTTP/1.1 200 OK\r\nX-A: ${'a'.repeat(300)}`, code: ResponseErrorCode.tooLarge },
  { name: 'a close before the length is read', wire: 'HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort', code: ResponseErrorCode.closed, eof: true },
  { name: 'a close inside the head', wire: 'HTTP/1.1 200 OK\r\nContent-Le', code: ResponseErrorCode.closed, eof: true },
];

for (const { name, wire, code, eof } of malformed) {
  test(`refuses ${name} (${code}), however the bytes are split`, (t) => {
    for (const cuts of [[], [Math.floor(wire.length / 2)], Array.from({ length: wire.length }, (_, i) => i)]) {
      const error = t.throws(() => parse(wire, cuts, 'GET', eof), { instanceOf: ResponseError }, `cuts ${cuts.length}`);
      t.is(error?.code as string | undefined, code);
    }
  });
}

test('a smuggled second response is refused after the first was delivered whole, not reusable', (t) => {
  const ends: boolean[] = [];
  let body = '';
  const parser = new ResponseParser({ onHead: () => {}, onBody: (chunk) => (body += chunk.toString()), onEnd: (reusable) => ends.push(reusable) });
  parser.expect('GET');
  t.throws(() => parser.feed(Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\n\r\n')), { instanceOf: ResponseError });
  t.is(body, 'ok');
  t.deepEqual(ends, [false]);
  t.throws(() => parser.feed(Buffer.from('x')), { instanceOf: ResponseError }, 'bytes when no response is due');
});
