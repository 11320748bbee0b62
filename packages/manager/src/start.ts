import { readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  changedPaths, createLogger, createRegistry, formatHostPort, monotonicNow, parseHostPort, startAdminServer, validate,
  type AdminRoute, type AdminServer, type Clock, type Logger, type ReloadOutcome,
} from '@overlay/common';
import { managerConfigSchema, type ManagerConfig, type ManagerConfigInput } from './config.js';
import { DASHBOARD_HTML } from './dashboard-page.js';
import { FeedServer } from './feed-server.js';
import { FileStore } from './file-store.js';
import { createApiRoute } from './http-api.js';
import { createAuthenticator, type Authenticator, type TokenSets } from './credentials.js';
import { bearerToken } from './http-io.js';
import { ManagerCore } from './manager.js';
import { createManagerMetrics } from './metrics.js';
import type { Store } from './store.js';

export interface StartManagerOptions {
  log?: Logger;
  /** Another store than the embedded file store (docs/manager.md "Store"). */
  store?: Store;
  /** Monotonic ms for report timeouts and the capacity reaction. */
  clock?: Clock;
  /** Builds further routes for both listeners (POST /reload), given the check that a request may write. */
  adminRoutes?: (mayWrite: (req: IncomingMessage) => boolean) => AdminRoute[];
}

/** What a reload applies live: the tokens. Every other field keeps its value until a restart. */
const RELOADED_FIELDS = ['token', 'readTokens', 'gatewayTokens'] as const;
const RESTART_FIELDS = ['id', 'role', 'listen', 'admin', 'tls', 'dataDir', 'reportTimeoutMs', 'maxBodyBytes', 'feed', 'capacity', 'store'] as const;

export interface RunningManager {
  /** API base URL, `http(s)://host:port`: the API, the feed, the dashboard and /healthz (and /metrics without `admin`). */
  url: string;
  address: AddressInfo;
  /** The separate /metrics and /healthz listener, when `admin` is configured. */
  adminAddress?: AddressInfo;
  /** Applies a reloaded config: new tokens take effect for the next request and feed connection. */
  reload(config: ManagerConfig): ReloadOutcome;
  close(): Promise<void>;
}

function serveDashboard(req: IncomingMessage, res: ServerResponse): boolean {
  const path = (req.url ?? '/').split('?')[0];
  if (req.method !== 'GET' || (path !== '/' && path !== '/dashboard')) return false;
  res.writeHead(200, {
    'content-type': 'text/html; charset=utf-8',
    'cache-control': 'no-store',
    'content-security-policy': "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'",
    'x-content-type-options': 'nosniff',
  });
  res.end(DASHBOARD_HTML);
  return true;
}

function tokenSets(config: ManagerConfig): TokenSets {
  return { admin: config.token, read: config.readTokens, gateways: config.gatewayTokens };
}

/** Starts a manager: loads the store, then serves API, feed and dashboard on `listen`. */
export async function startManager(input: ManagerConfigInput, options: StartManagerOptions = {}): Promise<RunningManager> {
  const config = validate(managerConfigSchema, input);
  const log = options.log ?? createLogger('manager');
  const registry = createRegistry('manager', config.id);
  const metrics = createManagerMetrics(registry);
  const store = options.store ?? (config.store.etcd ? new (await import('./etcd-store.js')).EtcdStore(config.store.etcd, config.id, log) : new FileStore(config.dataDir, log));
  const core = await ManagerCore.open({ config, store, log, metrics, clock: options.clock ?? monotonicNow });
  let authenticateNow = createAuthenticator(tokenSets(config));
  const authenticate: Authenticator = (presented) => authenticateNow(presented);
  const scopeOf = (req: IncomingMessage) => authenticate(bearerToken(req))?.scope;
  const routes = options.adminRoutes?.((req) => scopeOf(req) === 'admin') ?? [];
  const api = createApiRoute({ core, authenticate, maxBodyBytes: config.maxBodyBytes, metrics, log });
  const feed = new FeedServer({ core, authenticate, settings: config.feed, metrics, log });
  const health = () => ({ ok: true, role: core.role, version: core.currentVersion, subscribers: feed.subscriberCount, ...core.leadership });

  let main: AdminServer | undefined;
  let admin: AdminServer | undefined;
  try {
    // With an admin address, /metrics lives there only; without one, the API port serves it to API readers.
    const metricsOnApi = config.admin ? false : (req: IncomingMessage) => scopeOf(req) === 'admin' || scopeOf(req) === 'read';
    const tls = config.tls && { cert: await readFile(config.tls.cert), key: await readFile(config.tls.key) };
    main = await startAdminServer({ ...parseHostPort(config.listen), registry, health, routes: [...routes, api, serveDashboard], metrics: metricsOnApi, ...(tls ? { tls } : {}) });
    main.server.on('upgrade', (req, socket, head) => feed.handleUpgrade(req, socket, head));
    if (config.admin) admin = await startAdminServer({ ...parseHostPort(config.admin), registry, health, routes });
  } catch (err) {
    feed.close();
    await main?.close();
    await core.close();
    throw err;
  }
  const address = main.address;
  const url = `${config.tls ? 'https' : 'http'}://${formatHostPort(address.address, address.port)}`;
  log.info({ url, ...(admin ? { admin: formatHostPort(admin.address.address, admin.address.port) } : {}), role: config.role, store: config.store.etcd ? 'etcd' : config.dataDir, version: core.currentVersion }, 'manager listening');

  let closing: Promise<void> | undefined;
  return {
    url,
    address,
    ...(admin ? { adminAddress: admin.address } : {}),
    reload: (next) => {
      authenticateNow = createAuthenticator(tokenSets(next));
      return { applied: [...RELOADED_FIELDS], restartNeeded: changedPaths(config, next, RESTART_FIELDS) };
    },
    close: () =>
      (closing ??= (async () => {
        feed.close();
        await Promise.all([(main as AdminServer).close(), admin?.close()]);
        await core.close();
      })()),
  };
}
