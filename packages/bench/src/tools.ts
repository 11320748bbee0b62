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

export interface HaproxyConfigOptions {
  /** Listen address, host:port. */
  bind: string;
  /** Server address, host:port, optionally followed by server-line options such as `maxconn 8`. */
  server: string;
  /** Extra lines for the backend section (e.g. `timeout queue 5s`). */
  backendLines?: string[];
  /** Connections HAProxy accepts at once (global and frontend). */
  maxconn?: number;
  /** Client, server, keep-alive and tunnel idle timeout, HAProxy time syntax. */
  idleTimeout?: string;
}

/**
 * The baseline proxy every scenario compares with: HAProxy, one thread, HTTP mode, reusing server-side
 * connections for any client (`http-reuse always`), in front of one server.
 */
export function haproxyConfig(options: HaproxyConfigOptions): string {
  const { bind, server, backendLines = [], maxconn = 4096, idleTimeout = '60s' } = options;
  return `global
  nbthread 1
  maxconn ${maxconn}
defaults
  mode http
  maxconn ${maxconn}
  timeout connect 5s
  timeout client ${idleTimeout}
  timeout server ${idleTimeout}
  timeout http-keep-alive ${idleTimeout}
  timeout tunnel ${idleTimeout}
  http-reuse always
frontend in
  bind ${bind}
  default_backend out
backend out
${backendLines.map((line) => `  ${line}\n`).join('')}  server s1 ${server}
`;
}
