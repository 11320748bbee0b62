import { OverlayError } from '@overlay/common';

/**
 * Stable codes of the answers the front-end gives itself (sent as `x-overlay-error`; docs/front-end.md).
 * `status` is the HTTP status the client sees.
 */
export const FrontEndErrorCode = {
  /** No site has this Host (404). */
  unknownSite: 'ERR_UNKNOWN_SITE',
  /** Admission refused the request: the front-end is overloaded (503 + Retry-After). */
  overloaded: 'ERR_OVERLOADED',
  /** Every back-end route of the site is at its high-water mark (503 + Retry-After). */
  backEndsFull: 'ERR_BACKENDS_FULL',
  /** No back-end route of the site is connected (502). */
  noBackEnd: 'ERR_NO_BACKEND',
  /** The stream to the back-end failed before a response head (502). */
  backEndFailed: 'ERR_BACKEND_FAILED',
  /** The back-end's response head was not valid (502). */
  badReply: 'ERR_BAD_REPLY',
  /** No response head within replyTimeoutMs (504). */
  replyTimeout: 'ERR_REPLY_TIMEOUT',
  /** The request head cannot cross the tunnel: too many or too long fields (431). */
  headTooLarge: 'ERR_HEAD_TOO_LARGE',
} as const;
export type FrontEndErrorCode = (typeof FrontEndErrorCode)[keyof typeof FrontEndErrorCode];

export interface ExchangeErrorOptions {
  retryAfterSeconds?: number;
  /** The last back-end tried, if any. */
  backEnd?: string;
  cause?: unknown;
}

/** A failed exchange with what the client should be told. */
export class ExchangeError extends OverlayError {
  readonly retryAfterSeconds: number | undefined;
  readonly backEnd: string | undefined;

  constructor(
    code: FrontEndErrorCode,
    message: string,
    readonly status: number,
    options: ExchangeErrorOptions = {},
  ) {
    super(code, message, { origin: 'upstream', retryable: false, cause: options.cause });
    this.name = 'ExchangeError';
    this.retryAfterSeconds = options.retryAfterSeconds;
    this.backEnd = options.backEnd;
  }
}
