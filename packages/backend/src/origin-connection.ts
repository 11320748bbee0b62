import { connect, type Socket } from 'node:net';
import type { Readable } from 'node:stream';
import { ResponseParser, TOKEN, type ResponseSink } from './response-parser.js';

/**
 * What an origin connection calls back for one request: the subset of undici's dispatch handler the relay
 * speaks (origin-relay.ts), so one handler serves both this connection and undici's Client.
 */
export interface OriginHandler {
  /** The request started; `abort` cuts it (the handler then gets `onError(reason)`). */
  onConnect?(abort: (reason?: Error) => void): void;
  /** The final response head; returning false (or `onData` returning false) pauses reading until `resume`. */
  onHeaders?(statusCode: number, rawHeaders: Array<Buffer | string>, resume: () => void, statusText: string): boolean;
  onData?(chunk: Buffer): boolean;
  onComplete?(trailers: string[] | null): void;
  onError?(error: Error): void;
}

export interface OriginRequest {
  /** Origin-form target (`/path?query`). */
  path: string;
  method: string;
  /** Flat field list, `[name, value, …]`; Host among them. */
  headers: string[];
  /** The request body as the origin takes it; null when there is none. */
  body: Readable | null;
}

export interface OriginConnectionOptions {
  connectTimeoutMs: number;
  /** From the end of the request (its body sent) to the response head, ms. */
  headersTimeoutMs: number;
  /** Longest silence between body chunks while reading, ms; 0: none. */
  bodyTimeoutMs: number;
  /** An idle connection is closed after this, ms (a shorter `Keep-Alive: timeout` hint from the origin wins). */
  idleTimeoutMs: number;
}

/** Codes of the errors the connection itself raises (errors.ts maps them). */
export const ConnectionErrorCode = {
  /** Connecting took longer than `connectTimeoutMs` (TCP-mode connects use it too). */
  connectTimeout: 'ERR_CONNECT_TIMEOUT',
  headersTimeout: 'ERR_ORIGIN_HEADERS_TIMEOUT',
  bodyTimeout: 'ERR_ORIGIN_BODY_TIMEOUT',
  /** A field name or value, the target or the method cannot be written as HTTP/1.1 (CR, LF, …). */
  invalidRequest: 'ERR_INVALID_ORIGIN_REQUEST',
  /** The body was longer or shorter than its Content-Length. */
  lengthMismatch: 'ERR_REQUEST_LENGTH_MISMATCH',
} as const;

function codedError(code: string, message: string): Error {
  return Object.assign(new Error(message), { code });
}

const BAD_VALUE = /[\x00-\x08\x0a-\x1f\x7f]/;
/** An origin-form target: no space or control character. */
const BAD_TARGET = /[\x00-\x20\x7f]/;
/** Methods whose requests carry a Content-Length even without a body (as undici sends them). */
const PAYLOAD_METHODS = new Set(['POST', 'PUT', 'PATCH']);

/**
 * The request head as one latin1 string; `chunked` when the body has no Content-Length. Throws on
 * anything that would let a field or the target break out of its line (request smuggling to the origin).
 */
function requestHead(request: OriginRequest): { head: string; length: number | undefined } {
  const { method, path, headers } = request;
  if (!TOKEN.test(method)) throw codedError(ConnectionErrorCode.invalidRequest, 'invalid request method');
  if (BAD_TARGET.test(path)) throw codedError(ConnectionErrorCode.invalidRequest, 'invalid request target');
  let head = `${method} ${path} HTTP/1.1\r\n`;
  let length: number | undefined;
  for (let i = 0; i + 1 < headers.length; i += 2) {
    const name = headers[i];
    const value = headers[i + 1];
    if (!TOKEN.test(name)) throw codedError(ConnectionErrorCode.invalidRequest, `invalid header name ${JSON.stringify(name.slice(0, 64))}`);
    if (BAD_VALUE.test(value)) throw codedError(ConnectionErrorCode.invalidRequest, `invalid value for header ${name}`);
    if (name.length === 14 && name.toLowerCase() === 'content-length') {
      const n = /^\d{1,15}$/.test(value) ? Number(value) : NaN;
      if (Number.isNaN(n) || (length !== undefined && length !== n)) throw codedError(ConnectionErrorCode.invalidRequest, 'invalid Content-Length');
      length = n;
    }
    head += `${name}: ${value}\r\n`;
  }
  if (request.body && length === undefined) head += 'transfer-encoding: chunked\r\n';
  else if (!request.body && length === undefined && PAYLOAD_METHODS.has(method)) head += 'content-length: 0\r\n';
  return { head: `${head}\r\n`, length };
}

