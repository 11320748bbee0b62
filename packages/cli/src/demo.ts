import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { get, type IncomingHttpHeaders } from 'node:http';
import { get as httpsGet } from 'node:https';
import { createDemoPki, formatHostPort, parseHostPort, pollUntil, startProcess, type Logger, type StartedProcess } from '@overlay/common';
import { startDemoOrigin } from '@overlay/demo-origin';
import { DEMO_PRIORITIES, DEMO_SITE, backEndConfig, demoSiteBody, frontEndConfig, managerConfig, redirectorConfig } from '@overlay/lab';
import type { Running } from './run.js';

const CLI = fileURLToPath(new URL('./main.js', import.meta.url));
export { DEMO_SITE };

/** Where everything listens, from one base port (contract: pop-a on 127.0.1.1, pop-b on 127.0.1.2, same port). */
export function demoLayout(base: number) {
  return {
    manager: { host: '127.0.0.1', port: base },
    origins: [{ id: 'origin-1', port: base + 1 }, { id: 'origin-2', port: base + 2 }],
    backEnd: { id: 'be-1', tunnel: `127.0.0.1:${base + 10}`, admin: `127.0.0.1:${base + 11}` },
    frontEnds: [
      { id: 'pop-a', pop: 'pop-a', http: `127.0.1.1:${base + 20}`, https: `127.0.1.1:${base + 24}`, admin: `127.0.1.1:${base + 21}` },
      { id: 'pop-b', pop: 'pop-b', http: `127.0.1.2:${base + 20}`, https: `127.0.1.2:${base + 24}`, admin: `127.0.1.2:${base + 21}` },
    ],
    dns: { host: '127.0.0.1', port: base + 53 },
    dnsAdmin: { host: '127.0.0.1', port: base + 54 },
  };
}

async function api(url: string, token: string, method: string, path: string, body: unknown): Promise<void> {
  const response = await fetch(`${url}/v1${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${await response.text()}`);
}

/** GET with a Host header of our choosing (fetch forbids setting Host). */
function getThrough(hostPort: string, site: string, path: string): Promise<{ status: number; headers: IncomingHttpHeaders }> {
  const { host, port } = parseHostPort(hostPort);
  return new Promise((resolve, reject) => {
    const request = get({ host, port, path, headers: { host: site }, timeout: 5_000 }, (response) => {
      response.resume();
      response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers }));
    });
    request.on('timeout', () => request.destroy(new Error('timeout')));
    request.on('error', reject);
  });
}

/** GET over TLS with SNI for `site`, trusting only the demo CA. */
function getThroughHttps(hostPort: string, site: string, path: string, ca: string): Promise<{ status: number; headers: IncomingHttpHeaders }> {
  const { host, port } = parseHostPort(hostPort);
  return new Promise((resolve, reject) => {
    const request = httpsGet({ host, port, path, servername: site, ca, headers: { host: site }, timeout: 5_000, agent: false }, (response) => {
      response.resume();
      response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers }));
    });
    request.on('timeout', () => request.destroy(new Error('timeout')));
    request.on('error', reject);
  });
}

/** Polls until `check` passes: the demo says ready only once a request really flows end to end. */
async function until(what: string, check: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  if (!(await pollUntil(check, { timeoutMs }))) throw new Error(`demo: ${what} not ready within ${timeoutMs} ms`);
}

/**
 * `overlay demo`: two origins (in this process), then a manager, a back-end, two front-ends and the DNS
 * redirector as child processes of the real `overlay` command, all fed by the manager; the site is
 * configured through the manager's API, as an operator would.
 */
