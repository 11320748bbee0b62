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

/** Bytes of lines batched before they are written: one write per ~50 requests. */
const BATCH_BYTES = 16384;

/** Printable ASCII without `"` and `\\`: goes into JSON as it is. */
const PLAIN = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/;

function text(value: string): string {
  return PLAIN.test(value) ? `"${value}"` : JSON.stringify(value);
}

/** `,"name":value` for each field present, in AccessEntry's order: what JSON.stringify(entry) gives, at a fraction of its cost. */
function entryFields(entry: AccessEntry): string {
  let out = `,"client":${text(entry.client)},"method":${text(entry.method)}`;
  if (entry.host !== undefined) out += `,"host":${text(entry.host)}`;
  out += `,"path":${text(entry.path)},"status":${number(entry.status)},"bytesIn":${number(entry.bytesIn)},"bytesOut":${number(entry.bytesOut)}`;
  if (entry.priority !== undefined) out += `,"priority":${number(entry.priority)}`;
  if (entry.cache !== undefined) out += `,"cache":${text(entry.cache)}`;
  if (entry.backEnd !== undefined) out += `,"backEnd":${text(entry.backEnd)}`;
  if (entry.origin !== undefined) out += `,"origin":${text(entry.origin)}`;
  if (entry.frontEnd !== undefined) out += `,"frontEnd":${text(entry.frontEnd)}`;
  out += `,"durationMs":${milliseconds(entry.durationMs)}`;
  if (entry.requestId !== undefined) out += `,"requestId":${text(entry.requestId)}`;
  if (entry.traceparent !== undefined) out += `,"traceparent":${text(entry.traceparent)}`;
  return out;
}

function number(value: number): string {
  return Number.isFinite(value) ? String(value) : 'null';
}

/**
 * A duration in ms rounded to the µs (as callers give it) written from two integers: turning a fraction
 * into text is the costliest part of the line otherwise. `1.5` comes out `1.500`, the same number.
 */
function milliseconds(value: number): string {
  const micros = Math.round(value * 1000);
  // Exactly micros / 1000 (the double nearest that decimal), or it is written in full.
  if (!(micros >= 0 && micros < 1e12) || micros / 1000 !== value) return number(value);
  const fraction = micros % 1000;
  return `${(micros - fraction) / 1000}.${fraction < 10 ? '00' : fraction < 100 ? '0' : ''}${fraction}`;
}

/** The ISO time of now; the part up to the second is formatted once a second (toISOString is ~1 µs). */
let isoSecond = -1;
let isoPrefix = '';
function isoNow(): string {
  const now = Date.now();
  const second = Math.floor(now / 1000);
  if (second !== isoSecond) {
    isoSecond = second;
    isoPrefix = new Date(second * 1000).toISOString().slice(0, 20);
  }
  const ms = now - second * 1000;
  return `${isoPrefix}${ms < 10 ? '00' : ms < 100 ? '0' : ''}${ms}Z`;
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
  // Lines are encoded straight into a batch buffer handed over whole: through sonic-boom's own string
  // batching, each line was measured again with the whole buffer (Buffer.byteLength), then the string
  // flattened and encoded once more on the write.
  // In buffer mode the stream takes Buffers (its types only name strings).
  const stream = pino.destination({ fd: destination, sync: true, minLength: 0, contentMode: 'buffer' }) as unknown as { write(data: Buffer): boolean; flushSync(): void };
  const prefix = '{"level":30,"time":"';
  const middle = `","pid":${process.pid},"name":${JSON.stringify(name)}`;
  let batch = Buffer.allocUnsafe(BATCH_BYTES);
  let used = 0;
  const writeBatch = () => {
    if (used === 0) return;
    // The stream owns what it was given: the next lines go into a fresh buffer.
    stream.write(batch.subarray(0, used));
    batch = Buffer.allocUnsafe(BATCH_BYTES);
    used = 0;
  };
  const append = (line: string) => {
    // Three bytes per character at most (UTF-16 unit to UTF-8); a line longer than a batch goes alone.
    if (used + line.length * 3 > BATCH_BYTES) writeBatch();
    if (line.length * 3 > BATCH_BYTES) stream.write(Buffer.from(line));
    else used += batch.write(line, used);
  };
  let flush = () => undefined as void;
  let close = () => undefined as void;
  if (flushMs > 0) {
    const timer = setInterval(writeBatch, flushMs).unref();
    process.once('exit', writeBatch);
    flush = writeBatch;
    close = () => {
      clearInterval(timer);
      process.off('exit', writeBatch);
      writeBatch();
    };
  }
  return {
    write: (entry) => {
      if (!sampled(entry)) return;
      append(`${prefix}${isoNow()}${middle}${entryFields(entry)},"msg":"access"}\n`);
      if (flushMs === 0) writeBatch();
    },
    flush,
    close,
  };
}
