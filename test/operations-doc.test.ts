import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import test from 'ava';
import { startProcess, type StartedProcess } from '@overlay/common';
import { eventually, OVERLAY, requireCommand, run } from './helpers.js';

// The deployment in docs/operations.md ("A complete deployment, every file in full"), run from the page
// itself: every file it shows is written out as shown, start.sh's lines are run in order (each `overlay …`
// as the real command), then try.sh's checks, with real dig and curl.
const DOC = fileURLToPath(new URL('../docs/operations.md', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'overlay-operations-doc-'));
const processes: StartedProcess[] = [];
const logs: Record<string, any[]> = {};
let origin: ChildProcess | undefined;
let env: NodeJS.ProcessEnv = process.env;

/** `<!-- file: NAME -->` then a fenced block: NAME → its text. */
function docFiles(text: string): Map<string, string> {
  const files = new Map<string, string>();
  for (const match of text.matchAll(/<!-- file: ([\w.-]+) -->\n```\w*\n([\s\S]*?)\n```/g)) files.set(match[1] as string, `${match[2]}\n`);
  return files;
}

const files = docFiles(readFileSync(DOC, 'utf8'));

function sh(line: string): Promise<{ stdout: string; stderr: string }> {
  return run('bash', ['-c', line], { cwd: dir, env, timeout: 60_000 });
}


/** Runs one line of start.sh the way a reader would, keeping long-running processes. */
async function startLine(line: string): Promise<void> {
  const role = /^overlay ([\w-]+) --config ([\w.-]+)$/.exec(line);
  if (role) {
    const name = (role[2] as string).replace(/\.yaml$/, '');
    logs[name] = [];
    const onStderr = (text: string) => {
      try {
        logs[name]?.push(JSON.parse(text));
      } catch {
        logs[name]?.push({ text });
      }
    };
    processes.push(await startProcess(process.execPath, [OVERLAY, role[1] as string, '--config', role[2] as string], { cwd: dir, env, readyTimeoutMs: 30_000, onStderr }));
    return;
  }
  if (line.startsWith('python3 -m http.server')) {
    origin = spawn('bash', ['-c', `exec ${line}`], { cwd: dir, env, stdio: 'ignore' });
    await eventually('the origin listening', async () => ((await fetch('http://127.0.0.1:28080/')).status === 200 ? true : undefined), 10_000);
    return;
  }
  if (line.startsWith('. ./secrets.sh')) {
    // The secrets are the shell's environment from here on.
    const { stdout } = await sh(`${line} && env -0`);
    env = Object.fromEntries(stdout.split('\0').filter(Boolean).map((pair) => [pair.slice(0, pair.indexOf('=')), pair.slice(pair.indexOf('=') + 1)]));
    return;
  }
  await sh(line);
}

test.before(async () => {
  for (const [command, pkg] of [['openssl', 'openssl'], ['curl', 'curl'], ['dig', 'bind9-dnsutils'], ['python3', 'python3']] as const) await requireCommand(command, pkg);
  for (const name of ['secrets.sh', 'certs.sh', 'manager.yaml', 'back-end.yaml', 'pop-a.yaml', 'pop-b.yaml', 'redirector.yaml', 'site.json', 'start.sh', 'try.sh']) {
    if (!files.has(name)) throw new Error(`docs/operations.md shows no ${name}`);
  }
  for (const [name, text] of files) writeFileSync(join(dir, name), text);
  for (const line of (files.get('start.sh') as string).split('\n').map((item) => item.trim()).filter(Boolean)) await startLine(line);
});

test.after.always(async () => {
  for (const started of processes.reverse()) await started.stop();
  origin?.kill('SIGTERM');
});

const tryLines = () => (files.get('try.sh') as string).split('\n').map((line) => line.trim()).filter(Boolean);

test.serial('the page names every config file of the deployment, the manager section included', (t) => {
  for (const name of ['back-end.yaml', 'pop-a.yaml', 'pop-b.yaml', 'redirector.yaml']) t.regex(files.get(name) as string, /^manager:\n {2}url: https:\/\/127\.0\.0\.1:28070$/m, name);
  t.is(processes.length, 5, 'manager, back-end, two front-ends, redirector');
});

test.serial('try.sh: DNS gives each subnet its POP', async (t) => {
  const digs = tryLines().filter((line) => line.startsWith('dig '));
  t.is(digs.length, 2);
  for (const line of digs) {
    const expected = line.split('#')[1]?.trim();
    const answer = await eventually(line, async () => {
      const { stdout } = await sh(line);
      return stdout.trim() === expected ? stdout.trim() : undefined;
    });
    t.is(answer, expected);
  }
});

test.serial('try.sh: both POPs serve the site through the TLS tunnel, and the access logs carry the request id', async (t) => {
  const curls = tryLines().filter((line) => line.startsWith("curl -si -H 'Host: shop.example.test'"));
  t.is(curls.length, 2);
  for (const line of curls) {
    const { stdout } = await eventually(line, async () => {
      const answer = await sh(line);
      return /^HTTP\/1\.1 200/.test(answer.stdout) ? answer : undefined;
    });
    t.regex(stdout, /^x-overlay-backend: be-1\r?$/im);
    t.regex(stdout, /hello from the origin/);
  }
  // The same request again may be a cache hit; a new query string goes to the origin.
  const { stdout } = await sh((curls[0] as string).replace(/\/(\s|$)/, '/?fresh=1$1'));
  const requestId = /^x-request-id: (\S+)\r?$/im.exec(stdout)?.[1];
  t.truthy(requestId);
  const front = await eventually('pop-a access line', async () => logs['pop-a']?.find((entry) => entry.msg === 'access' && entry.requestId === requestId));
  t.like(front, { status: 200, host: 'shop.example.test', path: '/?fresh=1', backEnd: 'be-1', origin: '127.0.0.1:28080', client: '127.0.0.1', cache: 'MISS' });
  const back = await eventually('be-1 access line', async () => logs['back-end']?.find((entry) => entry.msg === 'access' && entry.requestId === requestId));
  t.like(back, { status: 200, frontEnd: 'pop-a', origin: '127.0.0.1:28080' });
});

test.serial('try.sh: the API shows the advertised TLS back-end reachable; /metrics is on the admin address', async (t) => {
  const apiLine = tryLines().find((line) => line.includes('/v1/back-ends')) as string;
  const backEnds = JSON.parse((await sh(apiLine)).stdout).backEnds;
  t.like(backEnds['be-1'], { addresses: { tunnel: '127.0.0.1:28100' }, tunnelTls: true, healthy: true });
  t.is(backEnds['be-1'].unreachableFrom, undefined);
  const metricsLine = tryLines().find((line) => line.includes('/metrics')) as string;
  t.regex((await sh(metricsLine)).stdout, /overlay_manager_state_version/);
  t.is((await fetch('http://127.0.0.1:28071/v1/sites')).status, 404);
});

test.serial('no secret from secrets.sh appears in any log line', (t) => {
  const secrets = Object.entries(env).filter(([name]) => /^OVERLAY_(.*TOKEN|TUNNEL_KEY)$/.test(name)).map(([, value]) => value as string);
  t.is(secrets.length, 6);
  const lines = Object.values(logs).flat().map((entry) => JSON.stringify(entry));
  t.true(lines.length > 20);
  for (const secret of secrets) t.false(lines.some((line) => line.includes(secret)));
});
