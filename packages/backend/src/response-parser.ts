/**
 * An incremental, strict HTTP/1.1 response parser (RFC 9112), pure: fed the bytes an origin connection
 * reads, in any split, it calls its sink with the final response head, body slices and the end. One
 * response at a time, for the request it was told to `expect`: interim 1xx heads are skipped, the body is
 * framed by Transfer-Encoding chunked, Content-Length or the connection's close. Whatever could make two
 * parties frame a response differently is refused (the connection is then dropped, never reused):
 * Content-Length with Transfer-Encoding, differing Content-Length values, a coding after chunked, a bare
 * CR or LF, obs-fold, a space before a field's colon, bytes the origin sends when no response is due.
 */

/** Codes of the errors an origin's malformed response raises (errors.ts maps them to 502 ERR_ORIGIN_FAILED). */
export const ResponseErrorCode = {
  /** The bytes are not a well-formed response (status line, fields, framing, chunk syntax). */
  malformed: 'ERR_ORIGIN_MALFORMED_RESPONSE',
  /** The head, a chunk-size line or the trailers passed the size limit. */
  tooLarge: 'ERR_ORIGIN_HEAD_TOO_LARGE',
  /** The connection ended before the response did. */
  closed: 'ERR_ORIGIN_CLOSED',
} as const;

export class ResponseError extends Error {
  constructor(
    readonly code: (typeof ResponseErrorCode)[keyof typeof ResponseErrorCode],
    message: string,
  ) {
    super(message);
    this.name = 'ResponseError';
  }
}

export interface ResponseSink {
  /** The final (non-1xx) head: status and the fields as sent, `[name, value, …]` (names as the origin spelled them). */
  onHead(status: number, rawHeaders: string[]): void;
  onBody(chunk: Buffer): void;
  /** The response ended; `reusable`: the connection may carry another request. */
  onEnd(reusable: boolean, keepAliveHintMs: number | undefined): void;
}

/** Largest response head (status line and fields), trailer section and chunk-size line, bytes (node:http's default). */
export const MAX_HEAD_BYTES = 16 * 1024;

const enum State {
  /** No response is due: any byte is an error. */
  Idle,
  Head,
  Length,
  ChunkSize,
  ChunkData,
  ChunkEnd,
  Trailers,
  UntilClose,
}

/** An HTTP token (RFC 9110 §5.6.2): field names, methods, transfer codings. */
export const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** Field values and the reason phrase: visible characters, SP, HTAB and obs-text; no CR, LF or other control. */
const BAD_VALUE = /[\x00-\x08\x0a-\x1f\x7f]/;
const STATUS_LINE = /^HTTP\/1\.([01]) ([1-9]\d\d)(?: [^\x00-\x08\x0a-\x1f\x7f]*)?$/;
const CHUNK_SIZE = /^([0-9A-Fa-f]{1,12})[ \t]*(?:;[^\x00-\x08\x0a-\x1f\x7f]*)?$/;
const DIGITS = /^\d{1,15}$/;
const KEEP_ALIVE_TIMEOUT = /(?:^|[,;\s])timeout\s*=\s*(\d+)/i;
const CRLF = Buffer.from('\r\n');
const HEAD_END = Buffer.from('\r\n\r\n');

function malformed(message: string): ResponseError {
  return new ResponseError(ResponseErrorCode.malformed, message);
}

/** Trims optional whitespace (SP, HTAB) only: String.trim would also take obs-text such as 0xA0. */
function trimOws(text: string): string {
  let start = 0;
  let end = text.length;
  while (start < end && isOws(text.charCodeAt(start))) start++;
  while (end > start && isOws(text.charCodeAt(end - 1))) end--;
  return start === 0 && end === text.length ? text : text.slice(start, end);
}

function isOws(code: number): boolean {
  return code === 32 || code === 9;
}

