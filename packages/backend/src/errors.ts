import { AdmissionErrorCode } from '@overlay/admission';
import { OverlayError, errorCode } from '@overlay/common';
import { ConnectionErrorCode } from './origin-connection.js';

/**
 * Stable codes of the answers the back-end gives itself (ResponseHead `error.code`; docs/back-end.md).
 * The admission codes (ERR_QUEUE_TIMEOUT, ERR_QUEUE_FULL, ERR_NO_ORIGIN) come from @overlay/admission.
 */
export const BackEndErrorCode = {
  /** No site of that name (or of that mode) on this back-end. */
  unknownSite: 'ERR_UNKNOWN_SITE',
  /** The request cannot be sent to any origin as it is (bad target, unsupported method). */
  badRequest: 'ERR_BAD_REQUEST',
  /** Connecting to the origin failed: nothing was sent, so another back-end may try. */
  originConnect: 'ERR_ORIGIN_CONNECT',
  /** The origin failed after the request was (maybe) sent and before its response head. */
  originFailed: 'ERR_ORIGIN_FAILED',
  /** The origin's response head did not arrive within `pool.responseTimeoutMs`. */
  originTimeout: 'ERR_ORIGIN_TIMEOUT',
  /** The request body arrived slower than `pool.minUploadBytesPerS`: the origin request was abandoned. */
  uploadTooSlow: 'ERR_UPLOAD_TOO_SLOW',
} as const;

/** What the front-end gets when the back-end answers for itself. */
export interface ErrorAnswer {
  status: number;
  code: string;
  retryable: boolean;
  message: string;
  /** Seconds the client might wait before trying again (503s that say so). */
  retryAfterS?: number;
}

const STATUS_BY_CODE: Record<string, number> = {
  [AdmissionErrorCode.queueTimeout]: 503,
  [AdmissionErrorCode.queueFull]: 503,
  [AdmissionErrorCode.noOrigin]: 503,
  [BackEndErrorCode.unknownSite]: 404,
  [BackEndErrorCode.badRequest]: 400,
  [BackEndErrorCode.originConnect]: 502,
  [BackEndErrorCode.originFailed]: 502,
  [BackEndErrorCode.originTimeout]: 504,
  [BackEndErrorCode.uploadTooSlow]: 408,
};

/** The answer for an OverlayError raised on the way to an origin; anything else is an internal failure (502). */
export function answerFor(error: unknown): ErrorAnswer {
  const code = errorCode(error);
  const status = STATUS_BY_CODE[code];
  if (status === undefined || !(error instanceof OverlayError)) {
    return { status: 502, code: BackEndErrorCode.originFailed, retryable: false, message: error instanceof Error ? error.message : String(error) };
  }
  const answer: ErrorAnswer = { status, code, retryable: error.retryable, message: error.message };
  if (code === AdmissionErrorCode.queueFull || code === AdmissionErrorCode.noOrigin) answer.retryAfterS = 1;
  return answer;
}

/** Code of the error a connect that took too long ends with (pooled HTTP and TCP mode). */
export const CONNECT_TIMEOUT_CODE = ConnectionErrorCode.connectTimeout;

/** System and undici codes that mean the connection to the origin never came up: the request was not sent. */
const CONNECT_CODES = new Set<string>([
  CONNECT_TIMEOUT_CODE, 'ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL', 'EHOSTDOWN',
  'UND_ERR_CONNECT_TIMEOUT', 'ERR_TLS_CERT_ALTNAME_INVALID', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'CERT_HAS_EXPIRED', 'ERR_SSL_WRONG_VERSION_NUMBER',
]);
const TIMEOUT_CODES = new Set<string>(['UND_ERR_HEADERS_TIMEOUT', 'ETIMEDOUT', ConnectionErrorCode.headersTimeout]);
const REQUEST_CODES = new Set<string>([ConnectionErrorCode.invalidRequest, ConnectionErrorCode.lengthMismatch, 'UND_ERR_INVALID_ARG', 'UND_ERR_REQ_CONTENT_LENGTH_MISMATCH', 'UND_ERR_NOT_SUPPORTED', 'ERR_INVALID_HTTP_TOKEN', 'ERR_INVALID_CHAR', 'ERR_UNESCAPED_CHARACTERS']);

function rawCode(error: unknown): string | undefined {
  const own = (error as { code?: unknown } | null)?.code;
  if (typeof own === 'string') return own;
  const cause = (error as { cause?: { code?: unknown } } | null)?.cause?.code;
  return typeof cause === 'string' ? cause : undefined;
}

/**
 * Turns an error from an origin exchange into the back-end's own: connect failures (retryable, nothing was
 * sent), response timeouts, requests the origin client refuses to send, and the rest (origin failed).
 */
export function originError(error: unknown, originId: string): OverlayError {
  const code = rawCode(error) ?? 'unknown';
  const detail = `${code}: ${error instanceof Error ? error.message : String(error)}`;
  if (CONNECT_CODES.has(code)) {
    return new OverlayError(BackEndErrorCode.originConnect, `cannot connect to origin ${originId} (${detail})`, { origin: 'upstream', retryable: true, cause: error });
  }
  if (TIMEOUT_CODES.has(code)) {
    return new OverlayError(BackEndErrorCode.originTimeout, `origin ${originId} sent no response head in time (${detail})`, { origin: 'upstream', cause: error });
  }
  if (REQUEST_CODES.has(code)) {
    return new OverlayError(BackEndErrorCode.badRequest, `request cannot be sent to an origin (${detail})`, { origin: 'downstream', cause: error });
  }
  return new OverlayError(BackEndErrorCode.originFailed, `origin ${originId} failed (${detail})`, { origin: 'upstream', cause: error });
}

export function unknownSiteError(site: string, kind: string): OverlayError {
  return new OverlayError(BackEndErrorCode.unknownSite, `no ${kind} site "${site}" on this back-end`, { origin: 'downstream' });
}

export function uploadTooSlowError(bytes: number, windowMs: number, minBytesPerS: number): OverlayError {
  return new OverlayError(BackEndErrorCode.uploadTooSlow, `request body arrived at ${bytes} bytes in ${windowMs} ms, below ${minBytesPerS} bytes/s`, { origin: 'downstream' });
}

export function badRequestError(message: string): OverlayError {
  return new OverlayError(BackEndErrorCode.badRequest, message, { origin: 'downstream' });
}
