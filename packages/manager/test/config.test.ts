import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import test from 'ava';
import { ConfigError } from '@overlay/common';
import { loadManagerConfig, managerDefaults, startManager } from '@overlay/manager';
import { tempDir } from './helpers/manager.js';

async function configFile(name: string, text: string): Promise<string> {
  const file = join(await tempDir('manager-config-'), name);
  await writeFile(file, text);
  return file;
}

test('a YAML config loads with its defaults, the token from the environment', async (t) => {
  process.env.MANAGER_CONFIG_TEST_TOKEN = 'from-the-environment-123';
  const file = await configFile('manager.yaml', 'role: front-end\nlisten: 127.0.0.1:7070\ntoken: ${MANAGER_CONFIG_TEST_TOKEN}\ncapacity: { raiseAfterMs: 5000 }\n');
  const config = await loadManagerConfig(file);
  t.deepEqual(config.token, ['from-the-environment-123']);
  t.is(config.role, 'front-end');
  t.is(config.dataDir, managerDefaults.dataDir);
  t.is(config.reportTimeoutMs, 6000);
  t.is(config.capacity.raiseAfterMs, 5000);
  t.is(config.capacity.releaseAfterMs, managerDefaults.capacity.releaseAfterMs);
  t.is(config.feed.pingIntervalMs, managerDefaults.feed.pingIntervalMs);
  t.deepEqual(config.readTokens, []);
});

test('a bad config names the file and the field', async (t) => {
  const cases: Array<[string, RegExp]> = [
    ['role: middle\nlisten: 127.0.0.1:1\ntoken: 0123456789abcdef\n', /manager\.yaml: role: /],
    ['role: both\nlisten: nowhere\ntoken: 0123456789abcdef\n', /listen: must be host:port/],
    ['role: both\nlisten: 127.0.0.1:1\ntoken: short\n', /token: must be at least 16 characters/],
    ['role: both\nlisten: 127.0.0.1:1\ntoken: 0123456789abcdef\nreadTokens: [tiny]\n', /readTokens\[0\]: must be at least 16/],
    ['role: both\nlisten: 127.0.0.1:1\ntoken: 0123456789abcdef\ncapacity: { releaseBelow: 2 }\n', /capacity\.releaseBelow: /],
    ['role: both\nlisten: 127.0.0.1:1\ntoken: 0123456789abcdef\ncolour: blue\n', /manager\.yaml: \(root\): .*colour/],
    ['role: both\nlisten: 127.0.0.1:1\ntoken: ${MANAGER_CONFIG_TEST_UNSET}\n', /token: environment variable MANAGER_CONFIG_TEST_UNSET is not set/],
  ];
  for (const [text, pattern] of cases) {
    const file = await configFile('manager.yaml', text);
    const error = await t.throwsAsync(() => loadManagerConfig(file));
    t.true(error instanceof ConfigError);
    t.regex(error?.message ?? '', pattern);
  }
});

test('startManager validates a config given in code', async (t) => {
  const error = await t.throwsAsync(() => startManager({ role: 'both', listen: '127.0.0.1:0', token: 'x' }));
  t.regex(error?.message ?? '', /token: must be at least 16 characters/);
});

test('a token listed in two places is refused, naming both fields', async (t) => {
  const error = await t.throwsAsync(() =>
    startManager({ role: 'both', listen: '127.0.0.1:0', token: ['admin-token-0123456789'], readTokens: ['shared-token-0123456789'], gatewayTokens: { 'be-1': 'shared-token-0123456789' } }),
  );
  t.regex(error?.message ?? '', /gatewayTokens\.be-1\[0\]: the same token as readTokens\[0\]/);
});
