import type { RequestInfo } from '@overlay/balancer';
import { Cancellation } from '@overlay/common';
import type { ResponseHead } from '@overlay/stream-heads';
import { TunnelError, TunnelErrorCode, WireError, type TunnelStream } from '@overlay/tunnel';
import { StreamRecord } from './access-log.js';
import { sendErrorAnswer } from './answers.js';
import { answerFor } from './errors.js';
import type { Gateway } from './gateway.js';

/**
 * One tunnel stream being served: knows its site and request, notices when the front-end goes away
 * (`gone`), and does the bookkeeping every answer needs (metrics, logs).
 */
export class StreamExchange {
  /** Aborted when the front-end went away (reason: a TunnelError); `gone.signal` for APIs that need an AbortSignal. */
  readonly gone = new Cancellation();
  /** The access log line, written when the stream closes. */
  private readonly record: StreamRecord;

  constructor(
    readonly gateway: Gateway,
    readonly stream: TunnelStream,
    readonly site: string,
    /** What the balancer sees: path and method (TCP streams: `/` and CONNECT). */
    readonly request: RequestInfo,
    /** HTTP answers carry a short text body; TCP ones only the head. */
    readonly withBody: boolean,
  ) {
    this.record = new StreamRecord(stream.meta as ConstructorParameters<typeof StreamRecord>[0], site, request);
    // Read twice now (head, access record) and never again: an upgraded stream would hold it for its whole life.
    stream.meta = undefined;
    const gone = () => this.gone.abort(new TunnelError(TunnelErrorCode.STREAM_RESET, 'front-end went away'));
    // A stream that closes before both of its sides finished was reset (by the front-end, or its session died).
    stream.on('error', gone);
    // `on`, not `once`: an upgraded stream keeps this for its WebSocket's life, and once() adds two objects.
    stream.on('close', () => {
      if (stream.errored || !(stream.writableFinished && stream.readableEnded)) gone();
      gateway.accessLog(this.record.entry());
    });
  }

  /** Sends a REPLY head and counts it. */
  respond(head: ResponseHead): void {
    this.stream.respond(head);
    this.record.status = head.status;
    this.record.origin = head.origin;
    this.gateway.metrics.countRequest(this.site, String(head.status), head.origin ?? '');
  }

  /** Answers for the back-end itself (queue, health, connect failures…): status, `error.code`, short body. */
  answerError(error: unknown, origin?: string): void {
    const { gateway, stream } = this;
    const answer = answerFor(error);
    this.record.status = answer.status;
    this.record.origin = origin;
    const level = answer.status >= 500 ? 'warn' : 'info';
    gateway.log[level]({ site: this.site, code: answer.code, status: answer.status, origin, frontEnd: this.record.frontEnd, reason: answer.message }, 'answered with an error');
    gateway.metrics.errorAnswers.inc({ site: this.site, code: answer.code });
    if (stream.destroyed) return;
    gateway.metrics.countRequest(this.site, String(answer.status), origin ?? '');
    sendErrorAnswer(stream, gateway.id, answer, { withBody: this.withBody, origin });
  }

  /** The origin failed after the reply head went out: the front-end learns it from a RESET UPSTREAM_ERROR. */
  failUpstream(reason: string, origin: string): void {
    this.gateway.log.warn({ site: this.site, origin, reason }, 'origin failed mid-response; stream reset');
    this.gateway.metrics.streamFailures.inc({ reason: 'upstream' });
    this.stream.destroy(new TunnelError(TunnelErrorCode.STREAM_RESET, `origin ${origin} failed: ${reason}`, { wire: WireError.UPSTREAM_ERROR }));
  }

  /** The front-end went away while the origin was working for it. */
  cancelled(origin: string): void {
    this.gateway.log.debug({ site: this.site, origin }, 'front-end went away; origin request abandoned');
    this.gateway.metrics.streamFailures.inc({ reason: 'cancelled' });
  }

  countIn(bytes: number): void {
    this.record.bytesIn += bytes;
    this.gateway.metrics.bytesOf(this.site).in(bytes);
  }

  countOut(bytes: number): void {
    this.record.bytesOut += bytes;
    this.gateway.metrics.bytesOf(this.site).out(bytes);
  }
}
