import type { IncomingMessage } from 'node:http';
import { ConfigError, configProblems, createLogger, reloadRoute, type AdminRoute, type Logger, type ReloadOutcome } from '@overlay/common';

/** A started long-running role: what it prints in its ready line, and how to stop it. */
export interface Running {
  ready: Record<string, unknown>;
  /** Human lines printed after the ready line (stdout). */
  hints?: string[];
  close(): Promise<void>;
  /** Re-reads the config file and applies it; rejects with a ConfigError (old config kept) when it is bad. */
  reload?(): Promise<ReloadOutcome>;
}

/** What a role gets besides its logger: the admin route that reloads it (POST /reload). */
export interface RoleHooks {
  reloadRoute(authorize?: (req: IncomingMessage) => boolean): AdminRoute;
}

/** Prints every problem of a bad config, one line each, naming file and field. */
function printConfigProblems(prefix: string, err: ConfigError): void {
  for (const problem of configProblems(err)) process.stderr.write(`${prefix}: invalid config: ${problem.message}\n`);
}

/**
 * Runs a long-lived role: starts it, prints the ready line, stops it cleanly on SIGINT/SIGTERM and
 * reloads its config on SIGHUP (and POST /reload). A bad config at start is one line per problem on
 * stderr naming file and field, and exit code 2; a bad one at reload is logged and the old one kept.
 */
export async function runRole(role: string, start: (log: Logger, hooks: RoleHooks) => Promise<Running>): Promise<void> {
  const log = createLogger(role);
  let running: Running | undefined;
  // One reload at a time, each after the previous one finished: a second SIGHUP reads the file again.
  let reloads: Promise<unknown> = Promise.resolve();
  const reload = (via: string): Promise<ReloadOutcome> => {
    const next = reloads.then(async () => {
      if (!running?.reload) throw new Error(`${role} is ${running ? 'not reloadable' : 'still starting'}`);
      try {
        const outcome = await running.reload();
        log.info({ via, ...outcome }, 'config reloaded');
        if (outcome.restartNeeded.length) log.warn({ fields: outcome.restartNeeded }, 'changed fields kept until a restart');
        return outcome;
      } catch (err) {
        if (!(err instanceof ConfigError)) throw err;
        for (const problem of configProblems(err)) log.error({ via, file: problem.file, field: problem.field, problem: problem.message }, 'reload refused: invalid config, the old one stays');
        throw err;
      }
    });
    reloads = next.catch(() => undefined);
    return next;
  };
  process.on('SIGHUP', () => {
    reload('SIGHUP').catch((err: unknown) => {
      if (!(err instanceof ConfigError)) log.error({ err }, 'reload failed');
    });
  });
  try {
    running = await start(log, { reloadRoute: (authorize) => reloadRoute(() => reload('POST /reload'), authorize) });
  } catch (err) {
    if (err instanceof ConfigError) {
      printConfigProblems(`overlay ${role}`, err);
      process.exit(2);
    }
    log.fatal({ err }, `${role} failed to start`);
    process.stderr.write(`overlay ${role}: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  }
  process.stdout.write(`${JSON.stringify({ msg: 'ready', role, time: new Date().toISOString(), ...running.ready })}\n`);
  if (running.hints) process.stdout.write(`${running.hints.join('\n')}\n`);
  const started = running;
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'stopping');
    const force = setTimeout(() => process.exit(1), 10_000);
    force.unref();
    started.close().then(
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
