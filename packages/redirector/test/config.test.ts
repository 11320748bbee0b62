import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { ConfigError } from '@overlay/common';
import { loadRedirectorConfig, redirectorDefaults, redirectorStateSchema } from '@overlay/redirector';
import { demoState } from './helpers/fixture.js';

async function writeConfig(name: string, text: string): Promise<string> {
  const file = join(await mkdtemp(join(tmpdir(), 'redirector-')), name);
  await writeFile(file, text);
  return file;
}

test('a YAML config loads with its defaults filled in', async (t) => {
  const file = await writeConfig(
    'redirector.yaml',
    `listen: { host: 127.0.0.1, port: 5300 }
admin: { port: 9300 }
zones:
  Demo.Test.:
    ns: [{ name: ns1.demo.test, addresses: [127.0.0.1] }]
sites:
  shop: { domains: [shop.demo.test], frontEnds: [pop-a-1] }
frontEnds:
  pop-a-1: { addresses: [127.0.1.1], pop: pop-a }
popPreferences:
  10.1.0.0/16: [pop-a, pop-b]
rateLimit: { responsesPerSecond: 20 }
`,
  );
  const config = await loadRedirectorConfig(file);
  t.deepEqual(Object.keys(config.zones), ['demo.test'], 'apex normalized');
  t.is(config.answerTtl, redirectorDefaults.answerTtl);
  t.is(config.answerCount, 1);
  t.is(config.admin?.host, '127.0.0.1');
  t.is(config.udpPayloadCap, 1232);
  t.like(config.rateLimit, { enabled: true, responsesPerSecond: 20, burst: redirectorDefaults.rateLimit.burst });
  t.like(config.frontEnds['pop-a-1'], { healthy: true, load: 0 });
  t.like(config.zones['demo.test']?.soa, { serial: 1, minimum: 60 });
});

test('a bad config names the file and the field', async (t) => {
  const bad = { listen: { port: 53 }, ...demoState(), frontEnds: { x: { addresses: ['10.1'], pop: 'p' } } };
  const file = await writeConfig('bad.json', JSON.stringify(bad));
  const error = await t.throwsAsync(loadRedirectorConfig(file), { instanceOf: ConfigError });
  t.is(error?.field, 'frontEnds.x.addresses[0]');
  t.true(error?.message.startsWith(file));
  const typo = await writeConfig('typo.yaml', 'listen: { port: 53 }\nzones: {}\nlisten_port: 5\n');
  await t.throwsAsync(loadRedirectorConfig(typo), { instanceOf: ConfigError, message: /listen_port/ });
});

test('listeners are "host:port" like every other role, or {host, port}; a bad address names the field', async (t) => {
  const zones = 'zones:\n  demo.test:\n    ns: [{ name: ns1.demo.test, addresses: [127.0.0.1] }]\n';
  const config = await loadRedirectorConfig(await writeConfig('strings.yaml', `listen: "127.0.0.1:5301"\nadmin: "[::1]:9301"\n${zones}`));
  t.deepEqual(config.listen, [{ host: '127.0.0.1', port: 5301 }]);
  t.deepEqual(config.admin, { host: '::1', port: 9301 });
  const error = await t.throwsAsync(loadRedirectorConfig(await writeConfig('bad-listen.yaml', `listen: "127.0.0.1"\n${zones}`)), { instanceOf: ConfigError });
  t.regex(error?.field ?? '', /^listen/);
});

test('the state schema refuses site names outside every zone and names claimed twice', (t) => {
  const outside = redirectorStateSchema.safeParse({ ...demoState(), sites: { s: { domains: ['shop.other.test'] } } });
  t.false(outside.success);
  const twice = redirectorStateSchema.safeParse({ ...demoState(), sites: { s: { domains: ['ns1.demo.test'] } } });
  t.regex(twice.error?.issues[0]?.message ?? '', /already the name server of demo.test/);
  t.true(redirectorStateSchema.safeParse(demoState()).success);
});
