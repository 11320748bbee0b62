import test from 'ava';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

// `overlay lab` end to end, as a person runs it: real namespaces (needs root; fails, never skips, without).
const OVERLAY = fileURLToPath(new URL('../../cli/dist/main.js', import.meta.url));
const STATE_DIR = process.env.OVERLAY_LAB_STATE_DIR ?? '/run/overlay-lab';

interface Ready {
  lab: string;
  hosts: Record<string, { namespace: string; address: string }>;
  frontEnds: Array<{ id: string; http: string }>;
  dns: string;
  sites: string[];
}

function inNamespace(namespace: string, command: string, args: string[]): string {
  const { stdout, stderr, status } = spawnSync('ip', ['netns', 'exec', namespace, command, ...args], { encoding: 'utf8', timeout: 15_000 });
  if (status !== 0) throw new Error(`${command} ${args.join(' ')} in ${namespace}: exit ${status}: ${stderr}`);
  return stdout;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

test('overlay lab: a client request crosses the long leg through pop-a to an origin; SIGTERM leaves nothing behind', async (t) => {
  for (const [command, pkg] of [['curl', 'curl'], ['dig', 'bind9-dnsutils']]) {
    t.is(spawnSync('sh', ['-c', `command -v ${command}`]).status, 0, `${command} is missing: apt-get install -y ${pkg}`);
  }
  const delayMs = 40;
  const child = spawn(process.execPath, [OVERLAY, 'lab', '--delay-ms', String(delayMs)], { stdio: ['ignore', 'pipe', 'pipe'] });
  const stderr: string[] = [];
  let warnedOfHostSetting = false;
  createInterface({ input: child.stderr! }).on('line', (line) => {
    warnedOfHostSetting ||= line.includes('blunts priorities');
    if (stderr.push(line) > 50) stderr.shift();
  });
  const exited = once(child, 'exit');
  let ready: Ready | undefined;
  try {
    for await (const line of createInterface({ input: child.stdout! })) {
      if (line.includes('"msg":"ready"')) {
        ready = JSON.parse(line) as Ready;
        break;
      }
    }
    if (!ready) throw new Error(`overlay lab printed no ready line:\n${stderr.join('\n')}`);
    const client = ready.hosts.client.namespace;
    const popA = ready.frontEnds.find((frontEnd) => frontEnd.id === 'pop-a')!;
    const site = ready.sites[0];

    const out = inNamespace(client, 'curl', ['-s', '-D', '-', '-o', '/dev/null', '-w', 'ttfb=%{time_starttransfer}\n', '-H', `Host: ${site}`, `http://${popA.http}/slow/0`]);
    t.regex(out, /^HTTP\/1\.1 200/, out);
    t.regex(out, /^x-origin: origin-\d/im);
    t.regex(out, /^x-overlay-frontend: pop-a/im);
    t.false(warnedOfHostSetting, 'gateway hosts are set up as operations.md asks');
    const ttfbMs = Number(/ttfb=([\d.]+)/.exec(out)![1]) * 1000;
    t.true(ttfbMs >= 2 * delayMs, `time to first byte ${ttfbMs} ms: the request crossed the long leg`);

    const answer = inNamespace(client, 'dig', ['+short', `@${ready.dns.split(':')[0]}`, site, 'A']).trim();
    t.is(answer, popA.http.split(':')[0], 'the redirector sends the near-side client to pop-a');

    const pids = Object.values(ready.hosts).flatMap((host) =>
      spawnSync('ip', ['netns', 'pids', host.namespace], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean).map(Number));
    t.true(pids.length >= 7, `roles running in the lab: ${pids.join(' ')}`);

    child.kill('SIGTERM');
    const [code] = (await exited) as [number | null];
    t.is(code, 0, stderr.slice(-5).join('\n'));
    const namespaces = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout;
    t.false(namespaces.includes(`ovl${ready.lab}-`), `namespaces left: ${namespaces}`);
    t.deepEqual(pids.filter(alive), [], 'every process of the lab is gone');
    t.false(existsSync(`${STATE_DIR}/${parseInt(ready.lab.slice(0, 2), 16)}.json`), 'no state file left');
  } finally {
    if (child.exitCode === null) {
      child.kill('SIGKILL');
      await exited;
    }
  }
});