const enum Deadline {
  None,
  Connect,
  Headers,
  Body,
  Idle,
}

/**
 * One keep-alive HTTP/1.1 connection to a plain-HTTP origin, one request at a time, on raw sockets: the
 * request head is written as one string, the response read by a strict parser (response-parser.ts) that
 * hands the body on as slices of what the socket read. It speaks undici Client's part that
 * origin-connections.ts uses (dispatch with the relay's handler, close, destroy) and, like a Client, it
 * (re)connects on demand: a connection the origin closed while idle is opened again by the next request.
 * A connection that fails, is aborted or reads anything it cannot frame is dropped, never reused.
 *
 * One timer per connection, re-armed lazily: each phase (connect, head, body silence, idle) only moves a
 * deadline, and the timer, when it fires early, sleeps again until the deadline in force.
 */
export class OriginConnection implements ResponseSink {
  private socket: Socket | undefined;
  private connected = false;
  private readonly parser = new ResponseParser(this);
  private handler: OriginHandler | undefined;
  /** The request body still being sent, and how to stop listening to it. */
  private body: Readable | undefined;
  private detachListeners: (() => void) | undefined;
  private paused = false;
  private closing = false;
  private closedWaiters: Array<() => void> = [];
  private deadline = Deadline.None;
  private deadlineAt = 0;
  private timer: NodeJS.Timeout | undefined;
  private timerAt = 0;
  private idleTimeoutMs: number;

  constructor(
    private readonly host: string,
    private readonly port: number,
    private readonly options: OriginConnectionOptions,
  ) {
    this.idleTimeoutMs = options.idleTimeoutMs;
  }

  /** Sends one request (the connection must be free). Always returns true, like an idle undici Client. */
  dispatch(request: OriginRequest, handler: OriginHandler): boolean {
    if (this.handler) throw new Error('origin connection already has a request in flight');
    this.handler = handler;
    let prepared: ReturnType<typeof requestHead>;
    try {
      prepared = requestHead(request);
    } catch (error) {
      this.handler = undefined;
      handler.onError?.(error as Error);
      return true;
    }
    handler.onConnect?.(this.abort);
    if (this.handler !== handler) return true; // aborted at once
    this.paused = false;
    this.parser.expect(request.method);
    const socket = this.socket ?? this.open();
    const send = () => {
      if (this.handler !== handler) return;
      this.arm(Deadline.Headers, this.options.headersTimeoutMs);
      socket.write(prepared.head, 'latin1');
      if (request.body) this.sendBody(socket, request.body, prepared.length);
    };
    if (this.connected) send();
    else socket.once('connect', send);
    return true;
  }

  /** Closes once the request in flight (if any) ended. */
  close(): Promise<void> {
    this.closing = true;
    if (!this.handler) this.drop();
    if (!this.socket) return Promise.resolve();
    return new Promise((resolve) => this.closedWaiters.push(resolve));
  }

  /** Cuts the connection, request in flight included. */
  destroy(): Promise<void> {
    this.closing = true;
    this.fail(codedError('ERR_ORIGIN_CONNECTION_DESTROYED', 'origin connection destroyed'));
    this.drop();
    return Promise.resolve();
  }