export async function startDemo(basePort: number, log: Logger): Promise<Running> {
  const layout = demoLayout(basePort);
  const dir = await mkdtemp(join(tmpdir(), 'overlay-demo-'));
  const token = randomBytes(18).toString('base64url');
  const tunnelKey = randomBytes(24).toString('base64url');
  const children: StartedProcess[] = [];
  const origins: Array<{ url: string; close(): Promise<void> }> = [];
  const stop = async () => {
    for (const child of children.reverse()) await child.stop().catch(() => {});
    await Promise.all(origins.map((origin) => origin.close().catch(() => {})));
    await rm(dir, { recursive: true, force: true });
  };
  const spawnRole = async (role: string, config: unknown) => {
    const file = join(dir, `${role}-${children.length}.json`);
    await writeFile(file, JSON.stringify(config, null, 2));
    const child = await startProcess(process.execPath, [CLI, role, '--config', file], {
      onStderr: (line) => process.stderr.write(`${line}\n`),
    });
    children.push(child);
    return child;
  };

  try {
    for (const origin of layout.origins) {
      origins.push(await startDemoOrigin({ id: origin.id, host: '127.0.0.1', port: origin.port }));
    }
    // A CA of the demo's own and a certificate for the site, which the manager hands to the front-ends.
    const pki = await createDemoPki(dir, [DEMO_SITE]);
    const siteCertificate = { cert: pki.leaves[DEMO_SITE].cert, key: pki.leaves[DEMO_SITE].key };
    const manager = await spawnRole('manager', managerConfig(formatHostPort(layout.manager.host, layout.manager.port), token, join(dir, 'manager-data')));
    const managerUrl = String(manager.ready.url);
    const link = { url: managerUrl, token };

    await api(managerUrl, token, 'PUT', `/sites/${DEMO_SITE}`, demoSiteBody(
      origins.map((origin) => origin.url),
      layout.frontEnds.map((frontEnd) => frontEnd.id),
      [layout.backEnd.id],
      siteCertificate,
    ));
    await api(managerUrl, token, 'PUT', `/sites/${DEMO_SITE}/priorities`, DEMO_PRIORITIES);

    const backEnd = await spawnRole('back-end', backEndConfig(layout.backEnd.id, layout.backEnd.tunnel, layout.backEnd.admin, link, tunnelKey));
    const frontEnds = [];
    for (const frontEnd of layout.frontEnds) {
      const child = await spawnRole('front-end', frontEndConfig(frontEnd.id, frontEnd.http, frontEnd.admin, link, tunnelKey, frontEnd.https));
      frontEnds.push({ id: frontEnd.id, http: String(child.ready.http), https: String(child.ready.https), admin: String(child.ready.admin) });
    }
    const redirector = await spawnRole('redirector', redirectorConfig(
      layout.dns,
      layout.dnsAdmin,
      '127.0.0.1',
      { '10.1.0.0/16': ['pop-a', 'pop-b'], '10.2.0.0/16': ['pop-b', 'pop-a'], '0.0.0.0/0': ['pop-a', 'pop-b'] },
      link,
    ));

    for (const frontEnd of frontEnds) {
      await until(`${DEMO_SITE} through ${frontEnd.id}`, async () => {
        const { status, headers } = await getThrough(frontEnd.http, DEMO_SITE, '/');
        return status === 200 && headers['x-overlay-backend'] === layout.backEnd.id;
      });
      await until(`https://${DEMO_SITE} through ${frontEnd.id}`, async () => {
        const { status } = await getThroughHttps(frontEnd.https, DEMO_SITE, '/', pki.ca.cert).catch(() => ({ status: 0 }));
        return status === 200;
      });
    }
    log.info({ dir }, 'demo ready');
    const dns = String(redirector.ready.dns);
    return {
      ready: {
        manager: managerUrl,
        token,
        frontEnds,
        backEnds: [{ id: layout.backEnd.id, tunnel: String(backEnd.ready.tunnel), admin: String(backEnd.ready.admin) }],
        dns,
        origins: origins.map((origin) => origin.url),
        sites: [DEMO_SITE],
        /** The demo CA's certificate (PEM file): `curl --cacert` trusts the sites' HTTPS with it. */
        ca: pki.ca.certFile,
      },
      hints: [
        '',
        `Overlay demo is up: ${DEMO_SITE} is served by front-ends pop-a (${frontEnds[0].http}) and pop-b (${frontEnds[1].http}).`,
        'Try:',
        `  curl -si --resolve ${DEMO_SITE}:${basePort + 20}:127.0.1.1 http://${DEMO_SITE}:${basePort + 20}/`,
        `  curl -si --http2 --cacert ${pki.ca.certFile} --resolve ${DEMO_SITE}:${basePort + 24}:127.0.1.1 https://${DEMO_SITE}:${basePort + 24}/`,
        `  curl -s -o /dev/null -w '%{http_code} %{size_download}\\n' --resolve ${DEMO_SITE}:${basePort + 20}:127.0.1.2 http://${DEMO_SITE}:${basePort + 20}/bytes/1048576`,
        `  dig @127.0.0.1 -p ${layout.dns.port} ${DEMO_SITE} A +subnet=10.2.0.0/16`,
        `  curl -s -H 'Authorization: Bearer ${token}' ${managerUrl}/v1/front-ends`,
        `  dashboard: ${managerUrl}/#token=${token}`,
        'Ctrl-C stops everything.',
      ],
      close: stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
