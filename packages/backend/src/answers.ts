import type { TunnelStream } from '@overlay/tunnel';
import { endToEndHeaders, type ResponseHead } from '@overlay/stream-heads';
import type { ErrorAnswer } from './errors.js';

/** The response header every answer carries: which back-end served it. */
export const BACKEND_HEADER = 'x-overlay-backend';

/** Longest message quoted in an error body, characters (details go to the log). */
const MAX_MESSAGE_CHARS = 200;

/** Header pairs of an undici or node:http response head (values of repeated fields are arrays). */
export function responsePairs(headers: Record<string, string | string[] | undefined>): Array<[string, string]> {
  const pairs: Array<[string, string]> = [];
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    for (const item of Array.isArray(value) ? value : [value]) pairs.push([name.toLowerCase(), item]);
  }
  return pairs;
}

/** The REPLY for an origin's answer: end-to-end headers only, plus x-overlay-backend. */
export function originResponseHead(status: number, headers: Array<[string, string]>, backEnd: string, origin: string): ResponseHead {
  const forwarded = endToEndHeaders(headers).filter(([name]) => name !== BACKEND_HEADER);
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
