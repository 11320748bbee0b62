import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { createDemoPki } from '@overlay/common';
import { api, FeedProbe, siteBody, startTestManager } from './helpers/manager.js';

test('a site certificate: checked on PUT, pushed whole on the feed, shown without its key', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'manager-cert-'));
  const manager = await startTestManager();
  t.teardown(async () => {
    await manager.close();
    await rm(dir, { recursive: true, force: true });
  });
  const pki = await createDemoPki(dir, ['shop.demo.test', 'other.test']);
  const own = pki.leaves['shop.demo.test'];
  const feed = await FeedProbe.open(manager.url);
  t.teardown(() => feed.close());

  const mismatched = await api(manager.url, 'PUT', '/v1/sites/shop', siteBody({ certificate: { cert: own.cert, key: pki.leaves['other.test'].key } }));
  t.is(mismatched.status, 400);
  t.regex(mismatched.body.error.message, /certificate\.key.*does not match/);
  const notPem = await api(manager.url, 'PUT', '/v1/sites/shop', siteBody({ certificate: { cert: 'hello', key: own.key } }));
  t.is(notPem.status, 400);
  t.regex(notPem.body.error.message, /certificate\.cert/);

  const put = await api(manager.url, 'PUT', '/v1/sites/shop', siteBody({ certificate: { cert: own.cert, key: own.key } }));
  t.is(put.status, 201, JSON.stringify(put.body));
  t.is(put.body.certificate.key, '(hidden)');
  const got = await api(manager.url, 'GET', '/v1/sites/shop');
  t.is(got.body.certificate.cert, own.cert);
  t.is(got.body.certificate.key, '(hidden)');
  t.false(JSON.stringify(await api(manager.url, 'GET', '/v1/sites')).includes('PRIVATE KEY'));
  const pushed = await feed.next((m) => m.state?.sites?.shop);
  t.deepEqual(pushed.state.sites.shop.certificate, { cert: own.cert, key: own.key });
});
