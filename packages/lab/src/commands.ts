import { execFile } from 'node:child_process';
import { access, constants } from 'node:fs/promises';
import { OverlayError } from '@overlay/common';

/** Output kept from a command run to completion, bytes per stream; past it the command fails. */
export const MAX_OUTPUT_BYTES = 16 * 1024 * 1024;
/** How long a command run to completion may take by default, ms. */
export const DEFAULT_EXEC_TIMEOUT_MS = 30_000;

export interface CommandOutput {
  stdout: string;
  stderr: string;
}

/** Runs a command to completion; rejects with its stderr when it fails or exits non-zero. */
export function runCommand(command: string, args: string[], options: { input?: string; timeoutMs?: number } = {}): Promise<CommandOutput> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      command,
      args,
      { timeout: options.timeoutMs ?? DEFAULT_EXEC_TIMEOUT_MS, maxBuffer: MAX_OUTPUT_BYTES, killSignal: 'SIGKILL' },
      (err, stdout, stderr) => {
        if (!err) return resolve({ stdout, stderr });
        const how = err.killed ? 'timed out' : `failed (${err.code ?? err.signal ?? err.message})`;
        reject(new OverlayError('ERR_LAB_COMMAND', `${command} ${args.join(' ')}: ${how}${stderr ? `: ${stderr.trim()}` : ''}`, { cause: err }));
      },
    );
    child.stdin?.on('error', () => {}); // a command that exits without reading its input is reported above
    child.stdin?.end(options.input ?? '');
  });
}

/** argv that runs `command` inside a network namespace (`ip netns exec` execs it: same PID, signals reach it). */
export function inNamespace(namespace: string, command: string, args: string[]): string[] {
  return ['netns', 'exec', namespace, command, ...args];
}

/** Runs `ip -batch -` (in `namespace` when given); with `force`, continues past failing lines. */
export function ipBatch(lines: string[], options: { namespace?: string; force?: boolean } = {}): Promise<CommandOutput> {
  const args = [...(options.namespace ? ['-n', options.namespace] : []), ...(options.force ? ['-force'] : []), '-batch', '-'];
  return runCommand('ip', args, { input: `${lines.join('\n')}\n` });
}

async function hasCommand(command: string, args: string[]): Promise<boolean> {
  try {
    await runCommand(command, args, { timeoutMs: 10_000 });
    return true;
  } catch {
    return false;
  }
}

/** Root, iproute2, python3 and /dev/net/tun; fails naming what is missing and how to get it. */
export async function checkPrerequisites(python: string): Promise<void> {
  const missing = (what: string) => new OverlayError('ERR_LAB_PREREQUISITE', `the WAN lab needs ${what}`, { origin: 'config' });
  if (process.platform !== 'linux') throw missing('Linux (network namespaces)');
  if (process.getuid?.() !== 0) throw missing('root (it creates network namespaces, bridges and a TUN device): run as root or with sudo');
  const [ip, py] = await Promise.all([hasCommand('ip', ['-V']), hasCommand(python, ['--version'])]);
  if (!ip) throw missing('`ip`: apt-get install -y iproute2');
  if (!py) throw missing(`\`${python}\`: apt-get install -y python3`);
  try {
    await access('/dev/net/tun', constants.R_OK | constants.W_OK);
  } catch {
    throw missing('/dev/net/tun (the tun kernel module; in a container: --device /dev/net/tun --cap-add NET_ADMIN)');
  }
}
