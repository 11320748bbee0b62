import type { AccessEntry } from '@overlay/common';
import type { RequestHead } from '@overlay/stream-heads';

/**
 * What the back-end's access log line says about one stream, filled in as it is served (exchange.ts):
 * the front-end's request id and trace context come from the head, status and origin from the answer.
 */
/**
 * A copy of a string that holds nothing else: msgpackr decodes a head's short strings as slices of one
 * string of the whole payload (about 600 B for a WebSocket's head), and a kept slice keeps all of it.
 */
function own(text: string | undefined): string | undefined {
  return text === undefined || text.length < 13 ? text : Buffer.from(text, 'utf8').toString('utf8');
}

export class StreamRecord {
  private readonly startedAt = performance.now();
  status = 0;
  origin: string | undefined;
  bytesIn = 0;
  bytesOut = 0;

  /** What the line needs of the stream head, taken at once: the head itself may go (a WebSocket's stream lives for hours). */
  private readonly fromHead: Pick<AccessEntry, 'client' | 'host' | 'path' | 'priority' | 'frontEnd' | 'requestId' | 'traceparent'>;

  constructor(head: Partial<Pick<RequestHead, 'headers' | 'target' | 'client' | 'frontEnd' | 'priority'>> | undefined, site: string, private readonly request: { path: string; method: string }) {
    const headers = head?.headers ?? [];
    const field = (name: string) => own(headers.find((pair) => pair[0] === name)?.[1]);
    this.fromHead = {
      client: own(head?.client?.ip) ?? '', host: field('host') ?? site, path: own(head?.target) ?? request.path,
      priority: head?.priority, frontEnd: head?.frontEnd, requestId: field('x-request-id'), traceparent: field('traceparent'),
    };
  }

  /** The front-end that opened the stream, when its head said. */
  get frontEnd(): string | undefined {
    return this.fromHead.frontEnd;
  }

  entry(): AccessEntry {
    const { client, host, path, priority, frontEnd, requestId, traceparent } = this.fromHead;
    // Fields set one by one, absent ones left out, in the line's order (no spread objects per request).
    // 499: the front-end went away before an answer, as the front-end itself counts a client that left.
    const entry = { client, method: this.request.method, host, path, status: this.status || 499, bytesIn: this.bytesIn, bytesOut: this.bytesOut } as AccessEntry;
    if (priority !== undefined) entry.priority = priority;
    if (frontEnd !== undefined) entry.frontEnd = frontEnd;
    if (this.origin !== undefined) entry.origin = this.origin;
    entry.durationMs = Math.round((performance.now() - this.startedAt) * 1000) / 1000;
    if (requestId !== undefined) entry.requestId = requestId;
    if (traceparent !== undefined) entry.traceparent = traceparent;
    return entry;
  }
}