/** Whether an LF not preceded by CR occurs in `bytes` from `from` on. */
function hasBareLf(bytes: Buffer, from: number): boolean {
  for (let at = bytes.indexOf(10, from); at >= 0; at = bytes.indexOf(10, at + 1)) if (at === 0 || bytes[at - 1] !== 13) return true;
  return false;
}

/**
 * The `name: value` lines of `text` from `from` on (CRLF-separated) into a flat raw list, values without
 * their surrounding whitespace. Every byte of the section lands in a status line, a name or a value, so
 * the token test on names and BAD_VALUE on values refuse any bare CR or LF and any control character.
 */
function parseFields(text: string, from: number, into: string[]): void {
  while (from < text.length) {
    let end = text.indexOf('\r\n', from);
    if (end < 0) end = text.length;
    const colon = text.indexOf(':', from);
    // Leading whitespace (obs-fold) or whitespace before the colon fails the token test too.
    const name = colon < 0 || colon > end ? '' : text.slice(from, colon);
    if (!TOKEN.test(name)) throw malformed(`malformed header line ${JSON.stringify(text.slice(from, Math.min(end, from + 64)))}`);
    let start = colon + 1;
    let stop = end;
    while (start < stop && isOws(text.charCodeAt(start))) start++;
    while (stop > start && isOws(text.charCodeAt(stop - 1))) stop--;
    const value = text.slice(start, stop);
    if (BAD_VALUE.test(value)) throw malformed(`control character, bare CR or LF in the value of ${name}`);
    into.push(name, value);
    from = end + 2;
  }
}

interface Framing {
  /** -1: chunked; -2: until close; else the length. */
  length: number;
  reusable: boolean;
  keepAliveHintMs: number | undefined;
}

const CHUNKED = -1;
const UNTIL_CLOSE = -2;

/** How the body of a response is delimited (RFC 9112 §6.3), and whether the connection stays open. */
function framingOf(status: number, minor: string, raw: readonly string[], bodiless: boolean): Framing {
  let length: number | undefined;
  let codings: string | undefined;
  let connection = '';
  let keepAliveHintMs: number | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i];
    // Only the framing fields matter here; compare lower-cased names of their lengths alone.
    if (name.length !== 14 && name.length !== 17 && name.length !== 10) continue;
    const lower = name.toLowerCase();
    const value = raw[i + 1];
    if (lower === 'content-length') {
      for (const part of value.split(',')) {
        const text = trimOws(part);
        if (!DIGITS.test(text)) throw malformed(`invalid Content-Length ${JSON.stringify(value.slice(0, 32))}`);
        const n = Number(text);
        if (length !== undefined && length !== n) throw malformed('differing Content-Length values');
        length = n;
      }
    } else if (lower === 'transfer-encoding') {
      codings = codings === undefined ? value : `${codings},${value}`;
    } else if (lower === 'connection') {
      connection += `,${value.toLowerCase()}`;
    } else if (lower === 'keep-alive') {
      const seconds = KEEP_ALIVE_TIMEOUT.exec(value)?.[1];
      if (seconds !== undefined) keepAliveHintMs = Number(seconds) * 1000;
    }
  }
  const tokens = connection === '' ? [] : connection.split(',').map(trimOws);
  let reusable = minor === '1' ? !tokens.includes('close') : tokens.includes('keep-alive');
  if (codings !== undefined && length !== undefined) throw malformed('both Transfer-Encoding and Content-Length');
  if (bodiless || status === 204 || status === 304) return { length: 0, reusable, keepAliveHintMs };
  if (codings !== undefined) {
    const list = codings.split(',').map((coding) => trimOws(coding).toLowerCase());
    const chunkedAt = list.indexOf('chunked');
    if (chunkedAt !== list.length - 1 || list.some((coding) => !TOKEN.test(coding))) throw malformed(`unsupported Transfer-Encoding ${JSON.stringify(codings.slice(0, 64))}`);
    return { length: CHUNKED, reusable, keepAliveHintMs };
  }
  if (length !== undefined) return { length, reusable, keepAliveHintMs };
  reusable = false;
  return { length: UNTIL_CLOSE, reusable, keepAliveHintMs };
}

