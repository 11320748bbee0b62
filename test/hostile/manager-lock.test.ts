/**
 * Issue 17, case 6: a manager restarts at once after `kill -9`, even while its dead predecessor is a
 * zombie nobody has reaped, or when the pid in the lock has since gone to another process; a live owner
 * still keeps a second manager out.
 */
import { spawn } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import test from 'ava';
import { OVERLAY } from '../helpers.js';
import { startRole, tempDir } from './stack.js';

const TOKEN = 'hostile-manager-token-0123456789';

async function put(base: string, name: string): Promise<number> {
  const body = { domains: [`${name}.test`], origins: [{ url: 'http://127.0.0.1:9' }] };
  const response = await fetch(`${base}/v1/sites/${name}`, { method: 'PUT', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return response.status;
}

async function siteNames(base: string): Promise<string[]> {
  const response = await fetch(`${base}/v1/sites`, { headers: { authorization: `Bearer ${TOKEN}` } });
  return Object.keys(((await response.json()) as { sites: Record<string, unknown> }).sites).sort();
}

/**
 * A manager whose parent never reaps it: `sh` starts it, then becomes `sleep`. Killed with -9 it stays a
 * zombie, whose pid kill(pid, 0) still finds.
 */
async function unreapedManager(config: string): Promise<{ url: string; pid: number; stop(): void }> {
  const shell = spawn('sh', ['-c', `"$0" "$1" manager --config "$2" & exec sleep 120`, process.execPath, OVERLAY, config], { stdio: ['ignore', 'pipe', 'ignore'] });
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no ready line')), 30_000);
    createInterface({ input: shell.stdout! }).on('line', (line) => {
      if (!line.includes('"msg":"ready"')) return;
      clearTimeout(timer);
      resolve(String((JSON.parse(line) as { url: string }).url));
    });
  });
  const lock = JSON.parse(await readFile(join(JSON.parse(await readFile(config, 'utf8')).dataDir, 'lock'), 'utf8')) as { pid: number };
  return { url, pid: lock.pid, stop: () => shell.kill('SIGKILL') };
}

async function processState(pid: number): Promise<string> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0] ?? '';
}

test('six kill -9 cycles, each predecessor left an unreaped zombie: every restart is immediate and keeps every write', async (t) => {
  const dir = await tempDir(t);
  const dataDir = join(dir, 'data');
  const config = join(dir, 'manager.json');
  await writeFile(config, JSON.stringify({ role: 'both', listen: '127.0.0.1:0', token: TOKEN, dataDir }));
  const written: string[] = [];
  const shells: Array<() => void> = [];
  t.teardown(() => shells.forEach((stop) => stop()));
  for (let cycle = 0; cycle < 6; cycle++) {
    const started = Date.now();
    const manager = await unreapedManager(config);
    shells.push(manager.stop);
    t.log(`cycle ${cycle}: ready after ${Date.now() - started} ms`);
    t.deepEqual(await siteNames(manager.url), [...written].sort(), `cycle ${cycle}: every acknowledged write is there`);
    t.is(await put(manager.url, `site-${cycle}`), 201);
    written.push(`site-${cycle}`);
    process.kill(manager.pid, 'SIGKILL');
    while ((await processState(manager.pid)) !== 'Z') await new Promise((resolve) => setTimeout(resolve, 10));
  }
});

test('a lock naming a pid now used by another process is taken over; a live manager keeps a second one out', async (t) => {
  const dir = await tempDir(t);
  const dataDir = join(dir, 'data');
  const config = { role: 'both', listen: '127.0.0.1:0', token: TOKEN, dataDir };
  // The test's own pid stands for a reused one: alive, but not started when the lock says.
  await mkdir(dataDir, { recursive: true });
  await writeFile(join(dataDir, 'lock'), `${JSON.stringify({ pid: process.pid, startTime: '1', bootId: 'x' })}\n`);
  const first = await startRole(t, dir, 'manager', config);
  t.is(await put(String(first.ready.url), 'kept'), 201);

  await writeFile(join(dir, 'second.json'), JSON.stringify(config));
  const second = spawn(process.execPath, [OVERLAY, 'manager', '--config', join(dir, 'second.json')], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  second.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => second.once('exit', resolve));
  t.not(code, 0);
  t.regex(stderr, /is used by process/);
});
