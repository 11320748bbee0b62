import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { startProcess, type StartedProcess } from '@overlay/common';

export const run = promisify(execFile);

/** The built `overlay` command (pnpm test builds first). */
export const OVERLAY = fileURLToPath(new URL('../packages/cli/dist/main.js', import.meta.url));

/** Runs `overlay …` to completion; never throws, returns exit code and output. */
export async function overlay(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [OVERLAY, ...args], { env, timeout: 30_000 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const failure = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof failure.code === 'number' ? failure.code : 1, stdout: failure.stdout ?? '', stderr: failure.stderr ?? '' };
  }
}

/** Fails (never skips) when an outside tool the test talks to is missing. */
export async function requireCommand(command: string, debianPackage: string): Promise<void> {
  try {
    await run('sh', ['-c', `command -v ${command}`]);
  } catch {
    throw new Error(`${command} is missing: apt-get install -y ${debianPackage} (.ci/run installs it)`);
  }
}

/** Polls `probe` until it gives a value (not undefined; a throw counts as none); fails naming `what` after `timeoutMs`. */
export async function eventually<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000, everyMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    const value = await probe().catch((err: unknown) => void (last = err));
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms${last instanceof Error ? ` (${last.message})` : ''}`);
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}

/** Starts `overlay <command>` with `config` written to `<dir>/<name>.json`; waits for it to be ready and adds it to `processes`. */
export async function startOverlay(dir: string, processes: StartedProcess[], name: string, command: string, config: object): Promise<StartedProcess> {
  const file = join(dir, `${name}.json`);
  writeFileSync(file, JSON.stringify(config));
  const started = await startProcess(process.execPath, [OVERLAY, command, '--config', file], { readyTimeoutMs: 30_000 });
  processes.push(started);
  return started;
}
