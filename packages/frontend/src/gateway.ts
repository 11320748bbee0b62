import type { AddressInfo } from 'node:net';
import { AdmissionGate, defaultAdmissionGateOptions, type AdmissionGateOptions } from '@overlay/admission';
import { HttpCache } from '@overlay/cache';
import { parseHostPort, startAdminServer, validate, type AdminRoute, type AdminServer, type Logger, type Registry } from '@overlay/common';
import { BackEndPool } from './backends.js';
import { frontEndStateSchema, type FrontEndConfig, type FrontEndState, type FrontEndStateInput } from './config.js';
import type { GatewayContext } from './context.js';
import { createRequestHandler } from './http-handler.js';
import { startHttpListener } from './http-listener.js';
import { FrontEndMetrics } from './metrics.js';
import { SiteTable } from './sites.js';
import { TcpSites } from './tcp-sites.js';
import { createUpgradeHandler } from './upgrade-handler.js';

export interface GatewayOptions {
  log: Logger;
  registry: Registry;
  /** Serve /metrics and /healthz on config.admin (false in cluster workers: the primary does). */
  admin: boolean;
  /** Further admin routes (POST /reload). */
  adminRoutes?: AdminRoute[];
}

/** One process's front-end: listeners, tunnels, cache, admission; what a worker runs and a single process too. */
/** One tunnel as this front-end measures it. */
export interface TunnelStatus {
  peer: string;
  connected: boolean;
  rttMs: number;
  jitterMs: number;
  /** Bytes per second both ways over the tunnel's last QoS interval, as the back-end reported it. */
  throughputBps: number;
  inFlight: number;
}

export interface FrontEndStatus {
  /** Admitted work against the admission threshold, 0..1. */
  load: number;
  healthy: boolean;
  tunnels: TunnelStatus[];
  /** Bytes sent per priority ring over every tunnel. */
  ringBytes: number[];
}

export interface Gateway {
  id: string;
  http: AddressInfo;
  admin: AddressInfo | undefined;
  tcp(): Record<string, AddressInfo>;
  /** Load, health, tunnel QoS and ring bytes right now (what a manager is told every report). */
  status(): FrontEndStatus;
  /** Applies a new state (sites, rules, back-ends, ring weights) without dropping requests in flight. */
  update(state: FrontEndStateInput): Promise<void>;
  /** New timeouts and limits of the HTTP listener, for connections and requests from now on. */
  retune(http: FrontEndConfig['http']): void;
  close(): Promise<void>;
}

function definedOnly<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, item]) => item !== undefined)) as Partial<T>;
}

export async function startGateway(config: FrontEndConfig, options: GatewayOptions): Promise<Gateway> {
  const log = options.log;
  const pool = new BackEndPool({ frontEndId: config.id, log });
  let sites = new SiteTable({ sites: {} }, (id) => pool.get(id));
  const gate = new AdmissionGate(definedOnly(config.admission) as Partial<AdmissionGateOptions>);
  const cache = config.cache.enabled
    ? new HttpCache({ maxBytes: config.cache.maxBytes, maxObjectBytes: config.cache.maxObjectBytes, maxVariantsPerKey: config.cache.maxVariantsPerKey })
    : undefined;
  const metrics = new FrontEndMetrics(options.registry, { routes: () => pool.all(), gate, cache });
  let httpSettings = config.http;
  const context: GatewayContext = { id: config.id, sites: () => sites, gate, cache, metrics, log, replyTimeoutMs: config.http.replyTimeoutMs };
  const tcp = new TcpSites(context, config.http.maxConnections);

  // One update at a time: listeners for TCP sites bind asynchronously.
  let applying: Promise<void> = Promise.resolve();
  const apply = (state: FrontEndState): Promise<void> => {
    const next = applying.then(async () => {
      pool.apply(state.backEnds, state.rings?.weights);
      sites = new SiteTable(state, (id) => pool.get(id));
      await tcp.apply(sites.tcpSites());
      log.info({ sites: sites.byName.size, backEnds: Object.keys(state.backEnds).length }, 'front-end state applied');
    });
    applying = next.catch(() => {});
    return next;
  };

  let admin: AdminServer | undefined;
  let http;
  try {
    await apply(config.state);
    http = await startHttpListener(config.http.listen, config.http, {
      request: createRequestHandler(context),
      upgrade: createUpgradeHandler(context),
      refused: (reason) => metrics.clientRefusals.inc({ reason }),
    });
    if (options.admin) {
      const { host, port } = parseHostPort(config.admin);
      admin = await startAdminServer({ host, port, registry: options.registry, health: () => healthOf(config, pool), routes: options.adminRoutes });
    }
  } catch (err) {
    await Promise.allSettled([http?.close(0), tcp.close(0), pool.close()]);
    throw err;
  }
  log.info({ http: http.address, admin: admin?.address }, 'front-end listening');
  const listener = http;

  return {
    id: config.id,
    http: listener.address,
    admin: admin?.address,
    tcp: () => tcp.addresses(),
    status: () => statusOf(config, pool, gate),
    update: async (state) => apply(validate(frontEndStateSchema, state)),
    retune: (next) => {
      httpSettings = next;
      listener.retune(next);
      context.replyTimeoutMs = next.replyTimeoutMs;
    },
    close: async () => {
      const grace = httpSettings.closeGraceMs;
      await Promise.all([listener.close(grace), tcp.close(grace)]);
      await Promise.all([pool.close(), admin?.close()]);
      log.info('front-end closed');
    },
  };
}

function statusOf(config: FrontEndConfig, pool: BackEndPool, gate: AdmissionGate): FrontEndStatus {
  const routes = pool.all().filter((route) => !route.draining);
  const ringBytes = [0, 0, 0, 0, 0];
  const tunnels = routes.map((route) => {
    route.ringBytes().forEach((bytes, ring) => (ringBytes[ring] = (ringBytes[ring] ?? 0) + bytes));
    const qos = route.client.qos();
    return {
      peer: route.id,
      connected: route.connected,
      rttMs: Math.max(0, qos.rttMs),
      jitterMs: Math.max(0, qos.jitterMs),
      throughputBps: qos.peer ? qos.peer.txBytesPerSec + qos.peer.rxBytesPerSec : 0,
      inFlight: route.inFlight,
    };
  });
  const threshold = config.admission.threshold ?? defaultAdmissionGateOptions.threshold;
  return { load: Math.min(1, gate.queued / threshold), healthy: healthOf(config, pool).ok, tunnels, ringBytes };
}

function healthOf(config: FrontEndConfig, pool: BackEndPool): { ok: boolean; [key: string]: unknown } {
  const routes = pool.all().filter((route) => !route.draining);
  const backEnds = Object.fromEntries(routes.map((route) => [route.id, { connected: route.connected, inFlight: route.inFlight }]));
  // A front-end whose every tunnel is down cannot serve anything: say so, so it is not sent clients.
  const ok = routes.length === 0 || routes.some((route) => route.connected);
  return { ok, id: config.id, pop: config.pop, backEnds };
}