  onHead(status: number, rawHeaders: string[]): void {
    const handler = this.handler as OriginHandler;
    this.arm(Deadline.Body, this.options.bodyTimeoutMs);
    if (handler.onHeaders?.(status, rawHeaders, this.resume, '') === false) this.pause();
  }

  onBody(chunk: Buffer): void {
    const handler = this.handler as OriginHandler;
    if (this.deadline === Deadline.Body) this.deadlineAt = performance.now() + this.options.bodyTimeoutMs;
    if (handler.onData?.(chunk) === false) this.pause();
  }

  onEnd(reusable: boolean, keepAliveHintMs: number | undefined): void {
    const handler = this.handler as OriginHandler;
    this.handler = undefined;
    const bodyUnsent = this.body !== undefined;
    this.detachBody();
    if (this.paused) this.resume();
    if (keepAliveHintMs !== undefined) this.idleTimeoutMs = Math.min(this.options.idleTimeoutMs, Math.max(0, keepAliveHintMs - 1000));
    if (!reusable || bodyUnsent || this.closing || this.idleTimeoutMs === 0) this.drop();
    else this.arm(Deadline.Idle, this.idleTimeoutMs);
    handler.onComplete?.(null);
  }

  private open(): Socket {
    const socket = connect({ host: this.host, port: this.port, noDelay: true, keepAlive: true, keepAliveInitialDelay: 60_000 });
    this.socket = socket;
    this.connected = false;
    this.arm(Deadline.Connect, this.options.connectTimeoutMs);
    socket.once('connect', () => {
      this.connected = true;
    });
    socket.on('data', (chunk: Buffer) => this.read(socket, chunk));
    socket.on('end', () => this.ended(socket));
    socket.on('error', (error) => this.socketFailed(socket, error));
    socket.on('close', () => this.socketClosed(socket));
    return socket;
  }

  private read(socket: Socket, chunk: Buffer): void {
    if (socket !== this.socket) return;
    try {
      this.parser.feed(chunk);
    } catch (error) {
      this.failAndDrop(error as Error);
    }
  }

  private ended(socket: Socket): void {
    if (socket !== this.socket) return;
    try {
      this.parser.finish();
    } catch (error) {
      this.fail(error as Error);
    }
    this.drop();
  }

  private socketFailed(socket: Socket, error: Error): void {
    if (socket !== this.socket) return;
    this.failAndDrop(error);
  }

  private socketClosed(socket: Socket): void {
    if (socket === this.socket) {
      this.fail(codedError('ERR_ORIGIN_CLOSED', 'the origin connection closed before the response ended'));
      this.socket = undefined;
    }
    if (!this.socket) this.settleClose();
  }

  private failAndDrop(error: Error): void {
    this.fail(error);
    this.drop();
  }

  /** Ends the request in flight with `error` (once); the connection is dropped by the caller. */
  private fail(error: Error): void {
    const handler = this.handler;
    if (!handler) return;
    this.handler = undefined;
    this.parser.reset();
    this.detachBody();
    this.drop();
    handler.onError?.(error);
  }

  private readonly abort = (reason?: Error): void => {
    this.fail(reason ?? codedError('ERR_ORIGIN_REQUEST_ABORTED', 'origin request aborted'));
  };

  private readonly resume = (): void => {
    if (!this.paused) return;
    this.paused = false;
    if (this.deadline === Deadline.Body) this.deadlineAt = performance.now() + this.options.bodyTimeoutMs;
    this.socket?.resume();
  };

  private pause(): void {
    this.paused = true;
    this.socket?.pause();
  }

  private drop(): void {
    const socket = this.socket;
    this.disarm();
    if (!socket) return;
    this.socket = undefined;
    this.connected = false;
    socket.destroy(); // its 'close' settles close()
  }

  private settleClose(): void {
    if (this.socket) return;
    for (const resolve of this.closedWaiters.splice(0)) resolve();
  }

