/// <reference lib="dom" />
// The callbacks given to page.evaluate run in the browser.
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import test, { type ExecutionContext } from 'ava';
import { chromium, type Browser } from 'playwright-core';
import { subscribe } from '@overlay/manager';
import { api, report, siteBody, startTestManager, tempDir, TOKEN, waitFor } from './helpers/manager.js';

const CHROMIUM = '/usr/bin/chromium';

async function launch(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

/** A manager with the site `shop` on pop-a-1 and be-1, once chromium is known to be there (the test fails, not skips, without it). */
async function managerWithSite(t: ExecutionContext) {
  t.true(existsSync(CHROMIUM), `${CHROMIUM} is missing: apt-get install -y chromium`);
  if (!existsSync(CHROMIUM)) return undefined;
  const manager = await startTestManager({ feed: { reportPushDelayMs: 20 } });
  t.teardown(() => manager.close());
  await api(manager.url, 'PUT', '/v1/sites/shop', siteBody({ frontEnds: ['pop-a-1'], backEnds: ['be-1'] }));
  return manager;
}

/** A browser on the dashboard with the token, collecting the page's script errors. */
async function openDashboard(t: ExecutionContext, url: string) {
  const browser = await launch();
  t.teardown(() => browser.close());
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const pageErrors: string[] = [];
  page.on('pageerror', (err) => pageErrors.push(err.message));
  await page.goto(`${url}/#token=${TOKEN}`);
  return { browser, page, pageErrors };
}

test('the dashboard shows sites, gateways and live tunnel RTT from the feed, in a real browser', async (t) => {
  const manager = await managerWithSite(t);
  if (!manager) return;
  const gateway = subscribe({
    url: manager.url,
    token: TOKEN,
    hello: { role: 'front-end', id: 'pop-a-1', pop: 'pop-a', addresses: { http: '127.0.1.1:8080' } },
    onState: () => undefined,
  });
  t.teardown(() => gateway.close());
  await waitFor('gateway connected', () => gateway.connected);
  const tunnel = { peer: 'be-1', rttMs: 41.5, jitterMs: 2.25, lossRate: 0.002, throughputBps: 3_000_000, connected: true };
  // Report every second as a real gateway does, so a slow browser start cannot outlast the report timeout.
  let current = report({ load: 0.37, tunnels: [tunnel], ringBytes: [900_000, 400_000, 120_000, 30_000, 5_000] });
  gateway.report(current);
  const reporter = setInterval(() => gateway.report(current), 1000);
  t.teardown(() => clearInterval(reporter));
  await waitFor('report stored', async () => (await api(manager.url, 'GET', '/v1/front-ends/pop-a-1')).body.lastReport !== null);

  const { browser, page, pageErrors } = await openDashboard(t, manager.url);

  await page.locator('#status', { hasText: 'live' }).waitFor({ timeout: 10_000 });
  await page.locator('#sites td', { hasText: 'shop.demo.test' }).waitFor();
  const gatewayRow = page.locator('#gateways tbody tr', { hasText: 'pop-a-1' });
  await gatewayRow.waitFor();
  t.regex(await gatewayRow.innerText(), /front-end[\s\S]*pop-a[\s\S]*up[\s\S]*37 %/);
  const rtt = page.locator('#tunnels td.rtt');
  await page.waitForFunction(() => document.querySelector('#tunnels td.rtt')?.textContent === '41.5');
  t.is(await rtt.first().innerText(), '41.5');
  t.regex(await page.locator('#tunnels tbody').innerText(), /pop-a-1\s+be-1\s+connected\s+41\.5\s+2\.3\s+0\.20 %\s+24\.0 Mbit\/s/);

  // A new report reaches the open page without a reload.
  current = report({ load: 0.5, tunnels: [{ ...tunnel, rttMs: 88.5 }] });
  gateway.report(current);
  await page.waitForFunction(() => document.querySelector('#tunnels td.rtt')?.textContent === '88.5', undefined, { timeout: 5000 });
  t.is(await rtt.first().innerText(), '88.5');

  const screenshot = await page.screenshot({ fullPage: true });
  const file = join(await tempDir('dashboard-'), 'dashboard.png');
  await writeFile(file, screenshot);
  t.log(`screenshot: ${file}`);
  // Decode the PNG in a blank page and count colours: a blank or unstyled page has only a handful.
  const blank = await browser.newPage();
  const { colours, inked } = await blank.evaluate(async (dataUrl) => {
    const image = new Image();
    image.src = dataUrl;
    await image.decode();
    const canvas = document.createElement('canvas');
    canvas.width = image.width;
    canvas.height = image.height;
    const context = canvas.getContext('2d') as CanvasRenderingContext2D;
    context.drawImage(image, 0, 0);
    const pixels = context.getImageData(0, 0, image.width, image.height).data;
    const seen = new Set<number>();
    let dark = 0;
    for (let index = 0; index < pixels.length; index += 4) {
      seen.add((pixels[index]! << 16) | (pixels[index + 1]! << 8) | pixels[index + 2]!);
      if (pixels[index]! + pixels[index + 1]! + pixels[index + 2]! < 300) dark++;
    }
    return { colours: seen.size, inked: dark / (pixels.length / 4) };
  }, `data:image/png;base64,${screenshot.toString('base64')}`);
  t.true(colours > 50, `${colours} colours in the screenshot`);
  t.true(inked > 0.02, `${(inked * 100).toFixed(1)} % dark pixels (text, header, bars)`);
  t.deepEqual(pageErrors, []);
});

test('the dashboard says so when the token is wrong', async (t) => {
  t.true(existsSync(CHROMIUM), `${CHROMIUM} is missing: apt-get install -y chromium`);
  if (!existsSync(CHROMIUM)) return;
  const manager = await startTestManager();
  t.teardown(() => manager.close());
  const browser = await launch();
  t.teardown(() => browser.close());
  const page = await browser.newPage();
  await page.goto(`${manager.url}/#token=wrong-token-000000000`);
  await page.locator('#status', { hasText: 'disconnected' }).waitFor({ timeout: 10_000 });
  t.is(await page.locator('#sites tbody').innerText(), '');
});

test('a back-end whose tunnel cannot come up shows as unreachable, and the tunnel as down with its reason', async (t) => {
  const manager = await managerWithSite(t);
  if (!manager) return;
  const backEnd = subscribe({ url: manager.url, token: TOKEN, hello: { role: 'back-end', id: 'be-1', addresses: { tunnel: '127.0.0.1:7000' }, tunnelTls: true }, onState: () => undefined });
  const frontEnd = subscribe({ url: manager.url, token: TOKEN, hello: { role: 'front-end', id: 'pop-a-1', addresses: { http: '127.0.1.1:8080' } }, onState: () => undefined });
  t.teardown(() => Promise.all([backEnd.close(), frontEnd.close()]).then(() => undefined));
  await waitFor('both connected', () => backEnd.connected && frontEnd.connected);
  const reason = 'TLS: the back-end asks for a client certificate (mutual TLS): set the front-end\'s tunnel TLS cert and key';
  const send = () => {
    backEnd.report(report({ tunnels: [] }));
    frontEnd.report(report({ healthy: false, tunnels: [{ peer: 'be-1', rttMs: 0, jitterMs: 0, throughputBps: 0, connected: false, error: reason }] }));
  };
  send();
  const reporter = setInterval(send, 1000);
  t.teardown(() => clearInterval(reporter));
  const view = await waitFor('unreachable in the API', async () => (await api(manager.url, 'GET', '/v1/back-ends/be-1')).body.unreachableFrom);
  t.deepEqual(view, [{ frontEnd: 'pop-a-1', error: reason }]);

  const { browser, page, pageErrors } = await openDashboard(t, manager.url);
  const row = page.locator('#gateways tbody tr', { hasText: 'be-1' });
  await row.waitFor({ timeout: 10_000 });
  await page.waitForFunction(() => /unreachable/.test(document.querySelector('#gateways tbody')?.textContent ?? ''), undefined, { timeout: 10_000 });
  t.regex(await row.innerText(), /be-1\s+back-end[\s\S]*unreachable/);
  t.notRegex(await row.innerText(), /\bup\b/);
  t.regex(await page.locator('#tunnels tbody').innerText(), /pop-a-1\s+be-1\s+down: TLS: the back-end asks for a client certificate/);
  t.deepEqual(pageErrors, []);
});
