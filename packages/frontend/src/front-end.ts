import cluster from 'node:cluster';
import type { AddressInfo } from 'node:net';
import { changedPaths, createLogger, createRegistry, type AdminRoute, type Logger, type Registry, type ReloadOutcome } from '@overlay/common';
import { notSentLowatAdvice } from '@overlay/tunnel';
import { startClusterPrimary } from './cluster-primary.js';
import type { FrontEndConfig, FrontEndStateInput } from './config.js';
import { startGateway, type FrontEndStatus } from './gateway.js';

export interface StartFrontEndOptions {
  /** Structured logger; a JSON logger on stderr when omitted. */
  log?: Logger;
  /** Registry for /metrics (single process only; cluster workers each make their own). */
  registry?: Registry;
  /** Further routes on the admin address (POST /reload). */
  adminRoutes?: AdminRoute[];
}

/** Fields a running front-end cannot change: a reload keeps the old value and says a restart applies it. */
const RESTART_FIELDS = [
  'id', 'pop', 'admin', 'adminToken', 'workers', 'cache', 'admission', 'http.listen', 'http.maxHeaderBytes', 'http.proxyProtocol',
  'http.maxConcurrentStreams', 'http.maxHeadConnections', 'http.maxHeadConnectionsPerSource', 'https.listen', 'https.proxyProtocol', 'https.minVersion',
  'https.sessionTimeoutS', 'manager', 'advertise', 'accessLog',
] as const;
/** HTTP tunables a single process retunes live; with workers the primary has no listener to retune. */
const RETUNED_FIELDS = ['http.headersTimeoutMs', 'http.requestTimeoutMs', 'http.keepAliveTimeoutMs', 'http.maxConnections', 'http.replyTimeoutMs', 'http.closeGraceMs'] as const;

export interface FrontEnd {
  id: string;
  /** The shared HTTP listener. */
  http: AddressInfo;
  /** The HTTPS listener (TLS with SNI, ALPN h2 and http/1.1), when `https` is configured. */
  https: AddressInfo | undefined;
  /** /metrics and /healthz. */
  admin: AddressInfo;
  /** TCP-mode site listeners by site name, as of the last update. */
  readonly tcp: Record<string, AddressInfo>;
  /**
   * Load, health, tunnel QoS and ring bytes (what the manager is told). With workers > 1 the primary runs
   * no tunnels: it reports its workers' health only, with no tunnel detail.
   */
  status(): FrontEndStatus;
  /** Applies a new live state (sites, priority rules, back-ends, ring weights); in-flight work carries on. */
  update(state: FrontEndStateInput): Promise<void>;
  /**
   * Reads `https.certificates` (PEM or files) again and serves them from the next handshake on; connections
   * already open keep theirs. Rejects with a ConfigError (the old certificates stay) when one is bad.
   */
  reloadCertificates(https: FrontEndConfig['https']): Promise<void>;
  /**
   * Applies a reloaded config: HTTP timeouts and limits, and (without a manager, which owns it then) the
   * state with its sites, back-ends and TCP listeners. Connections in flight carry on.
   */
  reload(config: FrontEndConfig): Promise<ReloadOutcome>;
  /** Stops accepting, lets requests in flight finish (http.closeGraceMs), drains the tunnels. */
  close(): Promise<void>;
}

/** A reload for a front-end that can `update` its state and, in one process, `retune` its listener. */
function reloader(started: FrontEndConfig, frontEnd: Pick<FrontEnd, 'update' | 'reloadCertificates'>, retune?: (http: FrontEndConfig['http']) => void) {
  const fixed = retune ? RESTART_FIELDS : [...RESTART_FIELDS, ...RETUNED_FIELDS];
  let current = started;
  return async (next: FrontEndConfig): Promise<ReloadOutcome> => {
    // What only a restart applies is compared with what runs: the config the process started with.
    const restartNeeded = changedPaths(started, next, fixed);
    // Certificate files are read again on every reload, changed path or not: renewal rewrites them in place.
    if (started.https && next.https) await frontEnd.reloadCertificates(next.https);
    const applied = retune ? changedPaths(current, next, RETUNED_FIELDS) : [];
    if (started.https && next.https) applied.push('https.certificates');
    if (retune && applied.length) retune(next.http);
    if (!next.manager && changedPaths(current, next, ['state']).length) {
      await frontEnd.update(next.state);
      applied.push('state');
    }
    current = next;
    return { applied, restartNeeded };
  };
}

export async function startFrontEnd(config: FrontEndConfig, options: StartFrontEndOptions = {}): Promise<FrontEnd> {
  const log = (options.log ?? createLogger('front-end')).child({ frontEnd: config.id });
  const advice = notSentLowatAdvice();
  if (advice) log.warn({ advice }, 'host TCP setting blunts priorities on slow links');
  if (config.workers > 1) {
    if (!cluster.isPrimary) throw new Error('startFrontEnd with workers > 1 must run in the cluster primary');
    const primary = await startClusterPrimary(config, log, options.adminRoutes);
    return { ...primary, get tcp() { return primary.tcp; }, reload: reloader(config, primary) };
  }
  const registry = options.registry ?? createRegistry('front-end', config.id);
  const gateway = await startGateway(config, { log, registry, admin: true, adminRoutes: options.adminRoutes });
  return {
    id: gateway.id,
    http: gateway.http,
    https: gateway.https,
    admin: gateway.admin as AddressInfo,
    get tcp() {
      return gateway.tcp();
    },
    status: () => gateway.status(),
    update: (state) => gateway.update(state),
    reloadCertificates: (https) => gateway.reloadCertificates(https),
    reload: reloader(config, gateway, (http) => gateway.retune(http)),
    close: () => gateway.close(),
  };
}
