import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { createInterface } from 'node:readline';

export interface StartedProcess {
  child: ChildProcess;
  /** The fields of the process's ready line. */
  ready: Record<string, unknown>;
  /** Lines it printed on stdout after the ready line. */
  output: string[];
  /** SIGTERM, then SIGKILL after `graceMs`; resolves with the exit code. */
  stop(graceMs?: number): Promise<number | null>;
}

export interface StartProcessOptions extends SpawnOptions {
  /** Fail when no ready line came within this many ms. */
  readyTimeoutMs?: number;
  /** Receives every stderr line (structured logs), e.g. to show them on failure. */
  onStderr?: (line: string) => void;
}

/**
 * Starts a long-running Overlay command and waits for its ready line: one JSON line on stdout with
 * "msg":"ready". Fails with the process's last stderr lines when it exits or times out first.
 */
export function startProcess(command: string, args: string[], options: StartProcessOptions = {}): Promise<StartedProcess> {
  const { readyTimeoutMs = 20_000, onStderr, ...spawnOptions } = options;
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], ...spawnOptions });
  const stderrTail: string[] = [];
  const output: string[] = [];
  createInterface({ input: child.stderr! }).on('line', (line) => {
    stderrTail.push(line);
    if (stderrTail.length > 20) stderrTail.shift();
    onStderr?.(line);
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const stop = async (graceMs = 5_000): Promise<number | null> => {
    if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    const code = await exited;
    clearTimeout(timer);
    return code;
  };
  return new Promise((resolve, reject) => {
    let ready: Record<string, unknown> | undefined;
    const fail = (why: string) => {
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(new Error(`${command} ${args.join(' ')}: ${why}\n${stderrTail.join('\n')}`));
    };
    const timer = setTimeout(() => fail(`no ready line within ${readyTimeoutMs} ms`), readyTimeoutMs);
    child.once('error', (err) => fail(err.message));
    child.once('exit', (code, signal) => {
      if (!ready) fail(`exited (${code ?? signal}) before its ready line`);
    });
    createInterface({ input: child.stdout! }).on('line', (line) => {
      if (ready) {
        output.push(line);
        return;
      }
      try {
        const parsed = JSON.parse(line) as Record<string, unknown>;
        if (parsed.msg === 'ready') {
          ready = parsed;
          clearTimeout(timer);
          resolve({ child, ready, output, stop });
        }
      } catch {
        // Not JSON: a human line before the ready line; ignore.
      }
    });
  });
}