export class ResponseParser {
  private state = State.Idle;
  private bodiless = false;
  /** Bytes of a head, chunk-size line or trailer section not complete yet. */
  private pending: Buffer | undefined;
  /** Body bytes (or chunk bytes) still to come. */
  private remaining = 0;
  private framing: Framing | undefined;
  /** The response was given up (reset) in a sink call: the rest of the read is not looked at. */
  private dropped = false;

  constructor(
    private readonly sink: ResponseSink,
    private readonly maxHeadBytes = MAX_HEAD_BYTES,
  ) {}

  /** A response is due, for a request with this method (HEAD: no body whatever the head says). */
  expect(method: string): void {
    this.state = State.Head;
    this.bodiless = method === 'HEAD';
    this.pending = undefined;
    this.dropped = false;
  }

  /** Whether a response is being read (or awaited). */
  get busy(): boolean {
    return this.state !== State.Idle;
  }

  /** Feeds what the connection read; throws a ResponseError on malformed input (drop the connection then). */
  feed(chunk: Buffer): void {
    let at = 0;
    this.dropped = false;
    while (at < chunk.length && !this.dropped) {
      switch (this.state) {
        case State.Idle:
          throw malformed('the origin sent bytes when no response was due');
        case State.Head:
        case State.Trailers:
          at = this.section(chunk, at);
          break;
        case State.ChunkSize:
          at = this.chunkSize(chunk, at);
          break;
        case State.Length:
        case State.ChunkData: {
          const take = Math.min(this.remaining, chunk.length - at);
          this.remaining -= take;
          const slice = at === 0 && take === chunk.length ? chunk : chunk.subarray(at, at + take);
          at += take;
          this.sink.onBody(slice);
          if (this.remaining > 0) break;
          if (this.state === State.Length) this.end(chunk.length - at);
          else this.state = State.ChunkEnd;
          break;
        }
        case State.ChunkEnd:
          at = this.chunkEnd(chunk, at);
          break;
        case State.UntilClose:
          this.sink.onBody(at === 0 ? chunk : chunk.subarray(at));
          return;
      }
    }
  }

  /** The origin closed its side: ends a close-delimited body; anywhere else the response was cut short. */
  finish(): void {
    if (this.state === State.UntilClose) {
      this.state = State.Idle;
      this.sink.onEnd(false, undefined);
      return;
    }
    if (this.state !== State.Idle) throw new ResponseError(ResponseErrorCode.closed, 'the origin closed the connection before the response ended');
  }

  /** Takes bytes up to the empty line that ends a head or trailer section; returns where parsing goes on. */
  private section(chunk: Buffer, at: number): number {
    const previous = this.pending?.length ?? 0;
    const joined = previous > 0 ? Buffer.concat([this.pending as Buffer, chunk.subarray(at)]) : at === 0 ? chunk : chunk.subarray(at);
    // A trailer section may be empty: its end is the CRLF right at the start.
    if (this.state === State.Trailers && joined.length >= 2 && joined[0] === 13 && joined[1] === 10) {
      this.pending = undefined;
      return this.afterSection(chunk, at, previous, 2, '');
    }
    const end = joined.indexOf(HEAD_END, Math.max(0, previous - 3));
    if (end < 0) {
      if (joined.length > this.maxHeadBytes) throw new ResponseError(ResponseErrorCode.tooLarge, `response head over ${this.maxHeadBytes} bytes`);
      // A head with bare LF line ends would never show CRLF CRLF: refuse it now rather than time out.
      if (hasBareLf(joined, Math.max(0, previous - 1))) throw malformed('bare LF in the response head');
      this.pending = previous > 0 ? joined : Buffer.from(joined);
      return chunk.length;
    }
    if (end > this.maxHeadBytes) throw new ResponseError(ResponseErrorCode.tooLarge, `response head over ${this.maxHeadBytes} bytes`);
    this.pending = undefined;
    return this.afterSection(chunk, at, previous, end + 4, joined.toString('latin1', 0, end));
  }

