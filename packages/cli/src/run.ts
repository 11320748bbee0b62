import { ConfigError, createLogger, type Logger } from '@overlay/common';

/** A started long-running role: what it prints in its ready line, and how to stop it. */
export interface Running {
  ready: Record<string, unknown>;
  /** Human lines printed after the ready line (stdout). */
  hints?: string[];
  close(): Promise<void>;
}

/**
 * Runs a long-lived role: starts it, prints the ready line, stops it cleanly on SIGINT/SIGTERM.
 * A bad config is one line on stderr naming file, field and problem, and exit code 2.
 */
export async function runRole(role: string, start: (log: Logger) => Promise<Running>): Promise<void> {
  const log = createLogger(role);
  let running: Running;
  try {
    running = await start(log);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`overlay ${role}: invalid config: ${err.message}\n`);
      process.exit(2);
    }
    log.fatal({ err }, `${role} failed to start`);
    process.stderr.write(`overlay ${role}: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  }
  process.stdout.write(`${JSON.stringify({ msg: 'ready', role, time: new Date().toISOString(), ...running.ready })}\n`);
  if (running.hints) process.stdout.write(`${running.hints.join('\n')}\n`);
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'stopping');
    const force = setTimeout(() => process.exit(1), 10_000);
    force.unref();
    running.close().then(
      () => process.exit(0),
      (err: unknown) => {
        log.error({ err }, 'error while stopping');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}
