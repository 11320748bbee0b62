import { z } from 'zod';
import { validate } from '@overlay/common';

/**
 * The heads gateways exchange on a tunnel stream (docs/protocol.md, "Stream heads").
 *
 * HTTP mode: one stream per request. The front-end's OPEN carries a RequestHead, then the request body
 * as DATA (de-chunked; FIN ends it). The back-end's REPLY carries a ResponseHead, then the response body
 * (de-chunked). A request with `upgrade` (WebSocket) turns raw after a 101 reply: bytes both ways.
 * TCP mode: one stream per client connection; OPEN carries a TcpHead, REPLY a ResponseHead with status
 * 200 once the origin connection is up, then raw bytes both ways.
 */

const headerList = z.array(z.tuple([z.string().max(256), z.string().max(16 * 1024)])).max(256);
const client = z.object({ ip: z.string().max(64), port: z.number().int().min(0).max(65535) });

export const requestHeadSchema = z.object({
  kind: z.literal('http'),
  site: z.string().min(1).max(253),
  method: z.string().regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,32}$/),
  /** Request target as the client sent it (origin-form: path and query). */
  target: z.string().min(1).max(16 * 1024),
  /**
   * Header pairs in order, names lower-cased, hop-by-hop headers removed, X-Forwarded-* and Via added.
   * Exception: with `upgrade`, the client's `upgrade` header stays, so the back-end asks the origin for the
   * same protocol.
   */
  headers: headerList,
  client,
  frontEnd: z.string().max(128),
  /** Priority applied by the front-end (also the stream's blender ring). */
  priority: z.number().int().min(0).max(15),
  /** The client asked for a protocol switch (WebSocket): the stream turns raw after a 101 reply. */
  upgrade: z.boolean().optional(),
  /** False when the request has no body (the front-end ends its side right after OPEN). */
  hasBody: z.boolean(),
});
export type RequestHead = z.infer<typeof requestHeadSchema>;

export const tcpHeadSchema = z.object({
  kind: z.literal('tcp'),
  site: z.string().min(1).max(253),
  client,
  frontEnd: z.string().max(128),
  priority: z.number().int().min(0).max(15),
});
export type TcpHead = z.infer<typeof tcpHeadSchema>;

export const streamHeadSchema = z.discriminatedUnion('kind', [requestHeadSchema, tcpHeadSchema]);
export type StreamHead = z.infer<typeof streamHeadSchema>;

export const responseHeadSchema = z.object({
  status: z.number().int().min(100).max(599),
  headers: headerList,
  backEnd: z.string().max(128),
  /** Origin that served it, when one did. */
  origin: z.string().max(128).optional(),
  /**
   * Set when the back-end answered itself because it could not get an origin's answer: the stable
   * error code, and whether the request may be retried through another back-end (nothing reached an origin).
   */
  error: z.object({ code: z.string().max(64), retryable: z.boolean() }).optional(),
});
export type ResponseHead = z.infer<typeof responseHeadSchema>;

/** Validates an OPEN frame's metadata; throws ConfigError naming the field. */
export function parseStreamHead(meta: unknown): StreamHead {
  return validate(streamHeadSchema, meta);
}

/** Validates a REPLY frame's metadata; throws ConfigError naming the field. */
export function parseResponseHead(meta: unknown): ResponseHead {
  return validate(responseHeadSchema, meta);
}

/** Hop-by-hop headers (RFC 9110 §7.6.1) never cross the tunnel; each leg sets its own. */
export const HOP_BY_HOP = new Set([
  'connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade',
  'proxy-authenticate', 'proxy-authorization',
]);

/** Header pairs without hop-by-hop ones, nor any named in Connection. Runs per request on both gateways: one pass, no allocation beyond the result. */
export function endToEndHeaders(pairs: ReadonlyArray<readonly [string, string]>): Array<[string, string]> {
  let named: Set<string> | undefined;
  for (const [name, value] of pairs) {
    if (name !== 'connection') continue;
    named ??= new Set();
    for (const token of value.split(',')) named.add(token.trim().toLowerCase());
  }
  const kept: Array<[string, string]> = [];
  for (const [name, value] of pairs) {
    if (!HOP_BY_HOP.has(name) && !named?.has(name)) kept.push([name, value]);
  }
  return kept;
}

/** Header pairs as a flat list (`[name, value, name, value …]`), the raw form node:http and undici take; keeps repeated fields. */
export function flatPairs(pairs: ReadonlyArray<readonly [string, string]>): string[] {
  const list = new Array<string>(pairs.length * 2);
  for (let i = 0; i < pairs.length; i++) {
    list[2 * i] = pairs[i][0];
    list[2 * i + 1] = pairs[i][1];
  }
  return list;
}

/** Node's rawHeaders (flat name/value list) as lower-cased pairs. */
export function headerPairs(rawHeaders: readonly string[]): Array<[string, string]> {
  const pairs: Array<[string, string]> = [];
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) pairs.push([rawHeaders[i].toLowerCase(), rawHeaders[i + 1]]);
  return pairs;
}
