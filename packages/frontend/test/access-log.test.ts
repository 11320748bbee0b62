import { closeSync, openSync } from 'node:fs';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { createAccessLog, silentLogger, type AccessEntry, type Logger } from '@overlay/common';
import { requestTrace, withTrace } from '@overlay/frontend';

test('x-request-id: a sane incoming one is kept, anything else replaced by a fresh UUID', (t) => {
  t.is(requestTrace({ 'x-request-id': 'abc-123_XYZ' }).requestId, 'abc-123_XYZ');
  for (const bad of ['has space', 'x'.repeat(129), '', 'tab\there', 'ünïcode']) {
    t.regex(requestTrace({ 'x-request-id': bad }).requestId, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/, bad);
  }
  t.not(requestTrace({}).requestId, requestTrace({}).requestId);
});

test('traceparent: continued with a new parent span and the caller\'s flags, or started sampled', (t) => {
  const incoming = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00';
  const continued = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/.exec(requestTrace({ traceparent: incoming }).traceparent);
  t.is(continued?.[1], '4bf92f3577b34da6a3ce929d0e0e4736');
  t.not(continued?.[2], '00f067aa0ba902b7');
  t.is(continued?.[3], '00');
  for (const bad of ['01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01', `00-${'0'.repeat(32)}-00f067aa0ba902b7-01`, `00-4bf92f3577b34da6a3ce929d0e0e4736-${'0'.repeat(16)}-01`, '00-XYZ-00f067aa0ba902b7-01', 'garbage']) {
    const started = /^00-([0-9a-f]{32})-([0-9a-f]{16})-01$/.exec(requestTrace({ traceparent: bad }).traceparent);
    t.truthy(started, bad);
    t.false(bad.includes(started?.[1] ?? 'none'));
  }
  const headers = withTrace([['accept', '*/*'], ['x-request-id', 'spoof'], ['traceparent', incoming]], { requestId: 'kept', traceparent: 'tp' });
  t.deepEqual(headers, [['accept', '*/*'], ['x-request-id', 'kept'], ['traceparent', 'tp']]);
});

test('sampling: a share of ordinary requests, every error answer; disabled logs nothing', (t) => {
  const lines: unknown[] = [];
  const log = { info: (entry: unknown) => lines.push(entry), isLevelEnabled: () => true } as unknown as Logger;
  const entry = (status: number): AccessEntry => ({ client: '10.0.0.1', method: 'GET', path: '/', status, bytesIn: 0, bytesOut: 0, durationMs: 1 });
  let draw = 0;
  const random = () => (draw++ % 4) / 4; // 0, .25, .5, .75, …
  const quarter = createAccessLog('test', log, { enabled: true, sample: 0.25, flushMs: 0 }, { destination: log, random }).write;
  for (let i = 0; i < 100; i++) quarter(entry(200));
  t.is(lines.length, 25);
  for (let i = 0; i < 10; i++) quarter(entry(503));
  t.is(lines.length, 35);
  const off = createAccessLog('test', log, { enabled: false, sample: 1, flushMs: 0 }, { destination: log }).write;
  off(entry(500));
  t.is(lines.length, 35);
  const silent = createAccessLog('test', silentLogger, { enabled: true, sample: 1, flushMs: 0 }).write;
  silent(entry(500));
  t.is(lines.length, 35, 'a silent process logger means a silent access log');
});

test('lines written to a file descriptor are JSON of the process log shape, batched until flushed', async (t) => {
  const file = join(await mkdtemp(join(tmpdir(), 'access-log-')), 'access.log');
  const fd = openSync(file, 'w');
  const enabled = { info: () => undefined, isLevelEnabled: () => true } as unknown as Logger;
  const log = createAccessLog('front-end', enabled, { enabled: true, sample: 1, flushMs: 60_000 }, { destination: fd });
  log.write({ client: '10.0.0.1', method: 'GET', host: 'shop.test', path: '/a "quoted" path', status: 200, bytesIn: 0, bytesOut: 10, durationMs: 1.5, requestId: 'r1', cache: undefined });
  t.is(await readFile(file, 'utf8'), '', 'held in the batch');
  log.close();
  closeSync(fd);
  const [line, ...rest] = (await readFile(file, 'utf8')).trim().split('\n');
  t.is(rest.length, 0);
  const parsed = JSON.parse(line as string);
  t.like(parsed, { level: 30, pid: process.pid, name: 'front-end', msg: 'access', path: '/a "quoted" path', requestId: 'r1', status: 200 });
  t.false('cache' in parsed);
  t.false(Number.isNaN(Date.parse(parsed.time)));
});

test('a line holds every field of its entry as JSON would, however odd the text', async (t) => {
  const file = join(await mkdtemp(join(tmpdir(), 'access-log-')), 'access.log');
  const fd = openSync(file, 'w');
  const enabled = { info: () => undefined, isLevelEnabled: () => true } as unknown as Logger;
  const log = createAccessLog('back-end', enabled, { enabled: true, sample: 1, flushMs: 60_000 }, { destination: fd });
  const entries: AccessEntry[] = [
    { client: '::1', method: 'GET', path: '/', status: 200, bytesIn: 0, bytesOut: 0, durationMs: 0 },
    {
      client: '10.0.0.1', method: 'PO"ST', host: 'h\\ost', path: '/ä/\u0000/\n/\u2028/"\\', status: 503, bytesIn: 12, bytesOut: 1e21, priority: 0, cache: 'MISS',
      backEnd: 'be "1"', origin: 'o\tx', frontEnd: 'fe-1', durationMs: 1.234, requestId: '😀', traceparent: '00-x',
    },
    { client: '10.0.0.2', method: 'GET', path: '/nan', status: 200, bytesIn: Number.NaN, bytesOut: Number.POSITIVE_INFINITY, durationMs: -0.5 },
    // Longer than a whole batch (16 KiB), between two short ones.
    { client: '10.0.0.3', method: 'GET', path: `/${'ü'.repeat(9000)}`, status: 414, bytesIn: 0, bytesOut: 0, durationMs: 2 },
    { client: '10.0.0.4', method: 'GET', path: '/after', status: 200, bytesIn: 0, bytesOut: 0, durationMs: 3 },
    ...[0.001, 0.05, 12.345, 999.999, 1234567.891, 0.1 + 0.2, 1 / 3].map((durationMs) => ({ client: '10.0.0.5', method: 'GET', path: '/d', status: 200, bytesIn: 0, bytesOut: 0, durationMs })),
  ];
  for (const entry of entries) log.write(entry);
  log.close();
  closeSync(fd);
  const lines = (await readFile(file, 'utf8')).trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
  t.is(lines.length, entries.length);
  lines.forEach((line, i) => {
    const { level, time, pid, name, msg, ...fields } = line;
    t.like({ level, pid, name, msg }, { level: 30, pid: process.pid, name: 'back-end', msg: 'access' });
    t.regex(String(time), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    t.true(Math.abs(Date.parse(String(time)) - Date.now()) < 60_000);
    t.deepEqual(fields, JSON.parse(JSON.stringify(entries[i])));
  });
});
