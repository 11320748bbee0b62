import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatHostPort, OverlayError, pollUntil, type StartedProcess } from '@overlay/common';
import { ADVISED_NOTSENT_LOWAT } from '@overlay/tunnel';
import {
  backEndConfig, DEMO_BACK_END_ID, DEMO_PRIORITIES, DEMO_SITE, demoSiteBody, frontEndConfig, managerConfig, redirectorConfig, type ManagerLink,
} from './demo-site.js';
import type { Lab } from './lab.js';
import { requestFrom } from './ns-http.js';

const ORIGIN_MAIN = fileURLToPath(new URL('./origin-main.js', import.meta.url));
const DEFAULT_CLI = fileURLToPath(new URL('../../cli/dist/main.js', import.meta.url));

/**
 * Where the roles run and listen. Every host has its own namespace, hence its own ports: sites on 80 and
 * DNS on 53 as in production. The managers sit with the back-end on the far side, so the front-ends'
 * config feed crosses the long leg as it would from a central control plane.
 */
export const LAB_SYSTEM_LAYOUT = Object.freeze({
  origins: [{ id: 'origin-1', host: 'origin-1' }, { id: 'origin-2', host: 'origin-2' }],
  manager: { host: 'back-end', port: 7000 },
  backEnd: { id: DEMO_BACK_END_ID, host: 'back-end', tunnelPort: 7010, adminPort: 9090 },
  frontEnds: [{ id: 'pop-a', host: 'pop-a' }, { id: 'pop-b', host: 'pop-b' }],
  redirector: { host: 'pop-a', port: 53, adminPort: 9091 },
  ports: { http: 80, origin: 80, frontEndAdmin: 9090 },
});

export interface LabSystemOptions {
  /** The built `overlay` command. Default: packages/cli/dist/main.js beside this package. */
  cli?: string;
  /** Receives every stderr line (structured logs) of every role. Default: dropped. */
  onStderr?: (line: string) => void;
  /** How long the site may take to answer through every front-end, ms. Default 30 000. */
  readyTimeoutMs?: number;
}

export interface LabSystem {
  /** Manager API base URL (reachable from inside the lab only), and its bearer token. */
  manager: string;
  token: string;
  site: string;
  origins: Array<{ id: string; host: string; url: string }>;
  backEnds: Array<{ id: string; host: string; tunnel: string; admin: string }>;
  frontEnds: Array<{ id: string; host: string; http: string; admin: string }>;
  /** The redirector, UDP and TCP, `address:port`. */
  dns: string;
  /** Stops every role (the lab stays up). */
  close(): Promise<void>;
}

