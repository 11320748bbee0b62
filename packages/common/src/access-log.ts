import { z } from 'zod';
import type { Logger } from './log.js';

/** `accessLog:` in a gateway config: one JSON line per request at info level, sampled. */
export const accessLogSchema = z.strictObject({
  enabled: z.boolean().default(true),
  /** Share of requests logged, 0..1; answers with status 500 and above are always logged. */
  sample: z.number().min(0).max(1).default(1),
});
export type AccessLogSettings = z.output<typeof accessLogSchema>;

/** One request as a gateway saw it (fields absent when they do not apply, e.g. no back-end for a 404). */
export interface AccessEntry {
  client: string;
  method: string;
  host?: string;
  path: string;
  status: number;
  bytesIn: number;
  bytesOut: number;
  priority?: number;
  cache?: string;
  backEnd?: string;
  origin?: string;
  frontEnd?: string;
  durationMs: number;
  requestId?: string;
  traceparent?: string;
}

export type AccessLogger = (entry: AccessEntry) => void;

/**
 * The access log: `msg: "access"` lines through the process's logger (JSON with `time`), so they go where
 * its other logs go. `random` is injected for tests of the sampling.
 */
export function createAccessLog(log: Logger, settings: AccessLogSettings, random: () => number = Math.random): AccessLogger {
  if (!settings.enabled) return () => undefined;
  const { sample } = settings;
  return (entry) => {
    if (entry.status < 500 && sample < 1 && random() >= sample) return;
    log.info(entry, 'access');
  };
}
