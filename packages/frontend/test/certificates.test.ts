import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createDemoPki, silentLogger } from '@overlay/common';
import { CertificateStore, newTicketKeys } from '@overlay/frontend';
import test from 'ava';

test('certificate choice by SNI: exact names, one-label wildcards, a site\'s own certificate first, a bad one left out', async (t) => {
  const [dir, other] = [await mkdtemp(join(tmpdir(), 'fe-certs-')), await mkdtemp(join(tmpdir(), 'fe-certs-'))];
  t.teardown(() => Promise.all([dir, other].map((path) => rm(path, { recursive: true, force: true }))));
  const pki = await createDemoPki(dir, ['wild.test'], { wildcard: true });
  const { leaves } = await createDemoPki(other, ['plain.test', 'site.test']);
  const store = new CertificateStore(newTicketKeys(), { minVersion: 'TLSv1.2', sessionTimeoutS: 300 }, silentLogger);
  const wild = pki.leaves['wild.test'];
  store.setConfigured([{ cert: leaves['plain.test'].cert, key: leaves['plain.test'].key }, { cert: wild.cert, key: wild.key }], 'https.certificates');
  const plain = store.contextFor('plain.test');
  t.truthy(plain);
  t.is(store.contextFor('PLAIN.test'), plain, 'names match case-insensitively');
  const wildcard = store.contextFor('a.wild.test');
  t.truthy(wildcard);
  t.not(wildcard, plain);
  t.is(store.contextFor('wild.test'), wildcard, 'the certificate also names its apex');
  t.is(store.contextFor('b.a.wild.test'), undefined, 'a wildcard covers one label only: the fallback (server default) answers');
  t.is(store.contextFor(undefined), undefined);

  // A site's own certificate wins for its domains, even over a configured wildcard.
  store.setSites([
    { site: 'shop', domains: ['shop.wild.test'], cert: leaves['site.test'].cert, key: leaves['site.test'].key },
    { site: 'broken', domains: ['broken.test'], cert: leaves['site.test'].cert, key: wild.key },
  ]);
  const own = store.contextFor('shop.wild.test');
  t.truthy(own);
  t.not(own, wildcard);
  t.is(store.contextFor('broken.test'), undefined, 'a key that does not match leaves the site out');
  t.deepEqual(store.list().map((info) => info.source), ['https.certificates.0', 'https.certificates.1', 'site shop']);
  t.true(store.list().every((info) => info.notAfter.getTime() > Date.now()));

  t.throws(() => store.setConfigured([{ cert: wild.cert, key: leaves['plain.test'].key }], 'https.certificates'), { message: /https\.certificates\.0.*does not match/ });
  t.is(store.contextFor('plain.test'), plain, 'a refused set changes nothing');
});