  private sendBody(socket: Socket, body: Readable, length: number | undefined): void {
    this.body = body;
    let sent = 0;
    const chunked = length === undefined;
    const mismatch = () => codedError(ConnectionErrorCode.lengthMismatch, `request body of ${sent} bytes does not match its Content-Length ${length}`);
    const onData = (chunk: Buffer) => {
      sent += chunk.length;
      if (!chunked && sent > (length as number)) return this.failAndDrop(mismatch());
      if (chunk.length === 0) return;
      let flowing: boolean;
      if (chunked) {
        socket.cork();
        socket.write(`${chunk.length.toString(16)}\r\n`, 'latin1');
        socket.write(chunk);
        flowing = socket.write('\r\n', 'latin1');
        socket.uncork();
      } else flowing = socket.write(chunk);
      if (!flowing) {
        body.pause();
        socket.once('drain', () => this.body === body && body.resume());
      }
    };
    const onEnd = () => {
      if (!chunked && sent !== length) return this.failAndDrop(mismatch());
      if (chunked) socket.write('0\r\n\r\n', 'latin1');
      this.detachBody(false);
      // The wait for the head counts from the end of the request.
      if (this.deadline === Deadline.Headers) this.arm(Deadline.Headers, this.options.headersTimeoutMs);
    };
    const onError = (error: Error) => this.failAndDrop(error);
    body.on('data', onData).on('end', onEnd).on('error', onError);
    this.detachListeners = () => body.off('data', onData).off('end', onEnd).off('error', onError);
  }

  /** Stops sending the body; `unsent` (a response that came before the body was all sent): let go of it. */
  private detachBody(unsent = true): void {
    const body = this.body;
    if (!body) return;
    this.body = undefined;
    this.detachListeners?.();
    this.detachListeners = undefined;
    if (unsent) body.destroy();
  }

  /** Sets the deadline of the phase now starting; 0 ms: none. */
  private arm(deadline: Deadline, ms: number): void {
    if (ms <= 0) return this.disarm();
    const at = performance.now() + ms;
    this.deadline = deadline;
    this.deadlineAt = at;
    // A timer already due before the new deadline wakes up and sleeps again: no new timer per phase.
    if (this.timer && this.timerAt <= at) return;
    if (this.timer) clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = setTimeout(this.expire, ms);
    this.timer.unref();
  }

  private periodOf(deadline: Deadline): number {
    return deadline === Deadline.Body ? this.options.bodyTimeoutMs : this.options.headersTimeoutMs;
  }

  private disarm(): void {
    this.deadline = Deadline.None;
  }

  private readonly expire = (): void => {
    this.timer = undefined;
    if (this.deadline === Deadline.None) return;
    const now = performance.now();
    // A paused read (a slow front-end) never times out on body silence: the relay's stall timer covers it.
    // Nor does the wait for the head while the request body is still being sent (as with undici).
    const held = (this.deadline === Deadline.Body && this.paused) || (this.deadline === Deadline.Headers && this.body !== undefined);
    if (held || now < this.deadlineAt - 1) {
      const ms = Math.max(1, held ? this.periodOf(this.deadline) : this.deadlineAt - now);
      this.timerAt = now + ms;
      this.timer = setTimeout(this.expire, ms);
      this.timer.unref();
      return;
    }
    const deadline = this.deadline;
    this.deadline = Deadline.None;
    if (deadline === Deadline.Idle) return this.drop();
    if (deadline === Deadline.Connect) return this.failAndDrop(codedError(ConnectionErrorCode.connectTimeout, `connect timeout after ${this.options.connectTimeoutMs} ms`));
    if (deadline === Deadline.Headers) return this.failAndDrop(codedError(ConnectionErrorCode.headersTimeout, `no response head within ${this.options.headersTimeoutMs} ms`));
    this.failAndDrop(codedError(ConnectionErrorCode.bodyTimeout, `no response body data for ${this.options.bodyTimeoutMs} ms`));
  };
}
