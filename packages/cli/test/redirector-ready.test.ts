/** `overlay redirector` says where it really listens: the admin address it bound, and every DNS address. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { startProcess } from '@overlay/common';
import { OVERLAY, requireCommand, run } from '../../../test/helpers.js';

test('the ready line names the admin address as bound (not the DNS host) and every listen address', async (t) => {
  await requireCommand('dig', 'bind9-dnsutils');
  const dir = mkdtempSync(join(tmpdir(), 'overlay-redirector-ready-'));
  const file = join(dir, 'redirector.json');
  writeFileSync(file, JSON.stringify({
    listen: ['0.0.0.0:0', '127.0.0.2:0'],
    admin: '127.0.0.1:0',
    zones: { 'demo.test': { ns: [{ name: 'ns1.demo.test', addresses: ['127.0.0.1'] }] } },
  }));
  const started = await startProcess(process.execPath, [OVERLAY, 'redirector', '--config', file], { readyTimeoutMs: 30_000 });
  t.teardown(() => started.stop());
  const admin = String(started.ready.admin);
  t.regex(admin, /^127\.0\.0\.1:\d+$/);
  const health = await fetch(`http://${admin}/healthz`);
  t.is(health.status, 200);
  const all = started.ready.dnsAll as string[];
  t.is(all.length, 2);
  t.regex(all[1] as string, /^127\.0\.0\.2:\d+$/);
  const port = (all[1] as string).split(':')[1] as string;
  const { stdout } = await run('dig', ['@127.0.0.2', '-p', port, '+norec', '+short', 'demo.test', 'SOA']);
  t.regex(stdout, /ns1\.demo\.test\./);
});
