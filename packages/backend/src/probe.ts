import { connect } from 'node:net';
import { errorCode } from '@overlay/common';
import type { Agent } from 'undici';
import { request } from 'undici';
import type { OriginRuntime } from './origin.js';

export interface ProbeResult {
  ok: boolean;
  /** What went wrong, for the health log. */
  detail?: string;
  /** The freshness header's value in s (HTTP probes asked for one); absent when missing or unreadable. */
  freshness?: number;
}

/** Probe settings of an HTTP origin; `freshnessHeader`, lower case, is read from the answer. */
export interface HttpProbe {
  path: string;
  timeoutMs: number;
  expectStatus?: readonly number[];
  host?: string;
  freshnessHeader?: string;
}

/**
 * A freshness header's value on one scale, s: a plain number (a content version, a Unix time) as it is,
 * else an HTTP date (Last-Modified) as Unix time. Undefined when it is neither.
 */
export function parseFreshness(value: string | string[] | undefined): number | undefined {
  if (typeof value !== 'string') return undefined;
  const text = value.trim();
  if (/^-?\d+(\.\d+)?$/.test(text)) return Number(text);
  // Dates need a letter (a weekday or month): Date.parse reads bare digit groups as dates too. HTTP dates
  // are GMT; asctime-format ones do not say so, and Date.parse would read them as local time.
  const zoned = /(GMT|UTC|Z|[+-]\d{2}:?\d{2})$/i.test(text) ? text : `${text} GMT`;
  const ms = /[A-Za-z]/.test(text) ? Date.parse(zoned) : Number.NaN;
  return Number.isFinite(ms) ? ms / 1000 : undefined;
}

/** GET `path` on the origin; within `timeoutMs`, a status in `expectStatus` (default any 2xx or 3xx) is healthy. */
export async function probeHttp(agent: Agent, origin: OriginRuntime, check: HttpProbe): Promise<ProbeResult> {
  const { path, timeoutMs, expectStatus, host, freshnessHeader } = check;
  try {
    const response = await request(new URL(path, origin.url.origin), {
      dispatcher: agent,
      method: 'GET',
      headers: { 'user-agent': 'overlay-backend-health', ...(host ? { host } : {}) },
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
      signal: AbortSignal.timeout(timeoutMs),
    });
    await response.body.dump();
    const ok = expectStatus ? expectStatus.includes(response.statusCode) : response.statusCode >= 200 && response.statusCode < 400;
    if (!ok) return { ok, detail: `probe answered ${response.statusCode}` };
    const freshness = freshnessHeader === undefined ? undefined : parseFreshness(response.headers[freshnessHeader]);
    return freshness === undefined ? { ok } : { ok, freshness };
  } catch (err) {
    return { ok: false, detail: `probe failed: ${errorCode(err)}` };
  }
}

/** A TCP origin is healthy when it accepts a connection within `timeoutMs`. */
export function probeTcp(origin: OriginRuntime, timeoutMs: number): Promise<ProbeResult> {
  return new Promise((resolve) => {
    const socket = connect({ host: origin.host, port: origin.port });
    const done = (result: ProbeResult) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(result);
    };
    const timer = setTimeout(() => done({ ok: false, detail: `no connection within ${timeoutMs} ms` }), timeoutMs);
    socket.once('connect', () => done({ ok: true }));
    socket.once('error', (err) => done({ ok: false, detail: `probe failed: ${errorCode(err)}` }));
  });
}
