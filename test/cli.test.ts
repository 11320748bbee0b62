import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { overlay } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'overlay-cli-'));
function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

test('overlay --help lists every role', async (t) => {
  const { code, stdout } = await overlay(['--help']);
  t.is(code, 0);
  for (const role of ['demo', 'manager', 'back-end', 'front-end', 'redirector', 'bench']) t.regex(stdout, new RegExp(`\\b${role}\\b`));
});

test('overlay ROLE --help shows the role usage', async (t) => {
  for (const role of ['back-end', 'front-end', 'redirector', 'manager']) {
    const { code, stdout } = await overlay([role, '--help']);
    t.is(code, 0, role);
    t.regex(stdout, /--config/, role);
  }
});

const badConfigs: Array<{ role: string; name: string; text: string; field: RegExp }> = [
  { role: 'back-end', name: 'be-port.yaml', text: 'id: be\ntunnel: {listen: "127.0.0.1:99999", keys: ["0123456789abcdef"]}\nadmin: "127.0.0.1:0"\n', field: /tunnel\.listen/ },
  { role: 'back-end', name: 'be-key.json', text: JSON.stringify({ id: 'be', tunnel: { listen: '127.0.0.1:0', keys: ['short'] }, admin: '127.0.0.1:0' }), field: /tunnel\.keys\[0\]/ },
  { role: 'front-end', name: 'fe-site.yaml', text: 'id: fe\nhttp: {listen: "127.0.0.1:0"}\nadmin: "127.0.0.1:0"\nstate:\n  sites:\n    shop: {domains: ["shop.test"], backEnds: ["nope"]}\n', field: /state\.sites\.shop\.backEnds\[0\]/ },
  { role: 'redirector', name: 'dns.yaml', text: 'listen: {port: 0}\nzones: {}\nsites: {shop: {domains: ["shop.test"]}}\n', field: /sites\.shop\.domains\[0\]/ },
  { role: 'front-end', name: 'fe-yaml.yaml', text: 'id: [unclosed\n', field: /cannot parse/ },
];

for (const bad of badConfigs) {
  test(`a bad ${bad.role} config exits non-zero with one line naming file and field (${bad.name})`, async (t) => {
    const path = file(bad.name, bad.text);
    const { code, stdout, stderr } = await overlay([bad.role, '--config', path]);
    t.is(code, 2);
    t.is(stdout, '');
    const lines = stderr.trim().split('\n');
    t.is(lines.length, 1, stderr);
    t.true(lines[0].includes(path), lines[0]);
    t.regex(lines[0], bad.field);
  });
}

test('a missing config file is named', async (t) => {
  const { code, stderr } = await overlay(['back-end', '--config', join(dir, 'absent.yaml')]);
  t.is(code, 2);
  t.regex(stderr, /absent\.yaml: .*cannot read: ENOENT/);
});

test('secrets come from the environment, and an unset one is named', async (t) => {
  const path = file('be-env.yaml', 'id: be\ntunnel: {listen: "127.0.0.1:0", keys: ["${OVERLAY_TEST_KEY}"]}\nadmin: "127.0.0.1:0"\n');
  const { code, stderr } = await overlay(['back-end', '--config', path], { ...process.env, OVERLAY_TEST_KEY: undefined });
  t.is(code, 2);
  t.regex(stderr, /tunnel\.keys\[0\]: environment variable OVERLAY_TEST_KEY is not set/);
});
