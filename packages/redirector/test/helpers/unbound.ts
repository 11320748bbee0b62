/** A real unbound resolver on loopback, validating with a trust anchor and sent to a stub server. */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '@overlay/common';

export interface RunningUnbound {
  port: number;
  close(): Promise<void>;
}

/** Starts unbound for `zone` (trust anchor `trustAnchor`, a DS line), asking the server at 127.0.0.1:`stubPort`. */
export async function startUnbound(zone: string, stubPort: number, trustAnchor: string): Promise<RunningUnbound> {
  const dir = await mkdtemp(join(tmpdir(), 'overlay-unbound-'));
  const port = await freePort();
  await writeFile(
    join(dir, 'unbound.conf'),
    `server:
  interface: 127.0.0.1
  port: ${port}
  do-ip6: no
  username: ""
  chroot: ""
  directory: "${dir}"
  pidfile: ""
  use-syslog: no
  logfile: "${dir}/unbound.log"
  verbosity: 1
  val-log-level: 2
  do-not-query-localhost: no
  module-config: "validator iterator"
  trust-anchor: "${trustAnchor}"
  domain-insecure: "."
  harden-dnssec-stripped: yes
  qname-minimisation: no
  access-control: 127.0.0.0/8 allow
  # RFC 6761 names (test., ...) are answered locally by default; let the stub zone's be asked.
  local-zone: "${zone.split('.').pop()}." nodefault
stub-zone:
  name: "${zone}"
  stub-addr: 127.0.0.1@${stubPort}
remote-control:
  control-enable: no
`,
  );
  let child: ChildProcess;
  try {
    child = spawn('unbound', ['-d', '-c', join(dir, 'unbound.conf')], { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (err) {
    throw new Error(`unbound is required (apt-get install -y unbound): ${(err as Error).message}`);
  }
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.once('error', (err) => (stderr += String(err)));
  // Ready when it answers on its port.
  for (let i = 0; i < 100; i++) {
    if (child.exitCode !== null) throw new Error(`unbound exited: ${stderr}`);
    const listening = await new Promise<boolean>((resolve) => {
      const probe = spawnProbe(port);
      probe.once('exit', (code) => resolve(code === 0));
    });
    if (listening) break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return {
    port,
    close: async () => {
      child.kill('SIGTERM');
      await exited;
      await rm(dir, { recursive: true, force: true });
    },
  };
}

function spawnProbe(port: number): ChildProcess {
  return spawn('dig', ['@127.0.0.1', '-p', String(port), '+tries=1', '+time=1', '+short', 'localhost', 'A'], { stdio: 'ignore' });
}
