import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { validate } from '@overlay/common';
import { buildRequestHead, clientAddress, frontEndConfigSchema, hostName, loadFrontEndConfig, requestHasBody } from '@overlay/frontend';
import test from 'ava';

const minimal = { id: 'fe-1', http: { listen: '127.0.0.1:8080' }, admin: '127.0.0.1:9090' };
const backEnd = { tunnel: '127.0.0.1:7000', key: 'k'.repeat(16) };

test('defaults fill a minimal config', (t) => {
  const config = validate(frontEndConfigSchema, minimal);
  t.is(config.workers, 1);
  t.is(config.http.maxHeaderBytes, 16 * 1024);
  t.is(config.http.keepAliveTimeoutMs, 60_000);
  t.true(config.cache.enabled);
  t.is(config.cache.maxBytes, 64 * 1024 * 1024);
  t.deepEqual(config.state, { backEnds: {}, sites: {} });
});

test('problems name the field', (t) => {
  const problem = (value: unknown) => t.throws(() => validate(frontEndConfigSchema, value))?.message ?? '';
  t.regex(problem({ ...minimal, http: { listen: 'nowhere' } }), /^http\.listen: must be host:port/);
  t.regex(problem({ ...minimal, state: { backEnds: { b: { ...backEnd, key: 'short' } } } }), /^state\.backEnds\.b\.key: must be at least 16/);
  t.regex(
    problem({ ...minimal, state: { backEnds: { b: backEnd }, sites: { s: { domains: ['a.test'], backEnds: ['c'] } } } }),
    /^state\.sites\.s\.backEnds\[0\]: unknown back-end "c"/,
  );
  t.regex(
    problem({ ...minimal, state: { backEnds: { b: backEnd }, sites: { s: { domains: ['a.test'], backEnds: ['b'] }, u: { domains: ['A.test'], backEnds: ['b'] } } } }),
    /^state\.sites\.u\.domains\[0\]: "a\.test" already belongs to site "s"/,
  );
  t.regex(problem({ ...minimal, state: { backEnds: { b: backEnd }, sites: { s: { domains: ['a.test'], mode: 'tcp', backEnds: ['b'] } } } }), /^state\.sites\.s\.listen: a tcp site needs/);
  t.regex(problem({ ...minimal, state: { backEnds: { b: backEnd }, sites: { s: { domains: ['a.test'], backEnds: ['b'], idleTimeoutMs: 1000 } } } }), /^state\.sites\.s\.idleTimeoutMs: only tcp sites have an idle deadline/);
  t.regex(problem({ ...minimal, state: { backEnds: { b: backEnd }, sites: { s: { domains: ['a.test'], mode: 'tcp', listen: '127.0.0.1:0', backEnds: ['b'], minBytesPerS: -1 } } } }), /^state\.sites\.s\.minBytesPerS/);
  t.regex(
    problem({ ...minimal, state: { backEnds: { b: backEnd }, sites: { s: { domains: ['a.test'], backEnds: ['b'], priorities: { rules: [{ match: { path: '/x' }, priority: 1 }] } } } } }),
    /^state\.sites\.s\.priorities\.rules\[0\]\.match/,
  );
  t.regex(problem({ ...minimal, state: { rings: { weights: [1, 2, 3] } } }), /^state\.rings\.weights/);
  t.regex(problem({ ...minimal, cache: { maxBytes: 10, maxObjectBytes: 20 } }), /^cache\.maxObjectBytes: must not exceed maxBytes/);
  t.regex(problem({ ...minimal, admission: { tcpRefusal: 'drop' } }), /^admission\.tcpRefusal/);
  t.regex(problem({ ...minimal, admission: { sourceFairness: 'yes' } }), /^admission\.sourceFairness/);
  t.regex(problem({ ...minimal, surprise: true }), /surprise/);
});

test('loadFrontEndConfig reads YAML, expands ${ENV} and names the file on errors', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'fe-config-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  process.env.FE_TEST_TUNNEL_KEY = 'from-the-environment-0123';
  const file = join(dir, 'front-end.yaml');
  await writeFile(file, [
    'id: pop-a', 'pop: ams', 'http: { listen: "127.0.1.1:8080" }', 'admin: "127.0.0.1:9101"', 'workers: 2',
    'state:', '  backEnds:', '    be-1: { tunnel: "127.0.0.1:7001", key: "${FE_TEST_TUNNEL_KEY}" }',
    '  sites:', '    shop: { domains: [Shop.Demo.Test.], backEnds: [be-1] }', '',
  ].join('\n'));
  const config = await loadFrontEndConfig(file);
  t.is(config.state.backEnds['be-1'].key, 'from-the-environment-0123');
  t.deepEqual(config.state.sites.shop.domains, ['shop.demo.test']);
  t.is(config.state.sites.shop.mode, 'http');
  t.is(config.workers, 2);
  const bad = join(dir, 'bad.yaml');
  await writeFile(bad, 'id: pop-a\nhttp: { listen: "127.0.0.1:x" }\nadmin: "127.0.0.1:1"\n');
  const error = await t.throwsAsync(loadFrontEndConfig(bad));
  t.true(error?.message.startsWith(`${bad}: http.listen:`));
});

test('the request head: end-to-end fields in order, X-Forwarded-For appended, Via added, validators replaced', (t) => {
  const head = buildRequestHead(
    {
      method: 'GET',
      url: '/a?b=1',
      headers: { host: 'shop.test' },
      rawHeaders: [
        'Host', 'shop.test', 'Connection', 'close, X-Secret', 'X-Secret', '1', 'TE', 'trailers', 'Accept', '*/*',
        'X-Forwarded-For', '10.0.0.1', 'X-Forwarded-For', '10.0.0.2', 'If-None-Match', '"old"', 'Expect', '100-continue', 'Via', '1.0 a',
      ],
    },
    { site: 'shop', frontEnd: 'pop-a', clientIp: '10.1.2.3', clientPort: 5555, priority: 1, conditional: { 'if-none-match': '"new"' } },
  );
  t.deepEqual(head.headers, [
    ['host', 'shop.test'],
    ['accept', '*/*'],
    ['if-none-match', '"new"'],
    ['x-forwarded-for', '10.0.0.1, 10.0.0.2, 10.1.2.3'],
    ['x-forwarded-host', 'shop.test'],
    ['x-forwarded-proto', 'http'],
    ['forwarded', 'for=10.1.2.3;host=shop.test;proto=http'],
    ['via', '1.0 a, 1.1 pop-a'],
  ]);
  t.is(head.hasBody, false);
  t.is(head.priority, 1);
  t.deepEqual(head.client, { ip: '10.1.2.3', port: 5555 });
  t.is(head.upgrade, undefined);
});

test('small helpers: Host names, client addresses, bodies', (t) => {
  t.is(hostName('Shop.Test:8080'), 'shop.test');
  t.is(hostName('shop.test.'), 'shop.test');
  t.is(hostName('[::1]:80'), '[::1]');
  t.is(hostName(''), undefined);
  t.is(clientAddress('::ffff:10.1.2.3'), '10.1.2.3');
  t.is(clientAddress('::1'), '::1');
  t.true(requestHasBody({ 'transfer-encoding': 'chunked' }));
  t.true(requestHasBody({ 'content-length': '3' }));
  t.false(requestHasBody({ 'content-length': '0' }));
  t.false(requestHasBody({}));
});
