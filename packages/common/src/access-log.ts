import { pino } from 'pino';
import { z } from 'zod';
import type { Logger } from './log.js';

/** `accessLog:` in a gateway config: one JSON line per request at info level, sampled. */
export const accessLogSchema = z.strictObject({
  enabled: z.boolean().default(true),
  /** Share of requests logged, 0..1; answers with status 500 and above are always logged. */
  sample: z.number().min(0).max(1).default(1),
  /**
   * Lines are written in batches of up to 4 KiB, at the latest this long after the first one, ms (0: one
   * write per line). Batching cuts the per-request cost several times; the batch is flushed at exit.
   */
  flushMs: z.number().int().min(0).max(10_000).default(1000),
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

export interface AccessLogOptions {
  /** Where the lines go: a file descriptor (default 2, stderr, beside the process's other logs) or a logger. */
  destination?: number | Logger;
  /** For tests of the sampling. */
  random?: () => number;
}

export interface AccessLog {
  write: AccessLogger;
  /** Writes what is batched; call before exit (also done on the process's `exit`). */
  flush(): void;
  close(): void;
}

/**
 * The access log: `msg: "access"` JSON lines at info level with `time`, `pid` and `name`, the shape of the
 * process's other lines, but written by a path of its own: no redaction pass (an entry holds no header
 * value or secret by construction), the line put together here rather than by pino, and writes batched
 * (`flushMs`). Silent when the process logger is (tests, libraries).
 */
export function createAccessLog(name: string, log: Logger, settings: AccessLogSettings, options: AccessLogOptions = {}): AccessLog {
  const idle: AccessLog = { write: () => undefined, flush: () => undefined, close: () => undefined };
  if (!settings.enabled || !log.isLevelEnabled('info')) return idle;
  const { sample, flushMs } = settings;
  const random = options.random ?? Math.random;
  const destination = options.destination ?? 2;
  const sampled = (entry: AccessEntry) => entry.status >= 500 || sample >= 1 || random() < sample;
  if (typeof destination !== 'number') {
    return { write: (entry) => void (sampled(entry) && destination.info(entry, 'access')), flush: () => undefined, close: () => undefined };
  }
  const stream = pino.destination({ fd: destination, sync: true, minLength: flushMs > 0 ? 4096 : 0 });
  const prefix = '{"level":30,"time":"';
  const middle = `","pid":${process.pid},"name":${JSON.stringify(name)}`;
  let flush = () => undefined as void;
  let close = () => undefined as void;
  if (flushMs > 0) {
    const onExit = () => stream.flushSync();
    const timer = setInterval(() => stream.flush(), flushMs).unref();
    process.once('exit', onExit);
    flush = () => stream.flushSync();
    close = () => {
      clearInterval(timer);
      process.off('exit', onExit);
      stream.flushSync();
    };
  }
  return {
    write: (entry) => {
      if (!sampled(entry)) return;
      const fields = JSON.stringify(entry);
      stream.write(`${prefix}${new Date().toISOString()}${middle}${fields.length > 2 ? `,${fields.slice(1, -1)}` : ''},"msg":"access"}\n`);
    },
    flush,
    close,
  };
}
