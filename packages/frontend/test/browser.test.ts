/// <reference lib="dom" />
// The callbacks given to page.evaluate run in the browser.
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createDemoPki, spkiHash } from '@overlay/common';
import { startDemoOrigin } from '@overlay/demo-origin';
import test from 'ava';
import { chromium } from 'playwright-core';
import { startTestFrontEnd, waitForTunnels } from './support/helpers.js';
import { startTestBackEnd, TEST_KEY } from './support/test-backend.js';

const CHROMIUM = '/usr/bin/chromium';
const SITE = 'www.shop.test';

test('headless Chromium loads a site over HTTPS through the front-end, on HTTP/2', async (t) => {
  t.true(existsSync(CHROMIUM), `${CHROMIUM} is missing: apt-get install -y chromium`);
  if (!existsSync(CHROMIUM)) return;
  const dir = await mkdtemp(join(tmpdir(), 'fe-browser-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const pki = await createDemoPki(dir, [SITE]);
  const origin = await startDemoOrigin({ id: 'origin-b', host: '127.0.0.1', port: 0 });
  t.teardown(() => origin.close());
  const backEnd = await startTestBackEnd('be-1', { shop: { origin: origin.url } });
  t.teardown(() => backEnd.close());
  const leaf = pki.leaves[SITE];
  const frontEnd = await startTestFrontEnd({
    https: { listen: '127.0.0.1:0' },
    state: {
      backEnds: { 'be-1': { tunnel: backEnd.tunnel, key: TEST_KEY } },
      sites: { shop: { domains: [SITE], backEnds: ['be-1'], certificate: { cert: leaf.cert, key: leaf.key } } },
    },
  }, t);
  await waitForTunnels(frontEnd, ['be-1']);

  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync',
      // The demo CA is trusted for this one certificate only: its public key's hash, not "ignore all errors".
      `--ignore-certificate-errors-spki-list=${spkiHash(leaf.cert)}`,
      `--host-resolver-rules=MAP ${SITE} 127.0.0.1`,
    ],
  });
  t.teardown(() => browser.close());
  const page = await browser.newPage();
  const response = await page.goto(`https://${SITE}:${frontEnd.https?.port}/`);
  t.is(response?.status(), 200);
  const headers = response?.headers() ?? {};
  t.is(headers['x-overlay-frontend'], 'fe-test');
  t.is(headers['x-overlay-backend'], 'be-1');
  t.regex(await page.content(), /Overlay demo origin/);
  const protocol = await page.evaluate(() => (performance.getEntriesByType('navigation')[0] as PerformanceNavigationTiming).nextHopProtocol);
  t.is(protocol, 'h2');
  const security = await response?.securityDetails();
  t.is(security?.subjectName, SITE);
});
