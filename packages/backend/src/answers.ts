import type { TunnelStream } from '@overlay/tunnel';
import { endToEndFromRaw, type ResponseHead } from '@overlay/stream-heads';
import type { ErrorAnswer } from './errors.js';

/** The response header every answer carries: which back-end served it. */
export const BACKEND_HEADER = 'x-overlay-backend';

const OWN_FIELD = new Set([BACKEND_HEADER]);

/** Longest message quoted in an error body, characters (details go to the log). */
const MAX_MESSAGE_CHARS = 200;

/**
 * The REPLY for an origin's answer from its raw header list (`[name, value, …]`: undici's Buffers or
 * node:http's `rawHeaders`): names lower-cased, values as latin1 like undici reads them, end-to-end
 * headers only, x-overlay-backend set to this back-end.
 */
export function originResponseHead(status: number, rawHeaders: ReadonlyArray<Buffer | string>, backEnd: string, origin: string): ResponseHead {
  const forwarded = endToEndFromRaw(rawHeaders, OWN_FIELD);
  forwarded.push([BACKEND_HEADER, backEnd]);
  return { status, headers: forwarded, backEnd, origin };
}

export interface ErrorAnswerOptions {
  /** TCP streams carry raw bytes: the head says it all, no body follows. */
  withBody: boolean;
  origin?: string;
}

/**
 * Answers for the back-end itself: a ResponseHead with `error: {code, retryable}` and, for HTTP, a short
 * text body naming the code. The request side is drained (discarded), so the stream can finish.
 */
export function sendErrorAnswer(stream: TunnelStream, backEnd: string, answer: ErrorAnswer, options: ErrorAnswerOptions): void {
  if (stream.destroyed) return;
  const body = options.withBody ? Buffer.from(`${answer.code}: ${answer.message.slice(0, MAX_MESSAGE_CHARS)}\n`) : Buffer.alloc(0);
  const headers: Array<[string, string]> = [];
  if (options.withBody) headers.push(['content-type', 'text/plain; charset=utf-8'], ['content-length', String(body.length)]);
  headers.push(['cache-control', 'no-store']);
  if (answer.retryAfterS !== undefined) headers.push(['retry-after', String(answer.retryAfterS)]);
  headers.push([BACKEND_HEADER, backEnd]);
  const head: ResponseHead = { status: answer.status, headers, backEnd, error: { code: answer.code, retryable: answer.retryable } };
  if (options.origin !== undefined) head.origin = options.origin;
  stream.respond(head);
  stream.end(body);
  stream.resume();
}
