import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test, { type ExecutionContext } from 'ava';
import { backEndDefaults, loadBackEndConfig, parseBackEndState, parseFreshness } from '@overlay/backend';
import { ConfigError } from '@overlay/common';

async function configFile(t: ExecutionContext, name: string, text: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'overlay-backend-config-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, name);
  await writeFile(file, text);
  return file;
}

const YAML = `
id: be-1
tunnel:
  listen: 127.0.0.1:7000
  keys: ["\${KEY_VARIABLE}"]
  tls: { cert: certs/be.pem, key: certs/be.key }
admin: 127.0.0.1:7001
state:
  sites:
    shop:
      origins:
        - url: http://127.0.0.1:8081
          primary: true
        - { url: http://127.0.0.1:8082, id: mirror, weight: 2 }
      routes:
        - pathPrefix: /api/
          origins: [{ url: http://127.0.0.1:8083 }]
    db:
      mode: tcp
      origins: [{ url: "tcp://127.0.0.1:5432" }]
  queue: { queueTimeoutMs: 2000 }
`;

test('a YAML config loads with ${ENV} secrets, defaults, default origin ids and TLS paths beside the file', async (t) => {
  process.env.BACKEND_TEST_GOOD_KEY = 'a-key-of-at-least-16-chars';
  const file = await configFile(t, 'back-end.yaml', YAML.replace('KEY_VARIABLE', 'BACKEND_TEST_GOOD_KEY'));
  const config = await loadBackEndConfig(file);
  t.deepEqual(config.tunnel.keys, ['a-key-of-at-least-16-chars']);
  t.is(config.tunnel.tls?.cert, join(file, '..', 'certs/be.pem'));
  t.is(config.drainTimeoutMs, backEndDefaults.drainTimeoutMs);
  const { state } = config;
  t.is(state.sites.shop.mode, 'http');
  t.deepEqual(state.sites.shop.origins.map((origin) => origin.id), ['127.0.0.1:8081', 'mirror']);
  t.is(state.sites.shop.routes[0].origins[0].id, '127.0.0.1:8083');
  t.is(state.sites.db.mode, 'tcp');
  t.deepEqual(state.queue, { maxQueue: backEndDefaults.queue.maxQueue, queueTimeoutMs: 2000 });
  t.is(state.health.path, '/healthz');
  t.is(state.health.intervalMs, 2_000);
  t.is(state.pool.idleTimeoutMs, 180_000, 'seed 000: idle origin connections close after 3 minutes');
  t.true(state.limits.adaptive);
});

test('config errors name the file and the field', async (t) => {
  process.env.BACKEND_TEST_BAD_KEY = 'short';
  const file = await configFile(t, 'bad.yaml', YAML.replace('KEY_VARIABLE', 'BACKEND_TEST_BAD_KEY'));
  const error = await t.throwsAsync(loadBackEndConfig(file), { instanceOf: ConfigError });
  t.is(error?.field, 'tunnel.keys[0]');
  t.true(error?.message.startsWith(file));
  delete process.env.BACKEND_TEST_BAD_KEY;
  const unset = await t.throwsAsync(loadBackEndConfig(file), { instanceOf: ConfigError });
  t.regex(unset?.message ?? '', /BACKEND_TEST_BAD_KEY is not set/);
});

test('states that cannot work are refused, naming the field', (t) => {
  const refused = (state: unknown) => t.throws(() => parseBackEndState(state), { instanceOf: ConfigError }) as ConfigError;
  t.is(refused({ sites: { db: { mode: 'tcp', origins: [{ url: 'http://127.0.0.1:1' }] } } }).field, 'sites.db.origins[0].url');
  t.is(refused({ sites: { web: { origins: [{ url: 'tcp://127.0.0.1:1' }] } } }).field, 'sites.web.origins[0].url');
  t.is(refused({ sites: { web: { origins: [{ url: 'http://127.0.0.1:1/base' }] } } }).field, 'sites.web.origins[0].url');
  t.is(refused({ sites: { web: { origins: [] } } }).field, 'sites.web.origins');
  t.is(refused({ sites: { web: { origins: [{ url: 'http://a:1' }], route: [] } } }).field, 'sites.web');
  t.regex(
    refused({ sites: { web: { origins: [{ url: 'http://a:1' }], routes: [{ pathPrefix: '/a', origins: [{ url: 'http://b:1' }] }, { pathPrefix: '/a', origins: [{ url: 'http://c:1' }] }] } } }).message,
    /routes\[1\]\.pathPrefix: "\/a" appears twice/,
  );
  t.is(
    refused({ sites: { one: { origins: [{ url: 'http://a:1', id: 'x' }] }, two: { origins: [{ url: 'http://b:1', id: 'x' }] } } }).field,
    'sites.two.origins[0].id',
  );
  t.is(refused({ limits: { initial: 500 } }).field, 'limits.initial');
  t.is(refused({ limits: { controller: { tolerance: 0.5 } } }).field, 'limits.controller.tolerance');
  t.regex(refused({ limits: { controller: { windowsMs: 5 } } }).message, /limits\.controller: Unrecognized key: "windowsMs"/);
  t.is(refused({ rings: { weights: [1, 2, 3] } }).field, 'rings.weights');
});

test('a site health check with freshness: the header is kept lower case; bad values are refused naming the field', (t) => {
  const site = (healthCheck: unknown, mode = 'http') => ({ sites: { web: { mode, origins: [{ url: mode === 'tcp' ? 'tcp://a:1' : 'http://a:1' }], healthCheck } } });
  const parsed = parseBackEndState(site({ freshness: { header: 'Last-Modified', maxLagS: 30 } }));
  t.deepEqual(parsed.sites.web?.healthCheck?.freshness, { header: 'last-modified', maxLagS: 30 });
  const refused = (state: unknown) => t.throws(() => parseBackEndState(state), { instanceOf: ConfigError }) as ConfigError;
  t.is(refused(site({ freshness: { header: 'last modified' } })).field, 'sites.web.healthCheck.freshness.header');
  t.is(refused(site({ freshness: { header: 'x-version', maxLagS: -1 } })).field, 'sites.web.healthCheck.freshness.maxLagS');
  t.is(refused(site({ freshness: { maxLagS: 5 } })).field, 'sites.web.healthCheck.freshness.header');
  t.regex(refused(site({ freshness: { header: 'x-version', lag: 5 } })).message, /healthCheck\.freshness: Unrecognized key: "lag"/);
  t.is(refused(site({ freshness: { header: 'x-version' } }, 'tcp')).field, 'sites.web.healthCheck');
});

test('freshness values: a number as it is, an HTTP date as Unix time in s, anything else unknown', (t) => {
  t.is(parseFreshness('42'), 42);
  t.is(parseFreshness(' 1733270400.5 '), 1733270400.5);
  t.is(parseFreshness('Wed, 21 Oct 2015 07:28:00 GMT'), 1445412480);
  t.is(parseFreshness('Sunday, 06-Nov-94 08:49:37 GMT'), 784111777);
  t.is(parseFreshness('Sun Nov  6 08:49:37 1994'), 784111777, 'asctime: GMT though it does not say so');
  for (const bad of [undefined, '', 'soon', '12 34', ['1', '2']]) t.is(parseFreshness(bad), undefined, String(bad));
});
