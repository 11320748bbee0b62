import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { overlay } from '../../../test/helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'overlay-check-'));
function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

const KEY = '0123456789abcdef0123';

test('overlay --version prints the package version', async (t) => {
  const { code, stdout } = await overlay(['--version']);
  t.is(code, 0);
  const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
  t.is(stdout.trim(), version);
});

test('overlay check prints all three problems of a file, each with its field, and exits 2', async (t) => {
  const path = file('three.yaml', [
    'id: be',
    'tunnel: {listen: "127.0.0.1:70000", keys: ["short"]}',
    'admin: "127.0.0.1:0"',
    'drainTimeoutMs: -5',
    '',
  ].join('\n'));
  const { code, stdout, stderr } = await overlay(['check', '--config', path]);
  t.is(code, 2);
  t.is(stdout, '');
  const lines = stderr.trim().split('\n');
  t.is(lines.length, 3, stderr);
  for (const line of lines) t.true(line.startsWith(`${path}: `), line);
  t.regex(lines.find((line) => line.includes('tunnel.listen')) ?? '', /host:port/);
  t.regex(lines.find((line) => line.includes('tunnel.keys[0]')) ?? '', /at least 16/);
  t.truthy(lines.find((line) => line.includes('drainTimeoutMs')));
});

test('overlay check tells each role from its fields and accepts a valid file with exit 0', async (t) => {
  const files = {
    manager: file('m.yaml', `role: both\nlisten: "127.0.0.1:0"\ntoken: "${KEY}"\n`),
    'back-end': file('b.yaml', `id: be\ntunnel: {listen: "127.0.0.1:0", keys: ["${KEY}"]}\nadmin: "127.0.0.1:0"\n`),
    'front-end': file('f.json', JSON.stringify({ id: 'fe', http: { listen: '127.0.0.1:0' }, admin: '127.0.0.1:0' })),
    redirector: file('r.yaml', 'listen: "127.0.0.1:0"\nzones: {}\n'),
  };
  for (const [role, path] of Object.entries(files)) {
    const { code, stdout, stderr } = await overlay(['check', '--config', path]);
    t.is(code, 0, stderr);
    t.is(stdout.trim(), `${path}: valid ${role} config`);
  }
});

test('overlay check --role judges a file as that role; a file of no role says to give one', async (t) => {
  const path = file('fe-as-be.yaml', 'id: fe\nhttp: {listen: "127.0.0.1:0"}\nadmin: "127.0.0.1:0"\n');
  const asBackEnd = await overlay(['check', '--config', path, '--role', 'back-end']);
  t.is(asBackEnd.code, 2);
  t.regex(asBackEnd.stderr, /tunnel/);
  t.regex(asBackEnd.stderr, /http/, 'the unknown field is named too');
  const unknown = await overlay(['check', '--config', file('none.yaml', 'hello: world\n')]);
  t.is(unknown.code, 2);
  t.regex(unknown.stderr, /none\.yaml: \(root\): cannot tell which role.*--role/);
});

test('overlay check names every unset environment variable and a file it cannot read', async (t) => {
  const path = file('env.yaml', 'id: be\ntunnel: {listen: "127.0.0.1:0", keys: ["${OVERLAY_CHECK_A}", "${OVERLAY_CHECK_B}"]}\nadmin: "127.0.0.1:0"\n');
  const env = await overlay(['check', '--config', path], { ...process.env, OVERLAY_CHECK_A: undefined, OVERLAY_CHECK_B: undefined });
  t.is(env.code, 2);
  t.regex(env.stderr, /tunnel\.keys\[0\]: environment variable OVERLAY_CHECK_A is not set/);
  t.regex(env.stderr, /tunnel\.keys\[1\]: environment variable OVERLAY_CHECK_B is not set/);
  const missing = await overlay(['check', '--config', join(dir, 'absent.yaml')]);
  t.is(missing.code, 2);
  t.regex(missing.stderr, /absent\.yaml: \(root\): cannot read: ENOENT/);
});

test('a role started on a file with several problems prints each of them before exiting 2', async (t) => {
  const path = file('start-two.yaml', 'id: be\ntunnel: {listen: "127.0.0.1:0", keys: ["short"]}\nadmin: "nowhere"\n');
  const { code, stderr } = await overlay(['back-end', '--config', path]);
  t.is(code, 2);
  const lines = stderr.trim().split('\n');
  t.is(lines.length, 2, stderr);
  t.regex(lines[0] ?? '', /^overlay back-end: invalid config: .*tunnel\.keys\[0\]/);
  t.regex(lines[1] ?? '', /^overlay back-end: invalid config: .*admin: must be host:port/);
});
