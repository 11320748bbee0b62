import type { OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { CachedResponse } from '@overlay/cache';
import { endToEndFlat, flatPairs, type ResponseHead } from '@overlay/stream-heads';

export type CacheStatus = 'HIT' | 'MISS' | 'BYPASS';

/** What the front-end stamps on every response it relays or serves (CONTRACT.md). */
export interface OverlayStamp {
  frontEnd: string;
  priority?: number;
  cache?: CacheStatus;
  backEnd?: string;
  /** `x-request-id`: the client's own, or the one generated for the request (access-log.ts). */
  requestId?: string;
}

/** Response fields the front-end sets itself; a back-end's copies are dropped. */
const OWN_FIELDS = new Set(['x-overlay-frontend', 'x-overlay-priority', 'x-overlay-cache', 'x-overlay-backend', 'x-overlay-error', 'x-request-id']);
/** The same, and Content-Length: for an answer whose end is the connection's close. */
const OWN_FIELDS_AND_LENGTH = new Set([...OWN_FIELDS, 'content-length']);

/** The stamp's fields appended to a flat name, value list; `backEnd` in place of the stamp's own. */
function pushStamp(list: string[], stamp: OverlayStamp, backEnd: string | undefined): string[] {
  list.push('x-overlay-frontend', stamp.frontEnd);
  if (backEnd !== undefined) list.push('x-overlay-backend', backEnd);
  if (stamp.priority !== undefined) list.push('x-overlay-priority', String(stamp.priority));
  if (stamp.cache !== undefined) list.push('x-overlay-cache', stamp.cache);
  if (stamp.requestId !== undefined) list.push('x-request-id', stamp.requestId);
  return list;
}

export function stampPairs(stamp: OverlayStamp): Array<[string, string]> {
  const flat = pushStamp([], stamp, stamp.backEnd);
  const pairs: Array<[string, string]> = [];
  for (let i = 0; i < flat.length; i += 2) pairs.push([flat[i], flat[i + 1]]);
  return pairs;
}

/**
 * The back-end's end-to-end response fields (order kept, repeated fields kept), then the stamp with the
 * reply's back-end, as a flat list; without Content-Length when the body is delimited by closing the
 * connection. No object spread here: copying the stamp to add a field cost more than the list.
 */
export function relayedFields(reply: ResponseHead, stamp: OverlayStamp, closeDelimited = false): string[] {
  return pushStamp(endToEndFlat(reply.headers, closeDelimited ? OWN_FIELDS_AND_LENGTH : OWN_FIELDS), stamp, reply.backEnd);
}

/** Pairs as a map for the cache: repeated fields become arrays. */
export function headerMap(pairs: ReadonlyArray<readonly [string, string]>): Record<string, string | string[]> {
  // No prototype: a field named `constructor` or `__proto__` is just a field.
  const map: Record<string, string | string[]> = Object.create(null);
  for (const [name, value] of pairs) {
    const prior = map[name];
    map[name] = prior === undefined ? value : Array.isArray(prior) ? [...prior, value] : [prior, value];
  }
  return map;
}

/** A short text answer the front-end gives itself, with `x-overlay-error` naming the stable code. */
export function sendLocal(
  res: ServerResponse,
  status: number,
  text: string,
  stamp: OverlayStamp,
  extra: { code?: string; retryAfterSeconds?: number; close?: boolean } = {},
): number {
  if (res.headersSent || res.destroyed) {
    res.destroy();
    return 0;
  }
  const body = Buffer.from(`${text}\n`);
  const headers: OutgoingHttpHeaders = {
    'content-type': 'text/plain; charset=utf-8',
    'content-length': body.length,
    'cache-control': 'no-store',
    ...Object.fromEntries(stampPairs(stamp)),
  };
  if (extra.code) headers['x-overlay-error'] = extra.code;
  if (extra.retryAfterSeconds !== undefined) headers['retry-after'] = String(extra.retryAfterSeconds);
  // HTTP/2 has no Connection field (RFC 9113 §8.2.2): the stream ends, the connection stays.
  if (extra.close && res.req.httpVersionMajor < 2) headers.connection = 'close';
  res.writeHead(status, headers);
  const sent = res.req.method === 'HEAD' ? undefined : body;
  res.end(sent);
  return sent?.length ?? 0;
}

/** Kept with a stored response: the back-end that fetched it, reported again on every hit. */
export const STORED_BACKEND_FIELD = 'x-overlay-backend';

/**
 * A stored response, with the stamp; HEAD gets the head only. `x-overlay-backend` is the stamp's (the
 * back-end that just revalidated it) or else the one that fetched it.
 */
export function serveCached(res: ServerResponse, cached: CachedResponse, stamp: OverlayStamp): void {
  const stored = cached.headers[STORED_BACKEND_FIELD];
  const backEnd = stamp.backEnd ?? (typeof stored === 'string' ? stored : undefined);
  const pairs: Array<[string, string]> = [];
  for (const [name, value] of Object.entries(cached.headers)) {
    if (OWN_FIELDS.has(name)) continue;
    for (const item of Array.isArray(value) ? value : [value]) pairs.push([name, item]);
  }
  res.writeHead(cached.status, flatPairs([...pairs, ...stampPairs({ ...stamp, backEnd })]));
  res.end(res.req.method === 'HEAD' ? undefined : cached.body);
}
