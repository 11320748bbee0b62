import { ipBatch, runCommand } from './commands.js';

/** Every named network namespace on the machine (`ip netns list`). */
export async function listNamespaces(): Promise<string[]> {
  const { stdout } = await runCommand('ip', ['netns', 'list']);
  return stdout.split('\n').map((line) => line.split(' ')[0]).filter(Boolean);
}

/** PIDs of the processes living in a namespace; none when it is already gone. */
async function namespacePids(namespace: string): Promise<number[]> {
  try {
    const { stdout } = await runCommand('ip', ['netns', 'pids', namespace]);
    return stdout.split('\n').filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/**
 * Kills whatever still runs in the namespaces (SIGKILL: the polite SIGTERM came earlier, from whoever
 * started it), then deletes them; their veths, bridges and TUN go with them. Missing ones are skipped.
 */
export async function removeNamespaces(namespaces: string[]): Promise<void> {
  if (namespaces.length === 0) return;
  const pids = (await Promise.all(namespaces.map(namespacePids))).flat();
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
  await ipBatch(namespaces.map((namespace) => `netns del ${namespace}`), { force: true }).catch(() => {});
}
