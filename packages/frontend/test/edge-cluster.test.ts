import { X509Certificate } from 'node:crypto';
import { copyFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { createDemoPki, silentLogger } from '@overlay/common';
import { startDemoOrigin } from '@overlay/demo-origin';
import { frontEndConfigSchema, startFrontEnd } from '@overlay/frontend';
import test from 'ava';
import { backEndsOf, waitFor } from './support/helpers.js';
import { startTestBackEnd } from './support/test-backend.js';

/** One TLS connection: the certificate served, whether the session resumed, and the ticket it was given. */
function handshake(port: number, ca: string, session?: Buffer): Promise<{ serial: string; reused: boolean; ticket: Buffer }> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ host: '127.0.0.1', port, servername: 'demo.test', ca, session }, () => {
      const serial = socket.getPeerCertificate().serialNumber;
      const reused = socket.isSessionReused();
      socket.once('session', (ticket: Buffer) => {
        resolve({ serial, reused, ticket });
        socket.end();
      });
      if (reused) {
        resolve({ serial, reused, ticket: session as Buffer });
        socket.end();
      }
    });
    socket.on('error', reject);
  });
}

test('workers: 2 serve HTTPS on one port: any worker resumes any session, and a reload reaches every worker', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'fe-edge-cluster-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const pki = await createDemoPki(dir, ['demo.test', 'demo.test']);
  const served = { cert: join(dir, 'served.pem'), key: join(dir, 'served.key') };
  await copyFile(join(dir, 'site-0.pem'), served.cert);
  await copyFile(join(dir, 'site-0.key'), served.key);
  const origin = await startDemoOrigin({ id: 'origin-c', host: '127.0.0.1', port: 0 });
  const backEnd = await startTestBackEnd('be-1', { demo: { origin: origin.url } });
  t.teardown(async () => {
    await backEnd.close();
    await origin.close();
  });
  const config = frontEndConfigSchema.parse({
    id: 'fe-cluster',
    http: { listen: '127.0.0.1:0', closeGraceMs: 200 },
    https: { listen: '127.0.0.1:0', certificates: [served] },
    admin: '127.0.0.1:0',
    workers: 2,
    state: { backEnds: backEndsOf(backEnd), sites: { demo: { domains: ['demo.test'], backEnds: ['be-1'] } } },
  });
  const frontEnd = await startFrontEnd(config, { log: silentLogger });
  t.teardown(() => frontEnd.close());
  const port = frontEnd.https?.port as number;
  const first = await handshake(port, pki.ca.cert);
  // New connections are spread over the workers: every one of these resumes, whichever worker takes it.
  for (let i = 0; i < 8; i++) t.true((await handshake(port, pki.ca.cert, first.ticket)).reused, `resumption ${i}`);

  await copyFile(join(dir, 'site-1.pem'), served.cert);
  await copyFile(join(dir, 'site-1.key'), served.key);
  const outcome = await frontEnd.reload(config);
  t.true(outcome.applied.includes('https.certificates'));
  const renewed = pki.leaves['demo.test'];
  const serials = new Set<string>();
  await waitFor(async () => {
    for (let i = 0; i < 8; i++) serials.add((await handshake(port, pki.ca.cert)).serial);
    return true;
  }, 'handshakes after the reload');
  t.notRegex(first.serial, /^$/);
  t.false(serials.has(first.serial), 'no worker serves the old certificate');
  t.deepEqual([...serials], [new X509Certificate(renewed.cert).serialNumber], 'every worker serves the renewed one');
});
