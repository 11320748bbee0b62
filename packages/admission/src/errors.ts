import { OverlayError } from '@overlay/common';

/**
 * Stable codes of the errors this package raises. None of them means an origin failed: the request was
 * never sent, which is what lets a gateway tell "we were busy" from "the origin broke".
 */
export const AdmissionErrorCode = {
  /** Waited in the queue past `queueTimeoutMs`; the client already waited long, so do not retry. */
  queueTimeout: 'ERR_QUEUE_TIMEOUT',
  /** The queue already held `maxQueue` requests. Nothing was sent, so another back-end may take it. */
  queueFull: 'ERR_QUEUE_FULL',
  /** No healthy origin in the set. Another back-end may see healthier origins. */
  noOrigin: 'ERR_NO_ORIGIN',
  /** The caller's AbortSignal fired while the request waited (the client went away). */
  aborted: 'ERR_ABORTED',
} as const;

export function queueTimeoutError(waitedMs: number): OverlayError {
  return new OverlayError(AdmissionErrorCode.queueTimeout, `waited ${Math.round(waitedMs)} ms for a free origin slot`, {
    origin: 'upstream',
    retryable: false,
  });
}

export function queueFullError(maxQueue: number): OverlayError {
  return new OverlayError(AdmissionErrorCode.queueFull, `origin queue is full (${maxQueue} waiting)`, {
    origin: 'upstream',
    retryable: true,
  });
}

export function noOriginError(): OverlayError {
  return new OverlayError(AdmissionErrorCode.noOrigin, 'no healthy origin', { origin: 'upstream', retryable: true });
}

export function abortedError(reason: unknown): OverlayError {
  return new OverlayError(AdmissionErrorCode.aborted, 'request abandoned while queued', {
    origin: 'downstream',
    retryable: false,
    cause: reason,
  });
}