async function managerCall(lab: Lab, link: ManagerLink, method: string, path: string, body: unknown): Promise<void> {
  const response = await requestFrom(lab, LAB_SYSTEM_LAYOUT.manager.host, {
    method,
    url: `${link.url}/v1${path}`,
    headers: { authorization: `Bearer ${link.token}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  if (response.status >= 300) throw new OverlayError('ERR_LAB_SYSTEM', `manager ${method} ${path}: ${response.status} ${response.body}`);
}

/** Polls until `check` passes: the system is ready only once a request really flows end to end. */
async function until(what: string, check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  if (!(await pollUntil(check, { timeoutMs }))) throw new OverlayError('ERR_LAB_SYSTEM', `${what} not ready within ${timeoutMs} ms`);
}

/**
 * Starts the demo system inside a lab's namespaces: two demo origins (far side), the managers and the
 * back-end (far side), a front-end in each POP and the DNS redirector (near side), configured through
 * the manager API exactly like `overlay demo`. Resolves once the demo site answers through every
 * front-end, over the long leg. Needs the lab's default hosts (client is optional).
 */
export async function startLabSystem(lab: Lab, options: LabSystemOptions = {}): Promise<LabSystem> {
  const layout = LAB_SYSTEM_LAYOUT;
  const cli = options.cli ?? DEFAULT_CLI;
  const readyTimeoutMs = options.readyTimeoutMs ?? 30_000;
  const address = (host: string) => lab.host(host).address;
  const dir = await mkdtemp(join(lab.dir, 'system-'));
  const token = randomBytes(18).toString('base64url');
  const tunnelKey = randomBytes(24).toString('base64url');
  const roles: StartedProcess[] = [];
  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= (async () => {
      for (const role of [...roles].reverse()) await role.stop().catch(() => {});
      await rm(dir, { recursive: true, force: true });
    })();
    return closing;
  };
  const startOn = async (host: string, args: string[]) => {
    const role = await lab.start(host, process.execPath, args, { onStderr: options.onStderr });
    roles.push(role);
    return role;
  };
  const startRole = async (host: string, role: string, config: unknown) => {
    const file = join(dir, `${role}-${host}.json`);
    await writeFile(file, JSON.stringify(config, null, 2));
    return startOn(host, [cli, role, '--config', file]);
  };

  try {
    // Gateway hosts set up as docs/operations.md asks, so priorities hold across the long leg.
    const gatewayHosts = [layout.backEnd.host, ...layout.frontEnds.map((frontEnd) => frontEnd.host)];
    await Promise.all(gatewayHosts.map((host) => lab.exec(host, 'sysctl', ['-q', '-w', `net.ipv4.tcp_notsent_lowat=${ADVISED_NOTSENT_LOWAT}`])));
    const origins = await Promise.all(
      layout.origins.map(async ({ id, host }) => {
        const started = await startOn(host, [ORIGIN_MAIN, id, address(host), String(layout.ports.origin)]);
        return { id, host, url: String(started.ready.url) };
      }),
    );
    const manager = await startRole(
      layout.manager.host,
      'manager',
      managerConfig(formatHostPort(address(layout.manager.host), layout.manager.port), token, join(dir, 'manager-data')),
    );
    const link: ManagerLink = { url: String(manager.ready.url), token };
    const frontEndIds = layout.frontEnds.map((frontEnd) => frontEnd.id);
    await managerCall(lab, link, 'PUT', `/sites/${DEMO_SITE}`, demoSiteBody(origins.map((origin) => origin.url), frontEndIds, [layout.backEnd.id]));
    await managerCall(lab, link, 'PUT', `/sites/${DEMO_SITE}/priorities`, DEMO_PRIORITIES);

    const backEndAddress = address(layout.backEnd.host);
    const backEnd = await startRole(
      layout.backEnd.host,
      'back-end',
      backEndConfig(layout.backEnd.id, formatHostPort(backEndAddress, layout.backEnd.tunnelPort), formatHostPort(backEndAddress, layout.backEnd.adminPort), link, tunnelKey),
    );
    const frontEnds = await Promise.all(
      layout.frontEnds.map(async ({ id, host }) => {
        const http = formatHostPort(address(host), layout.ports.http);
        const admin = formatHostPort(address(host), layout.ports.frontEndAdmin);
        const started = await startRole(host, 'front-end', frontEndConfig(id, http, admin, link, tunnelKey));
        return { id, host, http: String(started.ready.http), admin: String(started.ready.admin) };
      }),
    );
    const dnsHost = address(layout.redirector.host);
    const redirector = await startRole(
      layout.redirector.host,
      'redirector',
      redirectorConfig(
        { host: dnsHost, port: layout.redirector.port },
        { host: dnsHost, port: layout.redirector.adminPort },
        dnsHost,
        { [lab.subnets.near]: frontEndIds, '0.0.0.0/0': frontEndIds },
        link,
      ),
    );

    await Promise.all(
      frontEnds.map((frontEnd) =>
        until(`${DEMO_SITE} through ${frontEnd.id}`, async () => {
          const response = await requestFrom(lab, frontEnd.host, { url: `http://${frontEnd.http}/`, headers: { host: DEMO_SITE } });
          return response.status === 200 && response.headers['x-overlay-backend'] === layout.backEnd.id;
        }, readyTimeoutMs),
      ),
    );
    return {
      manager: link.url,
      token,
      site: DEMO_SITE,
      origins,
      backEnds: [{ id: layout.backEnd.id, host: layout.backEnd.host, tunnel: String(backEnd.ready.tunnel), admin: String(backEnd.ready.admin) }],
      frontEnds,
      dns: String(redirector.ready.dns),
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}
