import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** The built `overlay` command, run with this Node. */
export function overlayCli(): string {
  return fileURLToPath(new URL('../../cli/dist/main.js', import.meta.url));
}

/** Fails, naming the Debian package to install, when an outside tool the scenario measures against is missing. */
export async function requireTool(command: string, debianPackage: string): Promise<void> {
  try {
    await run('sh', ['-c', `command -v ${command}`]);
  } catch {
    throw new Error(`${command} is not installed: apt-get install -y ${debianPackage}`);
  }
}

/** A port free on 127.0.0.1 right now, for programs that must be told their port. */
export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  server.close();
  return port;
}
