import { pino, type Logger, type LoggerOptions } from 'pino';

export type { Logger } from 'pino';

/** Keys whose values must never reach a log line, at any depth pino can address. */
const SECRET_PATHS = [
  'psk', 'key', 'keys', 'token', 'password', 'secret', 'authorization',
  '*.psk', '*.key', '*.keys', '*.token', '*.password', '*.secret', '*.authorization',
  'headers.authorization', 'headers.cookie', '*.headers.authorization', '*.headers.cookie',
];

export interface LogOptions {
  level?: string;
  /** Where lines go; stderr by default so stdout stays free for the ready line. */
  destination?: NodeJS.WritableStream | number;
}

/** Structured JSON lines, one per event, with secrets redacted. */
export function createLogger(name: string, options: LogOptions = {}): Logger {
  const config: LoggerOptions = {
    name,
    level: options.level ?? process.env.OVERLAY_LOG_LEVEL ?? 'info',
    redact: { paths: SECRET_PATHS, censor: '[redacted]' },
    base: { pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  const destination = options.destination ?? 2;
  if (typeof destination === 'number') return pino(config, pino.destination({ fd: destination, sync: true }));
  return pino(config, destination);
}

/** A logger that drops everything: for tests and library users who pass none. */
export const silentLogger: Logger = pino({ level: 'silent' });

/**
 * Prints the one JSON line on stdout that says a long-running command accepts traffic.
 * Supervisors, the demo and the tests wait for it.
 */
export function printReadyLine(fields: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify({ msg: 'ready', time: new Date().toISOString(), ...fields })}\n`);
}