  private afterSection(chunk: Buffer, at: number, previous: number, used: number, text: string): number {
    const next = at + used - previous;
    if (this.state === State.Trailers) {
      parseFields(text, 0, []);
      this.end(chunk.length - next);
      return next;
    }
    let lineEnd = text.indexOf('\r\n');
    if (lineEnd < 0) lineEnd = text.length;
    const statusLine = text.slice(0, lineEnd);
    const status = STATUS_LINE.exec(statusLine);
    if (!status) throw malformed(`malformed status line ${JSON.stringify(statusLine.slice(0, 64))}`);
    const code = Number(status[2]);
    const raw: string[] = [];
    parseFields(text, lineEnd + 2, raw);
    if (code < 200) {
      // 101 switches protocols, which a pooled request never asks for; other interim heads are skipped.
      if (code === 101) throw malformed('101 Switching Protocols to a request that asked for no upgrade');
      return next;
    }
    const framing = framingOf(code, status[1], raw, this.bodiless);
    this.framing = framing;
    this.sink.onHead(code, raw);
    if (this.dropped) return next;
    if (framing.length === CHUNKED) this.state = State.ChunkSize;
    else if (framing.length === UNTIL_CLOSE) this.state = State.UntilClose;
    else if (framing.length > 0) {
      this.state = State.Length;
      this.remaining = framing.length;
    } else this.end(chunk.length - next);
    return next;
  }

  private chunkSize(chunk: Buffer, at: number): number {
    const previous = this.pending?.length ?? 0;
    const joined = previous > 0 ? Buffer.concat([this.pending as Buffer, chunk.subarray(at)]) : at === 0 ? chunk : chunk.subarray(at);
    const end = joined.indexOf(CRLF, Math.max(0, previous - 1));
    if (end < 0) {
      if (joined.length > this.maxHeadBytes) throw new ResponseError(ResponseErrorCode.tooLarge, 'chunk-size line too long');
      this.pending = previous > 0 ? joined : Buffer.from(joined);
      return chunk.length;
    }
    this.pending = undefined;
    const line = joined.toString('latin1', 0, end);
    const size = CHUNK_SIZE.exec(line);
    if (!size) throw malformed(`malformed chunk-size line ${JSON.stringify(line.slice(0, 32))}`);
    this.remaining = parseInt(size[1], 16);
    this.state = this.remaining === 0 ? State.Trailers : State.ChunkData;
    return at + end + 2 - previous;
  }

  /** The CRLF after a chunk's data, possibly split across reads. */
  private chunkEnd(chunk: Buffer, at: number): number {
    const seen = this.remaining; // CRLF bytes already taken (0 or 1)
    for (let i = seen; i < 2; i++) {
      if (at >= chunk.length) {
        this.remaining = i;
        return at;
      }
      if (chunk[at] !== (i === 0 ? 13 : 10)) throw malformed('chunk data not followed by CRLF');
      at++;
    }
    this.remaining = 0;
    this.state = State.ChunkSize;
    return at;
  }

  /** The response ended; `left` bytes follow it in the same read (never expected: the connection is not reused). */
  private end(left: number): void {
    const framing = this.framing as Framing;
    this.state = State.Idle;
    this.framing = undefined;
    this.sink.onEnd(framing.reusable && left === 0, framing.keepAliveHintMs);
    if (left > 0) throw malformed('the origin sent bytes after the response');
  }

  /** The connection stops reading this response (aborted, failed): nothing more is expected. */
  reset(): void {
    this.dropped = true;
    this.state = State.Idle;
    this.pending = undefined;
    this.framing = undefined;
  }
}
