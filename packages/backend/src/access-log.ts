import type { AccessEntry } from '@overlay/common';
import type { RequestHead } from '@overlay/stream-heads';

/**
 * What the back-end's access log line says about one stream, filled in as it is served (exchange.ts):
 * the front-end's request id and trace context come from the head, status and origin from the answer.
 */
export class StreamRecord {
  private readonly startedAt = performance.now();
  status = 0;
  origin: string | undefined;
  bytesIn = 0;
  bytesOut = 0;

  constructor(private readonly head: Partial<Pick<RequestHead, 'headers' | 'target' | 'client' | 'frontEnd' | 'priority'>> | undefined, private readonly site: string, private readonly request: { path: string; method: string }) {}

  entry(): AccessEntry {
    const headers = this.head?.headers ?? [];
    const field = (name: string) => headers.find((pair) => pair[0] === name)?.[1];
    return {
      client: this.head?.client?.ip ?? '',
      method: this.request.method,
      host: field('host') ?? this.site,
      path: this.head?.target ?? this.request.path,
      // 499: the front-end went away before an answer, as the front-end itself counts a client that left.
      status: this.status || 499,
      bytesIn: this.bytesIn,
      bytesOut: this.bytesOut,
      ...(this.head?.priority === undefined ? {} : { priority: this.head.priority }),
      ...(this.head?.frontEnd === undefined ? {} : { frontEnd: this.head.frontEnd }),
      ...(this.origin === undefined ? {} : { origin: this.origin }),
      durationMs: Math.round((performance.now() - this.startedAt) * 1000) / 1000,
      ...(field('x-request-id') === undefined ? {} : { requestId: field('x-request-id') }),
      ...(field('traceparent') === undefined ? {} : { traceparent: field('traceparent') }),
    };
  }
}
