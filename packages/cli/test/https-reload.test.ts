import { X509Certificate } from 'node:crypto';
import { copyFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import test from 'ava';
import { createDemoPki, parseHostPort, pollUntil, startProcess } from '@overlay/common';
import { OVERLAY } from '../../../test/helpers.js';

function servedSerial(address: string, ca: string): Promise<string> {
  const { host, port } = parseHostPort(address);
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ host, port, servername: 'shop.test', ca }, () => {
      resolve(socket.getPeerCertificate().serialNumber);
      socket.end();
    });
    socket.on('error', reject);
  });
}

test('overlay front-end: the ready line gives https, and SIGHUP serves renewed certificate files without a restart', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'overlay-https-reload-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const pki = await createDemoPki(dir, ['shop.test', 'shop.test']);
  const served = { cert: join(dir, 'served.pem'), key: join(dir, 'served.key') };
  await copyFile(join(dir, 'site-0.pem'), served.cert);
  await copyFile(join(dir, 'site-0.key'), served.key);
  const file = join(dir, 'front-end.json');
  await writeFile(file, JSON.stringify({ id: 'fe-reload', http: { listen: '127.0.0.1:0' }, https: { listen: '127.0.0.1:0', certificates: [served] }, admin: '127.0.0.1:0' }));
  const logs: string[] = [];
  const frontEnd = await startProcess(process.execPath, [OVERLAY, 'front-end', '--config', file], { onStderr: (line) => logs.push(line) });
  t.teardown(() => frontEnd.stop());
  const https = String(frontEnd.ready.https);
  t.regex(https, /^127\.0\.0\.1:\d+$/);
  const first = await servedSerial(https, pki.ca.cert);

  await copyFile(join(dir, 'site-1.pem'), served.cert);
  await copyFile(join(dir, 'site-1.key'), served.key);
  frontEnd.child.kill('SIGHUP');
  const renewed = new X509Certificate(pki.leaves['shop.test'].cert).serialNumber;
  t.not(renewed, first);
  t.true(await pollUntil(async () => (await servedSerial(https, pki.ca.cert)) === renewed, { timeoutMs: 10_000, intervalMs: 50 }), 'the renewed certificate is served');
  t.true(logs.some((line) => line.includes('config reloaded') && line.includes('https.certificates')));
  t.false(logs.some((line) => line.includes('PRIVATE KEY')), 'no key material in the logs');
});
