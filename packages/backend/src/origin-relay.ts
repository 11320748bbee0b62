import { systemTimers, type TimerHandle, type Timers } from '@overlay/admission';
import type { RequestOutcome } from '@overlay/balancer';
import { errorCode, OverlayError } from '@overlay/common';
import { TunnelError, TunnelErrorCode, WireError } from '@overlay/tunnel';
import { originResponseHead } from './answers.js';
import type { DemandReader } from './demand-reader.js';
import { BackEndErrorCode, originError, uploadTooSlowError } from './errors.js';
import type { StreamExchange } from './exchange.js';
import type { OriginLease } from './lease.js';
import type { OriginHandler } from './origin-connection.js';

/**
 * One pooled origin request, relayed by its connection's handler straight into its tunnel stream: the
 * response head becomes the REPLY, each body chunk a stream write (the origin read pauses while the
 * stream's window is full), the end the stream's end. No response Readable or pipe sits in between (the
 * request API's per-request streams cost about 15 µs of CPU per request, measured).
 *
 * It speaks the handler interface of the origin connections (origin-connection.ts; onConnect, onHeaders
 * with the raw header list, onData, onComplete, onError), which is also the one undici's Client (HTTPS
 * origins) calls natively and its types mark deprecated: a handler with the newer
 * onRequestStart/onResponse* methods gets wrapped per request in an adapter that parses the raw list into
 * an object, and the trailers too, only for us to flatten the headers back into pairs (about 5 % of a
 * back-end's CPU, measured with perf on bench `gateway`). undici is pinned; test/backend covers this path.
 *
 * Settles with the connect error when the origin could not be reached (nothing was sent: the caller may
 * try another origin), else with undefined once the stream has been answered, relayed or abandoned.
 * The lease ends `ok` on a clean end, `error` when the origin fails (before the head: an error answer;
 * after it: RESET UPSTREAM_ERROR), `timeout`, or `cancelled` when the front-end went away.
 *
 * Two deadlines keep a slow or silent client from holding the origin slot (docs/back-end.md, "Slow
 * clients"): a response whose stream window stays full for `pool.stallTimeoutMs` is abandoned (origin cut,
 * stream reset TIMEOUT), and a request body slower than `pool.minUploadBytesPerS` over a window in which
 * the origin took all it was given is refused with 408 ERR_UPLOAD_TOO_SLOW (a reset once the head is out).
 */
export class OriginRelay implements OriginHandler {
  private abortOrigin: ((reason?: Error) => void) | undefined;
  private resumeOrigin: (() => void) | undefined;
  private headed = false;
  private drainWatched = false;
  private settled = false;
  private stall: TimerHandle | undefined;
  private uploadCheck: TimerHandle | undefined;
  private uploaded = 0;

  constructor(
    private readonly exchange: StreamExchange,
    private readonly lease: OriginLease,
    private readonly reader: DemandReader | undefined,
    private readonly settle: (connectFailure: OverlayError | undefined) => void,
    private readonly timers: Timers = systemTimers,
  ) {
    exchange.gone.addEventListener('abort', this.abort);
    if (reader && exchange.gateway.state.pool.minUploadBytesPerS > 0) this.watchUpload();
  }

  /** Counts request body bytes for the upload rate (the demand reader's onChunk). */
  uploadedBytes(bytes: number): void {
    this.uploaded += bytes;
  }

  onConnect(abort: (reason?: Error) => void): void {
    this.abortOrigin = abort;
    if (this.exchange.gone.aborted) this.abort();
  }

  /** Returns false to pause the origin read (never here: the body's writes decide). */
  onHeaders(statusCode: number, rawHeaders: Array<Buffer | string>, resume: () => void): boolean {
    if (statusCode < 200) return true; // 100 Continue and other interim heads stay on this leg
    const { exchange, lease } = this;
    this.headed = true;
    this.resumeOrigin = resume;
    lease.responded(statusCode);
    exchange.respond(originResponseHead(statusCode, rawHeaders, exchange.gateway.id, lease.origin.id));
    return true;
  }

