import type { AddressInfo } from 'node:net';
import { AdmissionGate, defaultAdmissionGateOptions, type AdmissionGateOptions } from '@overlay/admission';
import { HttpCache } from '@overlay/cache';
import { createAccessLog, parseHostPort, startAdminServer, validate, type AdminRoute, type AdminServer, type Logger, type Registry } from '@overlay/common';
import { BackEndPool } from './backends.js';
import { frontEndStateSchema, type FrontEndConfig, type FrontEndState, type FrontEndStateInput } from './config.js';
import type { GatewayContext } from './context.js';
import { createRequestHandler } from './http-handler.js';
import { EdgeMetrics } from './edge-metrics.js';
import type { GuardReason } from './client-guard.js';
import { createHttp2Sessions } from './http2-server.js';
import { startHttpListener, type HttpListener } from './http-listener.js';
import { CertificateStore, newTicketKeys, readCertificates, type SiteCertificate } from './tls.js';
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
  /** TLS session-ticket keys (48 bytes); the workers of one front-end share the primary's so any resumes. */
  ticketKeys?: Buffer;
}

/** One process's front-end: listeners, tunnels, cache, admission; what a worker runs and a single process too. */
/** One tunnel as this front-end measures it. */
export interface TunnelStatus {
  peer: string;
  connected: boolean;
  rttMs: number;
  jitterMs: number;
  /** Estimated fraction of packets lost on the tunnel's path; absent while unknown. */
  lossRate?: number;
  /** Bytes per second both ways over the tunnel's last QoS interval, as the back-end reported it. */
  throughputBps: number;
  inFlight: number;
  /** Why a tunnel that is not connected cannot come up (its last failure). */
  error?: string;
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
  /** The HTTPS listener, when `https` is configured. */
  https: AddressInfo | undefined;
  admin: AddressInfo | undefined;
  tcp(): Record<string, AddressInfo>;
  /** Load, health, tunnel QoS and ring bytes right now (what a manager is told every report). */
  status(): FrontEndStatus;
  /** Applies a new state (sites, rules, back-ends, ring weights) without dropping requests in flight. */
  update(state: FrontEndStateInput): Promise<void>;
  /** New timeouts and limits of the HTTP listener, for connections and requests from now on. */
  retune(http: FrontEndConfig['http']): void;
  /** Reads the configured certificate files again and serves them from the next handshake on (a reload). */
  reloadCertificates(https: FrontEndConfig['https']): Promise<void>;
  close(): Promise<void>;
}

function definedOnly<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, item]) => item !== undefined)) as Partial<T>;
}

