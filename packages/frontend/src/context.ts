import type { AdmissionGate } from '@overlay/admission';
import type { HttpCache } from '@overlay/cache';
import type { AccessLogger, Logger } from '@overlay/common';
import type { FrontEndMetrics } from './metrics.js';
import type { SiteTable } from './sites.js';

/** What the request, upgrade and TCP paths share; `sites()` is read per request so updates apply at once. */
export interface GatewayContext {
  id: string;
  sites: () => SiteTable;
  gate: AdmissionGate;
  /** Undefined when the cache is disabled: every request is a BYPASS. */
  cache: HttpCache | undefined;
  metrics: FrontEndMetrics;
  log: Logger;
  /** One info line per request (config `accessLog`). */
  accessLog: AccessLogger;
  replyTimeoutMs: number;
}

/** Methods whose request may be sent twice without changing the result (RFC 9110 §9.2.2). */
export const IDEMPOTENT_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE']);

/** The path of an origin-form target, without the query. */
export function pathOf(target: string): string {
  const query = target.indexOf('?');
  return query < 0 ? target : target.slice(0, query);
}
