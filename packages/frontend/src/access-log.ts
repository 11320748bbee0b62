import { randomFillSync, randomUUID } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';

/**
 * Request ids and W3C trace context for one request: `x-request-id` kept when the client sent a sane one,
 * generated otherwise; `traceparent` continued (same trace, this front-end's span as the new parent) or
 * started. Both go to the back-end and the origin; the client gets `x-request-id` back.
 */
export interface RequestTrace {
  requestId: string;
  traceparent: string;
}

/** Printable ASCII without spaces, as ids are logged and echoed: anything else is replaced. */
const REQUEST_ID = /^[\x21-\x7e]{1,128}$/;
/** Version 00 of the W3C header (https://www.w3.org/TR/trace-context/#traceparent-header). */
const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;
const ZERO_TRACE = '0'.repeat(32);
const ZERO_SPAN = '0'.repeat(16);

/** Random bytes drawn 4 KiB at a time: one syscall-backed fill per ~170 requests instead of one per id. */
const pool = Buffer.alloc(4096);
let poolOffset = pool.length;

function hex(bytes: 8 | 16): string {
  if (poolOffset + bytes > pool.length) {
    randomFillSync(pool);
    poolOffset = 0;
  }
  poolOffset += bytes;
  return pool.toString('hex', poolOffset - bytes, poolOffset);
}

function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? (value.length === 1 ? value[0] : undefined) : value;
}

export function requestTrace(headers: IncomingHttpHeaders): RequestTrace {
  const incomingId = single(headers['x-request-id']);
  const requestId = incomingId !== undefined && REQUEST_ID.test(incomingId) ? incomingId : randomUUID();
  const parent = TRACEPARENT.exec(single(headers.traceparent) ?? '');
  const traceId = parent && parent[1] !== ZERO_TRACE && parent[2] !== ZERO_SPAN ? parent[1] : undefined;
  // Continuing keeps the caller's sampling decision; a trace started here is marked sampled.
  const traceparent = traceId ? `00-${traceId}-${hex(8)}-${(parent as RegExpExecArray)[3]}` : `00-${hex(16)}-${hex(8)}-01`;
  return { requestId, traceparent };
}

/** The forwarded head's fields with the trace in place of whatever the client sent for it. */
export function withTrace(headers: Array<[string, string]>, trace: RequestTrace): Array<[string, string]> {
  const kept = headers.filter(([name]) => name !== 'x-request-id' && name !== 'traceparent');
  kept.push(['x-request-id', trace.requestId], ['traceparent', trace.traceparent]);
  return kept;
}
