import { spawn, type ChildProcess } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import test from 'ava';
import { api, siteBody, tempDir, TOKEN } from './helpers/manager.js';

const SCRIPT = fileURLToPath(new URL('./fixtures/run-manager.mjs', import.meta.url));

interface Child {
  process: ChildProcess;
  url: string;
}

/** Starts a manager in its own process and waits for its ready line. */
async function startChild(configFile: string): Promise<Child> {
  const child = spawn(process.execPath, [SCRIPT, configFile], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, OVERLAY_LOG_LEVEL: 'warn' } });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const lines = createInterface({ input: child.stdout! });
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`manager did not start: ${stderr}`)), 10_000);
    child.once('exit', (code) => reject(new Error(`manager exited with ${code}: ${stderr}`)));
    lines.on('line', (line) => {
      const data = JSON.parse(line) as { msg?: string; url?: string };
      if (data.msg === 'ready' && data.url) {
        clearTimeout(timer);
        resolve(data.url);
      }
    });
  });
  return { process: child, url };
}

async function kill9(child: Child): Promise<void> {
  const exited = new Promise((resolve) => child.process.once('exit', resolve));
  child.process.kill('SIGKILL');
  await exited;
}

async function configFor(dataDir: string): Promise<string> {
  const file = join(dataDir, '..', `${dataDir.split('/').at(-1)}.json`);
  await writeFile(file, JSON.stringify({ role: 'both', listen: '127.0.0.1:0', token: '${TEST_MANAGER_TOKEN}', dataDir, capacity: { enabled: false } }));
  return file;
}

process.env.TEST_MANAGER_TOKEN = TOKEN;

test('an acknowledged PUT survives kill -9', async (t) => {
  const config = await configFor(await tempDir('crash-'));
  const first = await startChild(config);
  t.teardown(() => first.process.kill('SIGKILL'));
  t.is((await api(first.url, 'PUT', '/v1/sites/shop', siteBody())).status, 201);
  t.is((await api(first.url, 'PUT', '/v1/sites/shop/priorities', { default: 4, rules: [{ match: { method: 'POST' }, priority: 0 }] })).status, 200);
  await kill9(first);

  const second = await startChild(config);
  t.teardown(() => second.process.kill('SIGKILL'));
  const site = await api(second.url, 'GET', '/v1/sites/shop');
  t.is(site.status, 200);
  t.deepEqual(site.body.domains, ['shop.demo.test']);
  t.deepEqual(site.body.priorities, { default: 4, rules: [{ match: { method: 'POST' }, priority: 0 }] });
});

test('with many writes in flight, every acknowledged one survives repeated kill -9', async (t) => {
  const config = await configFor(await tempDir('crash-'));
  const acknowledged = new Map<string, string[]>();
  for (let round = 0; round < 3; round++) {
    const child = await startChild(config);
    t.teardown(() => child.process.kill('SIGKILL'));
    // Everything acknowledged in earlier rounds is there.
    for (const [name, frontEnds] of acknowledged) {
      const site = await api(child.url, 'GET', `/v1/sites/${name}`);
      t.is(site.status, 200, `round ${round}: ${name} lost`);
      t.deepEqual(site.body.frontEnds, frontEnds, `round ${round}: ${name} has its last acknowledged content`);
    }
    let acks = 0;
    let killed: Promise<void> | undefined;
    const writes = Array.from({ length: 40 }, (_, index) => {
      // One write per site, so which write is the last acknowledged one is never ambiguous.
      const name = `r${round}-s${index}`;
      const frontEnds = [`fe-${round}-${index}`];
      return api(child.url, 'PUT', `/v1/sites/${name}`, siteBody({ domains: [`${name}.test`], frontEnds })).then(
        (answer) => {
          // A 2xx that arrives after the kill was still sent before it: acknowledged all the same.
          if (answer.status === 200 || answer.status === 201) {
            acknowledged.set(name, frontEnds);
            if (++acks === 15) killed = kill9(child);
          }
        },
        () => undefined, // cut off by the kill: not acknowledged
      );
    });
    await Promise.all(writes);
    await (killed ?? kill9(child));
    t.true(acks >= 15, `round ${round}: ${acks} acknowledged before the kill`);
    t.log(`round ${round}: ${acks} of 40 writes acknowledged when kill -9 landed`);
  }
  const last = await startChild(config);
  t.teardown(() => last.process.kill('SIGKILL'));
  for (const [name, frontEnds] of acknowledged) {
    t.deepEqual((await api(last.url, 'GET', `/v1/sites/${name}`)).body.frontEnds, frontEnds, name);
  }
  t.true(acknowledged.size >= 45);
});