export async function startGateway(config: FrontEndConfig, options: GatewayOptions): Promise<Gateway> {
  const log = options.log;
  const pool = new BackEndPool({ frontEndId: config.id, log });
  let sites = new SiteTable({ sites: {} }, (id) => pool.get(id));
  const { tcpRefusal, ...gateOptions } = config.admission;
  const gate = new AdmissionGate(definedOnly(gateOptions) as Partial<AdmissionGateOptions>);
  const cache = config.cache.enabled
    ? new HttpCache({ maxBytes: config.cache.maxBytes, maxObjectBytes: config.cache.maxObjectBytes, maxVariantsPerKey: config.cache.maxVariantsPerKey })
    : undefined;
  const metrics = new FrontEndMetrics(options.registry, { routes: () => pool.all(), gate, cache });
  let httpSettings = config.http;
  const accessLog = createAccessLog('front-end', log, config.accessLog);
  const context: GatewayContext = { id: config.id, sites: () => sites, gate, cache, metrics, log, accessLog: accessLog.write, replyTimeoutMs: config.http.replyTimeoutMs };
  const tcp = new TcpSites(context, config.http.maxConnections, tcpRefusal);
  const certificates = config.https
    ? new CertificateStore(options.ticketKeys ?? newTicketKeys(), { minVersion: config.https.minVersion, sessionTimeoutS: config.https.sessionTimeoutS }, log)
    : undefined;
  const reloadCertificates = async (https: FrontEndConfig['https']) => {
    if (certificates && https) certificates.setConfigured(await readCertificates(https.certificates, 'https.certificates'), 'https.certificates');
  };
  const edgeMetrics = new EdgeMetrics(options.registry, certificates);

  // One update at a time: listeners for TCP sites bind asynchronously.
  let applying: Promise<void> = Promise.resolve();
  const apply = (state: FrontEndState): Promise<void> => {
    const next = applying.then(async () => {
      const siteCertificates = certificates ? await siteCertificatesOf(state, log) : [];
      pool.apply(state.backEnds, state.rings);
      sites = new SiteTable(state, (id) => pool.get(id));
      certificates?.setSites(siteCertificates);
      await tcp.apply(sites.tcpSites());
      log.info({ sites: sites.byName.size, backEnds: Object.keys(state.backEnds).length }, 'front-end state applied');
    });
    applying = next.catch(() => {});
    return next;
  };

  let admin: AdminServer | undefined;
  let http: HttpListener | undefined;
  let https: HttpListener | undefined;
  const handlers = {
    request: createRequestHandler(context),
    upgrade: createUpgradeHandler(context),
    refused: (reason: GuardReason) => metrics.clientRefusals.inc({ reason }),
  };
  const http2 = createHttp2Sessions(config.http, handlers.request);
  const events = { log, metrics: edgeMetrics, http2 };
  try {
    await reloadCertificates(config.https);
    await apply(config.state);
    http = await startHttpListener({ listen: config.http.listen, proxyProtocol: config.http.proxyProtocol }, config.http, handlers, events);
    if (config.https) https = await startHttpListener({ listen: config.https.listen, proxyProtocol: config.https.proxyProtocol, certificates }, config.http, handlers, events);
    if (options.admin) {
      const { host, port } = parseHostPort(config.admin);
      admin = await startAdminServer({ host, port, registry: options.registry, health: () => healthOf(config, pool), routes: options.adminRoutes });
    }
  } catch (err) {
    await Promise.allSettled([http?.close(0), https?.close(0), http2.close(0), tcp.close(0), pool.close()]);
    throw err;
  }
  log.info({ http: http.address, https: https?.address, admin: admin?.address }, 'front-end listening');
  const listeners = https ? [http, https] : [http];

  return {
    id: config.id,
    http: http.address,
    https: https?.address,
    admin: admin?.address,
    tcp: () => tcp.addresses(),
    status: () => statusOf(config, pool, gate),
    update: async (state) => apply(validate(frontEndStateSchema, state)),
    retune: (next) => {
      httpSettings = next;
      for (const listener of listeners) listener.retune(next);
      http2.retune(next);
      context.replyTimeoutMs = next.replyTimeoutMs;
    },
    reloadCertificates,
    close: async () => {
      const grace = httpSettings.closeGraceMs;
      await Promise.all([...listeners.map((listener) => listener.close(grace)), http2.close(grace), tcp.close(grace)]);
      await Promise.all([pool.close(), admin?.close()]);
      accessLog.close();
      log.info('front-end closed');
    },
  };
}

/** The sites' own certificates (PEM from a manager, or files in a config's state); an unreadable one is left out. */
async function siteCertificatesOf(state: FrontEndState, log: Logger): Promise<SiteCertificate[]> {
  const found: SiteCertificate[] = [];
  for (const [name, site] of Object.entries(state.sites)) {
    if (!site.certificate) continue;
    try {
      const [pem] = await readCertificates([site.certificate], `state.sites.${name}.certificate`);
      found.push({ ...pem, site: name, domains: site.domains });
    } catch (err) {
      log.error({ site: name, reason: (err as Error).message }, 'site certificate unreadable; its domains use the configured certificates');
    }
  }
  return found;
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
      ...(qos.lossRate >= 0 ? { lossRate: qos.lossRate } : {}),
      throughputBps: qos.peer ? qos.peer.txBytesPerSec + qos.peer.rxBytesPerSec : 0,
      inFlight: route.inFlight,
      ...(!route.connected && route.client.lastError ? { error: route.client.lastError } : {}),
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
