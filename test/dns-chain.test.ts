import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { startProcess, type StartedProcess } from '@overlay/common';
import { OVERLAY, requireCommand, run } from './helpers.js';

const BASE = 17_300;
const SITE = 'shop.demo.test';
const UNBOUND_PORT = BASE + 90;
let demo: StartedProcess;
let unbound: ChildProcess;

test.before(async () => {
  await requireCommand('unbound', 'unbound');
  await requireCommand('dig', 'bind9-dnsutils');
  await requireCommand('curl', 'curl');
  demo = await startProcess(process.execPath, [OVERLAY, 'demo', '--base-port', String(BASE)], { readyTimeoutMs: 60_000 });
  const redirector = String(demo.ready.dns).replace(':', '@');
  const dir = mkdtempSync(join(tmpdir(), 'overlay-unbound-'));
  const config = join(dir, 'unbound.conf');
  // What an operator's resolver sees after pointing the zone's NS at the redirector: a delegation
  // (here a stub zone) to the redirector's address. "test." is a local zone in unbound by default.
  writeFileSync(config, `server:
  interface: 127.0.0.1
  port: ${UNBOUND_PORT}
  do-ip6: no
  do-daemonize: no
  username: ""
  chroot: ""
  directory: "${dir}"
  pidfile: "${dir}/unbound.pid"
  use-syslog: no
  logfile: ""
  access-control: 127.0.0.0/8 allow
  do-not-query-localhost: no
  module-config: "iterator"
  local-zone: "test." nodefault
  verbosity: 0
stub-zone:
  name: "demo.test"
  stub-addr: ${redirector}
remote-control:
  control-enable: no
`);
  unbound = spawn('unbound', ['-d', '-c', config], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  unbound.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  for (let i = 0; ; i++) {
    try {
      await run('dig', ['@127.0.0.1', '-p', String(UNBOUND_PORT), '+time=1', '+tries=1', 'localhost', 'A']);
      break;
    } catch {
      if (i > 50 || unbound.exitCode !== null) throw new Error(`unbound did not start: ${stderr}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
});

test.after.always(async () => {
  if (unbound && unbound.exitCode === null) {
    unbound.kill('SIGTERM');
    await once(unbound, 'exit');
  }
  await demo?.stop();
});

test('a real recursive resolver resolves the site to a front-end, and curl through it reaches an origin', async (t) => {
  const { stdout } = await run('dig', ['@127.0.0.1', '-p', String(UNBOUND_PORT), SITE, 'A', '+short']);
  const address = stdout.trim();
  // The resolver asks from 127.0.0.1: no client subnet maps it, so the default preference (pop-a) answers.
  t.is(address, '127.0.1.1');
  const port = BASE + 20;
  const page = await run('curl', ['-s', '-i', '--resolve', `${SITE}:${port}:${address}`, `http://${SITE}:${port}/`]);
  t.regex(page.stdout, /^HTTP\/1\.1 200/);
  t.regex(page.stdout, /x-overlay-frontend: pop-a/i);
  t.regex(page.stdout, /x-origin: origin-[12]/i);
});

test('the resolver relays NXDOMAIN for unknown names in the zone', async (t) => {
  const { stdout } = await run('dig', ['@127.0.0.1', '-p', String(UNBOUND_PORT), `nope.demo.test`, 'A']);
  t.regex(stdout, /status: NXDOMAIN/);
});
