import { ConfigError } from '@overlay/common';

/**
 * The heads gateways exchange on a tunnel stream (docs/protocol.md, "Stream heads").
 *
 * HTTP mode: one stream per request. The front-end's OPEN carries a RequestHead, then the request body
 * as DATA (de-chunked; FIN ends it). The back-end's REPLY carries a ResponseHead, then the response body
 * (de-chunked). A request with `upgrade` (WebSocket) turns raw after a 101 reply: bytes both ways.
 * TCP mode: one stream per client connection; OPEN carries a TcpHead, REPLY a ResponseHead with status
 * 200 once the origin connection is up, then raw bytes both ways.
 *
 * Every stream's heads are checked on both gateways, so the checks are written out by hand: a schema
 * library cost about 4 µs per head (measured), a few per cent of a gateway's CPU per request.
 */

export interface ClientAddress {
  ip: string;
  port: number;
}

export interface RequestHead {
  kind: 'http';
  site: string;
  method: string;
  /** Request target as the client sent it (origin-form: path and query). */
  target: string;
  /**
   * Header pairs in order, names lower-cased, hop-by-hop headers removed, X-Forwarded-* and Via added.
   * Exception: with `upgrade`, the client's `upgrade` header stays, so the back-end asks the origin for the
   * same protocol.
   */
  headers: Array<[string, string]>;
  client: ClientAddress;
  frontEnd: string;
  /** Priority applied by the front-end (also the stream's blender ring). */
  priority: number;
  /** The client asked for a protocol switch (WebSocket): the stream turns raw after a 101 reply. */
  upgrade?: boolean;
  /** False when the request has no body (the front-end ends its side right after OPEN). */
  hasBody: boolean;
}

export interface TcpHead {
  kind: 'tcp';
  site: string;
  client: ClientAddress;
  frontEnd: string;
  priority: number;
}

export type StreamHead = RequestHead | TcpHead;

export interface ResponseHead {
  status: number;
  headers: Array<[string, string]>;
  backEnd: string;
  /** Origin that served it, when one did. */
  origin?: string;
  /**
   * Set when the back-end answered itself because it could not get an origin's answer: the stable
   * error code, and whether the request may be retried through another back-end (nothing reached an origin).
   */
  error?: { code: string; retryable: boolean };
}

/** Limits a head must keep (docs/protocol.md §8). */
export const HEAD_LIMITS = Object.freeze({
  headers: 256,
  headerNameChars: 256,
  headerValueChars: 16 * 1024,
  siteChars: 253,
  targetChars: 16 * 1024,
  ipChars: 64,
  gatewayIdChars: 128,
  errorCodeChars: 64,
  maxPriority: 15,
});

/** An HTTP method token (RFC 9110 §9.1), at most 32 characters. */
const METHOD = /^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,32}$/;

/** Validates an OPEN frame's metadata; throws ConfigError naming the field. Unknown fields are dropped. */
export function parseStreamHead(meta: unknown): StreamHead {
  const head = record(meta, '');
  if (head.kind === 'http') return requestHead(head);
  if (head.kind === 'tcp') return tcpHead(head);
  throw new ConfigError('kind', 'must be "http" or "tcp"');
}

/** Validates a REPLY frame's metadata; throws ConfigError naming the field. Unknown fields are dropped. */
export function parseResponseHead(meta: unknown): ResponseHead {
  const head = record(meta, '');
  const parsed: ResponseHead = {
    status: integer(head.status, 'status', 100, 599),
    headers: headerList(head.headers),
    backEnd: text(head.backEnd, 'backEnd', 0, HEAD_LIMITS.gatewayIdChars),
  };
  if (head.origin !== undefined) parsed.origin = text(head.origin, 'origin', 0, HEAD_LIMITS.gatewayIdChars);
  if (head.error !== undefined) {
    const error = record(head.error, 'error');
    parsed.error = { code: text(error.code, 'error.code', 0, HEAD_LIMITS.errorCodeChars), retryable: flag(error.retryable, 'error.retryable') };
  }
  return parsed;
}

function requestHead(head: Record<string, unknown>): RequestHead {
  const method = text(head.method, 'method', 1, 32);
  if (!METHOD.test(method)) throw new ConfigError('method', 'must be an HTTP method token');
  const parsed: RequestHead = {
    kind: 'http',
    site: text(head.site, 'site', 1, HEAD_LIMITS.siteChars),
    method,
    target: text(head.target, 'target', 1, HEAD_LIMITS.targetChars),
    headers: headerList(head.headers),
    client: clientAddress(head.client),
    frontEnd: text(head.frontEnd, 'frontEnd', 0, HEAD_LIMITS.gatewayIdChars),
    priority: integer(head.priority, 'priority', 0, HEAD_LIMITS.maxPriority),
    hasBody: flag(head.hasBody, 'hasBody'),
  };
  if (head.upgrade !== undefined) parsed.upgrade = flag(head.upgrade, 'upgrade');
  return parsed;
}

function tcpHead(head: Record<string, unknown>): TcpHead {
  return {
    kind: 'tcp',
    site: text(head.site, 'site', 1, HEAD_LIMITS.siteChars),
    client: clientAddress(head.client),
    frontEnd: text(head.frontEnd, 'frontEnd', 0, HEAD_LIMITS.gatewayIdChars),
    priority: integer(head.priority, 'priority', 0, HEAD_LIMITS.maxPriority),
  };
}

function clientAddress(value: unknown): ClientAddress {
  const client = record(value, 'client');
  return { ip: text(client.ip, 'client.ip', 0, HEAD_LIMITS.ipChars), port: integer(client.port, 'client.port', 0, 65535) };
}

/** The header list as sent (its pairs are checked, not copied). */
function headerList(value: unknown): Array<[string, string]> {
  if (!Array.isArray(value)) throw new ConfigError('headers', 'must be a list of [name, value] pairs');
  if (value.length > HEAD_LIMITS.headers) throw new ConfigError('headers', `must have at most ${HEAD_LIMITS.headers} pairs`);
  for (let i = 0; i < value.length; i++) {
    const pair: unknown = value[i];
    if (!Array.isArray(pair) || pair.length !== 2) throw new ConfigError(`headers[${i}]`, 'must be a [name, value] pair');
    const [name, field] = pair as unknown[];
    if (typeof name !== 'string' || name.length > HEAD_LIMITS.headerNameChars) {
      throw new ConfigError(`headers[${i}][0]`, `must be a string of at most ${HEAD_LIMITS.headerNameChars} characters`);
    }
    if (typeof field !== 'string' || field.length > HEAD_LIMITS.headerValueChars) {
      throw new ConfigError(`headers[${i}][1]`, `must be a string of at most ${HEAD_LIMITS.headerValueChars} characters`);
    }
  }
  return value as Array<[string, string]>;
}

function record(value: unknown, field: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new ConfigError(field, 'must be an object');
  return value as Record<string, unknown>;
}

function text(value: unknown, field: string, min: number, max: number): string {
  if (typeof value !== 'string' || value.length < min || value.length > max) {
    throw new ConfigError(field, min > 0 ? `must be a string of ${min} to ${max} characters` : `must be a string of at most ${max} characters`);
  }
  return value;
}

function integer(value: unknown, field: string, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(field, `must be an integer from ${min} to ${max}`);
  }
  return value;
}

function flag(value: unknown, field: string): boolean {
  if (typeof value !== 'boolean') throw new ConfigError(field, 'must be true or false');
  return value;
}
