import { OverlayError } from '@overlay/common';

/**
 * An API failure with its HTTP status and the stable `code` of the JSON error body
 * `{"error": {"code", "message"}}` (docs/api.md "Errors").
 */
export class ApiError extends OverlayError {
  constructor(
    readonly status: number,
    code: string,
    message: string,
  ) {
    super(code, message, { origin: 'downstream' });
    this.name = 'ApiError';
  }
}

export const invalid = (message: string) => new ApiError(400, 'invalid', message);
export const notFound = (message: string) => new ApiError(404, 'not_found', message);
export const conflict = (message: string) => new ApiError(409, 'conflict', message);
export const wrongRole = (message: string) => new ApiError(409, 'wrong_role', message);
