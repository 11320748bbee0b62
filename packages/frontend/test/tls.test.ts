import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import test from 'ava';
import { send, startTestFrontEnd, waitForTunnels } from './support/helpers.js';
import { startProbeOrigin } from './support/probe-origin.js';
import { startTestBackEnd, TEST_KEY } from './support/test-backend.js';

test('a back-end reached over TLS: CA from a file, checked against servername', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'fe-tls-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const [keyFile, certFile] = [join(dir, 'key.pem'), join(dir, 'cert.pem')];
  await promisify(execFile)('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
    '-subj', '/CN=backend.test', '-addext', 'subjectAltName=DNS:backend.test', '-keyout', keyFile, '-out', certFile,
  ]);
  const [key, cert] = await Promise.all([readFile(keyFile), readFile(certFile)]);
  const probe = await startProbeOrigin();
  const backEnd = await startTestBackEnd('be-tls', { probe: { origin: probe.url } }, { key, cert });
  t.teardown(async () => {
    await backEnd.close();
    await probe.close();
  });
  const frontEnd = await startTestFrontEnd(
    {
      state: {
        backEnds: {
          'be-tls': { tunnel: backEnd.tunnel, key: TEST_KEY, tls: { ca: certFile, servername: 'backend.test' } },
          'be-wrong-name': { tunnel: backEnd.tunnel, key: TEST_KEY, tls: { ca: cert.toString(), servername: 'other.test' } },
        },
        sites: {
          probe: { domains: ['probe.test'], backEnds: ['be-tls'] },
          wrong: { domains: ['wrong.test'], backEnds: ['be-wrong-name'] },
        },
      },
    },
    t,
  );
  await waitForTunnels(frontEnd, ['be-tls']);
  const reply = await send(frontEnd.http, { host: 'probe.test', path: '/headers' });
  t.is(reply.status, 200);
  t.is(reply.headers['x-overlay-backend'], 'be-tls');
  const refused = await send(frontEnd.http, { host: 'wrong.test', path: '/headers' });
  t.is(refused.status, 502, 'a certificate for another name is not trusted');
  t.is(refused.headers['x-overlay-error'], 'ERR_NO_BACKEND');
});