  /** Returns false, pausing the origin read, while the stream's window is full; 'drain' resumes it. */
  onData(chunk: Buffer): boolean {
    this.lease.bytes += chunk.length; // counted in the metrics once, at the end
    const { stream } = this.exchange;
    const flowing = stream.write(chunk);
    if (flowing) return true;
    // Only a response that fills the window listens for 'drain' (most never do: no listener churn per request).
    if (!this.drainWatched) {
      this.drainWatched = true;
      stream.on('drain', this.resume);
    }
    const { stallTimeoutMs } = this.exchange.gateway.state.pool;
    if (stallTimeoutMs > 0 && this.stall === undefined) this.stall = this.timers.setTimeout(this.stalled, stallTimeoutMs);
    return false;
  }

  onComplete(): void {
    const { exchange } = this;
    exchange.stream.end();
    exchange.gateway.site(exchange.site)?.ranker.answered(exchange.request.path, this.lease.bytes);
    this.finish('ok');
  }

  onError(err: Error): void {
    const { exchange, lease } = this;
    const origin = lease.origin.id;
    this.reader?.detach();
    if (exchange.gone.aborted) {
      exchange.cancelled(origin);
      return this.finish('cancelled');
    }
    if (this.headed) {
      const reason = `${errorCode(err)}: ${err.message}`;
      this.finish('error', reason);
      return exchange.failUpstream(reason, origin);
    }
    const error = err instanceof OverlayError && err.code === BackEndErrorCode.uploadTooSlow ? err : originError(err, origin);
    if (error.code === BackEndErrorCode.originConnect) return this.finish('error', error.message, error);
    const outcome = error.code === BackEndErrorCode.originTimeout ? 'timeout' : error.code === BackEndErrorCode.badRequest || error.code === BackEndErrorCode.uploadTooSlow ? 'cancelled' : 'error';
    this.finish(outcome, error.message);
    exchange.answerError(error, origin);
  }

  private readonly abort = (): void => {
    this.abortOrigin?.(this.exchange.gone.reason as Error);
  };

  private readonly resume = (): void => {
    this.clearStall();
    this.resumeOrigin?.();
  };

  private clearStall(): void {
    if (this.stall !== undefined) this.timers.clearTimeout(this.stall);
    this.stall = undefined;
  }

  /** The reader took nothing for stallTimeoutMs: give the origin slot back, tell the front-end why. */
  private readonly stalled = (): void => {
    this.stall = undefined;
    const { exchange } = this;
    const ms = exchange.gateway.state.pool.stallTimeoutMs;
    exchange.gateway.metrics.abandoned.inc({ site: exchange.site, reason: 'slow-reader' });
    exchange.gateway.log.info({ site: exchange.site, origin: this.lease.origin.id, ms }, 'client read nothing; origin response abandoned');
    exchange.stream.destroy(new TunnelError(TunnelErrorCode.STREAM_RESET, `the client read nothing for ${ms} ms; response abandoned`, { wire: WireError.TIMEOUT }));
  };

  private watchUpload(): void {
    const { uploadWindowMs, minUploadBytesPerS } = this.exchange.gateway.state.pool;
    let windowStart = this.uploaded;
    this.reader?.takeHeldBack();
    const check = () => {
      this.uploadCheck = undefined;
      const reader = this.reader!;
      if (this.settled || reader.ended) return;
      const got = this.uploaded - windowStart;
      windowStart = this.uploaded;
      // A window in which the origin (or a connect) held the body back says nothing of the client.
      if (!reader.takeHeldBack() && got < (minUploadBytesPerS * uploadWindowMs) / 1000 && this.abortOrigin) {
        const { exchange } = this;
        exchange.gateway.metrics.abandoned.inc({ site: exchange.site, reason: 'slow-upload' });
        this.abortOrigin(uploadTooSlowError(got, uploadWindowMs, minUploadBytesPerS));
        return;
      }
      this.uploadCheck = this.timers.setTimeout(check, uploadWindowMs);
    };
    this.uploadCheck = this.timers.setTimeout(check, uploadWindowMs);
  }

  private finish(outcome: RequestOutcome, detail?: string, connectFailure?: OverlayError): void {
    if (this.settled) return;
    this.settled = true;
    this.clearStall();
    if (this.uploadCheck !== undefined) this.timers.clearTimeout(this.uploadCheck);
    this.exchange.gone.removeEventListener('abort', this.abort);
    if (this.drainWatched) this.exchange.stream.off('drain', this.resume);
    if (this.lease.bytes > 0) this.exchange.countOut(this.lease.bytes);
    this.lease.end(outcome, detail);
    this.settle(connectFailure);
  }
}
