import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatHostPort, OverlayError, pollUntil, type StartedProcess } from '@overlay/common';
import { ADVISED_NOTSENT_LOWAT } from '@overlay/tunnel';
import {
  backEndConfig, DEMO_PRIORITIES, DEMO_SITE, demoSiteBody, frontEndConfig, managerConfig, redirectorConfig, type ManagerLink,
} from './demo-site.js';
import type { Lab } from './lab.js';
import { requestFrom } from './ns-http.js';
import { planLabTopology, type LabLayout } from './topology.js';

const ORIGIN_MAIN = fileURLToPath(new URL('./origin-main.js', import.meta.url));
const DEFAULT_CLI = fileURLToPath(new URL('../../cli/dist/main.js', import.meta.url));

/**
 * Where the roles run and listen by default (`planLabTopology` for more POPs, back-ends, managers). Every
 * host has its own namespace, hence its own ports: sites on 80 and DNS on 53 as in production. The managers
 * sit on the far side, so the front-ends' config feed crosses the long leg as from a central control plane.
 */
export const LAB_SYSTEM_LAYOUT: LabLayout = Object.freeze(planLabTopology().layout);

export interface LabSystemOptions {
  /** The built `overlay` command. Default: packages/cli/dist/main.js beside this package. */
  cli?: string;
  /** Receives every stderr line (structured logs) of every role. Default: dropped. */
  onStderr?: (line: string) => void;
  /** How long the site may take to answer through every front-end, ms. Default 30 000. */
  readyTimeoutMs?: number;
  /** Which roles run where; the lab must have its hosts (`planLabTopology`). Default LAB_SYSTEM_LAYOUT. */
  layout?: LabLayout;
}

export interface LabSystem {
  /** Manager API base URL (reachable from inside the lab only), and its bearer token. */
  manager: string;
  /** Every manager replica's URL (one without etcd). */
  managers: string[];
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

async function managerCall(lab: Lab, host: string, url: string, link: ManagerLink, method: string, path: string, body: unknown): Promise<void> {
  const response = await requestFrom(lab, host, {
    method,
    url: `${url}/v1${path}`,
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
  const layout = options.layout ?? LAB_SYSTEM_LAYOUT;
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
    const gatewayHosts = [...layout.backEnds.map((backEnd) => backEnd.host), ...layout.frontEnds.map((frontEnd) => frontEnd.host)];
    await Promise.all(gatewayHosts.map((host) => lab.exec(host, 'sysctl', ['-q', '-w', `net.ipv4.tcp_notsent_lowat=${ADVISED_NOTSENT_LOWAT}`])));
    const origins = await Promise.all(
      layout.origins.map(async ({ id, host }) => {
        const started = await startOn(host, [ORIGIN_MAIN, id, address(host), String(layout.ports.origin)]);
        return { id, host, url: String(started.ready.url) };
      }),
    );
    const etcdEndpoints = await startEtcd(lab, layout, dir, readyTimeoutMs);
    const managerUrls: string[] = [];
    for (const { host, port } of layout.managers) {
      const manager = await startRole(host, 'manager', managerConfig(formatHostPort(address(host), port), token, join(dir, `manager-data-${host}`), etcdEndpoints));
      managerUrls.push(String(manager.ready.url));
    }
    const link: ManagerLink = { url: managerUrls.length === 1 ? (managerUrls[0] as string) : managerUrls, token };
    const call = (method: string, path: string, body: unknown) => managerCall(lab, layout.managers[0]!.host, managerUrls[0]!, link, method, path, body);
    const frontEndIds = layout.frontEnds.map((frontEnd) => frontEnd.id);
    await call('PUT', `/sites/${DEMO_SITE}`, demoSiteBody(origins.map((origin) => origin.url), frontEndIds, layout.backEnds.map((backEnd) => backEnd.id)));
    await call('PUT', `/sites/${DEMO_SITE}/priorities`, DEMO_PRIORITIES);

    const backEnds = await Promise.all(
      layout.backEnds.map(async ({ id, host, tunnelPort, adminPort }) => {
        const started = await startRole(host, 'back-end', backEndConfig(id, formatHostPort(address(host), tunnelPort), formatHostPort(address(host), adminPort), link, tunnelKey));
        return { id, host, tunnel: String(started.ready.tunnel), admin: String(started.ready.admin) };
      }),
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
          return response.status === 200 && layout.backEnds.some((backEnd) => response.headers['x-overlay-backend'] === backEnd.id);
        }, readyTimeoutMs),
      ),
    );
    return {
      manager: managerUrls[0] as string,
      managers: managerUrls,
      token,
      site: DEMO_SITE,
      origins,
      backEnds,
      frontEnds,
      dns: String(redirector.ready.dns),
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}

/** The etcd members of a replicated control plane, one beside each manager; their client URLs. */
async function startEtcd(lab: Lab, layout: LabLayout, dir: string, readyTimeoutMs: number): Promise<string[]> {
  if (layout.etcd.length === 0) return [];
  const peer = (member: LabLayout['etcd'][number]) => `http://${formatHostPort(lab.host(member.host).address, member.peerPort)}`;
  const client = (member: LabLayout['etcd'][number]) => `http://${formatHostPort(lab.host(member.host).address, member.clientPort)}`;
  const cluster = layout.etcd.map((member) => `${member.name}=${peer(member)}`).join(',');
  for (const member of layout.etcd) {
    lab.spawn(member.host, 'etcd', [
      '--name', member.name, '--data-dir', join(dir, member.name),
      '--listen-client-urls', client(member), '--advertise-client-urls', client(member),
      '--listen-peer-urls', peer(member), '--initial-advertise-peer-urls', peer(member),
      '--initial-cluster', cluster, '--initial-cluster-state', 'new', '--initial-cluster-token', `overlay-lab-${lab.id}`, '--log-level', 'warn',
    ], { stdio: 'ignore' });
  }
  const endpoints = layout.etcd.map(client);
  await Promise.all(layout.etcd.map((member) =>
    until(`etcd member ${member.name}`, async () => {
      const response = await requestFrom(lab, member.host, { url: `${client(member)}/health` });
      return response.status === 200 && response.body.includes('"true"');
    }, readyTimeoutMs),
  ));
  return endpoints;
}
