import { connect } from 'node:net';
import { errorCode } from '@overlay/common';
import type { Agent } from 'undici';
import { request } from 'undici';
import type { OriginRuntime } from './origin.js';

export interface ProbeResult {
  ok: boolean;
  /** What went wrong, for the health log. */
  detail?: string;
}

/** GET `path` on the origin; within `timeoutMs`, a status in `expectStatus` (default any 2xx or 3xx) is healthy. */
export async function probeHttp(agent: Agent, origin: OriginRuntime, check: { path: string; timeoutMs: number; expectStatus?: readonly number[]; host?: string }): Promise<ProbeResult> {
  const { path, timeoutMs, expectStatus, host } = check;
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
    return ok ? { ok } : { ok, detail: `probe answered ${response.statusCode}` };
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
