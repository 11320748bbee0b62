import { readFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import type { HealthChange, HealthState } from '@overlay/balancer';
import {
  changedPaths, createAccessLog, createRegistry, parseHostPort, silentLogger, startAdminServer, type AdminRoute, type AdminServer, type Logger, type Registry, type ReloadOutcome,
} from '@overlay/common';
import { notSentLowatAdvice, TunnelServer, type TunnelSession, type TunnelStream } from '@overlay/tunnel';
import { parseBackEndConfig, parseBackEndState, type BackEndConfig, type BackEndConfigInput, type BackEndState, type BackEndStateInput, type SiteMode } from './config.js';
import type { Gateway } from './gateway.js';
import { HealthMonitor, type OriginCheck } from './health.js';
import { BackEndMetrics } from './metrics.js';
import { OriginRegistry } from './origins.js';
import { serveStream } from './serve-stream.js';
import { SiteRuntime } from './site.js';

/** Retired queues are dropped once empty, idle origin connections past the limit closed; checked this often, ms. */
const PRUNE_INTERVAL_MS = 1_000;

export interface BackEndOptions {
  /** Structured log lines (pino); silent by default. */
  log?: Logger;
  /** Where the metrics go; a fresh registry with process metrics by default. One back-end per registry. */
  registry?: Registry;
  /** Further routes on the admin address (POST /reload). */
  adminRoutes?: AdminRoute[];
}

/** Fields a running back-end cannot change: a reload keeps the old value and says a restart applies it. */
const RESTART_FIELDS = ['id', 'tunnel.listen', 'admin', 'adminToken', 'manager', 'advertise', 'accessLog'] as const;
/** The state's parts a manager does not push: with a manager, a reload takes only these from the file. */
const FILE_TUNABLES = ['limits', 'queue', 'health', 'pool'] as const;

export interface OriginStatus {
  id: string;
  url: string;
  state: HealthState;
  /** Why it is in that state (`initial`, `probe-failures`, `request-failures`, `no-response`, `probe-recovered`). */
  reason: string;
  inFlight: number;
  limit: number;
  /** Requests waiting for this origin in the queues (demand = inFlight + waiting, for budget splits). */
  waiting: number;
  /** This back-end's share of the origin's budget, when it has one. */
  share?: number;
  /** Adaptive limits only: unloaded latency as measured, ms. */
  baselineMs?: number;
  /** Its site's `healthCheck.freshness` header as the last healthy probe answered it, s (HTTP date as Unix time). */
  freshness?: number;
}

export interface BackEndStatus {
  id: string;
  draining: boolean;
  /** Reported to front-ends, 0..1. */
  load: number;
  sessions: Array<{ frontEnd: string; streams: number; rttMs: number | undefined }>;
  origins: OriginStatus[];
  sites: Array<{ name: string; mode: SiteMode; queued: number }>;
  /** Bytes sent to front-ends per priority ring since start. */
  ringBytes: number[];
}

export interface BackEnd {
  readonly id: string;
  /** Where front-ends connect. */
  readonly tunnel: AddressInfo;
  /** /metrics and /healthz. */
  readonly admin: AddressInfo;
  readonly registry: Registry;
  /**
   * Replaces the parts of the live state it names (`sites`, `limits`, `queue`, `health`, `pool`, `rings`;
   * the others stay) at once: requests in flight finish where they are, queued ones stay queued (except on
   * routes or sites that were removed). Throws ConfigError naming the field on an invalid state, leaving
   * the current one in force.
   */
  update(state: BackEndStateInput): void;
  /** Load, sessions, origins and queues right now (for a manager's registry of back-ends). */
  status(): BackEndStatus;
  /**
   * Calls `listener` (once per turn of the event loop at most) when a new share of an origin budget
   * holds: applied, and no more requests in service than it. Returns the unsubscribe.
   */
  onShareHeld(listener: () => void): () => void;
  /**
   * Applies a reloaded config: tunnel keys and TLS certificate (files read again) for new handshakes, the
   * drain timeout, and the state (with a manager, only the tunables it does not push). Sessions carry on.
   */
  reload(config: BackEndConfig): Promise<ReloadOutcome>;
  /** GOAWAY to front-ends, in-flight streams finish (up to drainTimeoutMs), then pools and listeners close. */
  close(): Promise<void>;
}

/** Starts a back-end gateway: tunnel listener, origin pools, health probes, admin listener. */
export async function startBackEnd(input: BackEndConfigInput, options: BackEndOptions = {}): Promise<BackEnd> {
  let config = parseBackEndConfig(input);
  const started = config;
  const log = options.log ?? silentLogger;
  const registry = options.registry ?? createRegistry('back-end', config.id);
  const tls = config.tunnel.tls && (await readTls(config.tunnel.tls));
  const sites = new Map<string, SiteRuntime>();
  let state: BackEndState = config.state;
  let draining = false;

  const load = (): number => Math.max(0, ...[...sites.values()].map((site) => site.pressure()));
  // The sources are read at scrape time, by then every part below exists.
  const metrics: BackEndMetrics = new BackEndMetrics(registry, {
    sessions: () => tunnel.sessions,
    handshakes: () => ({ ...tunnel.handshakes, failed: tunnel.handshakeFailures }),
    origins: () => origins.all(),
    isUp: (id) => health.isAvailable(id),
    queues: () => [...sites.values()].flatMap((site) => site.queueLengths().map((queue) => ({ site: site.name, ...queue }))),
    load,
  });
  const health = new HealthMonitor(state.health, (change: HealthChange) => {
    const fields = { origin: change.id, state: change.state, previous: change.previous, reason: change.reason, detail: change.detail };
    if (change.state === 'down') log.warn(fields, 'origin down');
    else log.info(fields, 'origin up');
    metrics.healthChanges.inc({ origin: change.id, state: change.state, reason: change.reason });
    for (const site of sites.values()) site.dispatch();
  });
  const shareListeners = new Set<() => void>();
  let shareHeldPending = false;
  // Several origins' shares change in one push: one call after it is fully applied.
  const shareHeld = (): void => {
    if (shareHeldPending || shareListeners.size === 0) return;
    shareHeldPending = true;
    setImmediate(() => {
      shareHeldPending = false;
      for (const listener of shareListeners) listener();
    });
  };
  const origins = new OriginRegistry({
    retireGraceMs: config.drainTimeoutMs,
    onShareHeld: shareHeld,
    onAdjust: (origin, { from, to, reason }) => {
      log.info({ origin, from, to, reason }, 'origin limit changed');
      metrics.limitChanges.inc({ origin, reason });
    },
  });
  const tunnel: TunnelServer = new TunnelServer({
    id: config.id,
    keys: config.tunnel.keys,
    ...parseHostPort(config.tunnel.listen),
    tls,
    reportLoad: load,
    log: log.child({ component: 'tunnel' }),
  });
  const accessLog = createAccessLog('back-end', log, config.accessLog);
  const gateway: Gateway = {
    id: config.id,
    log,
    accessLog: accessLog.write,
    metrics,
    health,
    origins,
    site: (name) => sites.get(name),
    get state() {
      return state;
    },
  };

  function apply(next: BackEndState): void {
    const fresh = origins.apply(next);
    for (const [name, site] of sites) {
      if (Object.hasOwn(next.sites, name)) continue;
      site.close();
      sites.delete(name);
    }
    for (const [name, site] of Object.entries(next.sites)) {
      const existing = sites.get(name);
      if (existing) existing.apply(site, next.queue);
      else sites.set(name, new SiteRuntime(name, site, next.queue, { origins, health }));
    }
    health.apply([...origins.all()], next.health, fresh, originChecks(next));
    if (next.rings) tunnel.setRings(next.rings);
    state = next;
    for (const site of sites.values()) site.dispatch();
    log.info({ sites: sites.size, origins: [...origins.all()].length }, 'state applied');
  }

  apply(state);
  tunnel.on('stream', (stream: TunnelStream, session: TunnelSession) => serveStream(gateway, stream, session));
  tunnel.on('session', (session: TunnelSession) => session.once('close', () => metrics.sessionClosed(session)));
  const pruner = setInterval(() => {
    for (const site of sites.values()) site.prune();
    for (const origin of origins.all()) origin.trimConnections();
  }, PRUNE_INTERVAL_MS);
  pruner.unref();

  let admin: AdminServer;
  let tunnelAddress: AddressInfo;
  try {
    tunnelAddress = await tunnel.listen();
    admin = await startAdminServer({
      ...parseHostPort(config.admin),
      registry,
      health: () => ({ ok: !draining, id: config.id, draining, sessions: tunnel.sessions.size, originsDown: countDown() }),
      routes: options.adminRoutes,
    });
  } catch (err) {
    clearInterval(pruner);
    await Promise.allSettled([tunnel.close(0), health.close(), origins.close()]);
    throw err;
  }
  log.info({ id: config.id, tunnel: tunnelAddress, admin: admin.address, sites: sites.size }, 'back-end listening');
  const advice = notSentLowatAdvice();
  if (advice) log.warn({ advice }, 'host TCP setting blunts priorities on slow links');

  function countDown(): number {
    return [...origins.all()].filter((origin) => !health.isAvailable(origin.id)).length;
  }

  function status(): BackEndStatus {
    return {
      id: config.id,
      draining,
      load: load(),
      sessions: [...tunnel.sessions].map((session) => ({ frontEnd: session.peer.id, streams: session.streamCount, rttMs: session.rtt.value })),
      origins: [...origins.all()].map((origin) => {
        const healthStatus = health.status(origin.id);
        const entry: OriginStatus = {
          id: origin.id,
          url: origin.source,
          state: healthStatus?.state ?? 'up',
          reason: healthStatus?.reason ?? 'initial',
          inFlight: origin.limit.inFlight,
          limit: origin.limit.limit,
          waiting: origin.limit.waiting,
        };
        if (Number.isFinite(origin.limit.ceiling)) entry.share = origin.limit.ceiling;
        const baselineMs = origin.controllerSnapshot?.baselineMs;
        if (baselineMs !== undefined) entry.baselineMs = baselineMs;
        const freshness = health.freshness(origin.id);
        if (freshness !== undefined) entry.freshness = freshness;
        return entry;
      }),
      sites: [...sites.values()].map((site) => ({ name: site.name, mode: site.mode, queued: site.queueLengths().reduce((sum, queue) => sum + queue.length, 0) })),
      ringBytes: metrics.ringBytes(),
    };
  }

  function update(next: BackEndStateInput): void {
    if (draining) throw new Error(`back-end ${config.id} is closing`);
    // A part the update leaves out stays as it is (a manager pushes sites, not the file's tunables).
    const current: BackEndStateInput = { sites: state.sites, limits: state.limits, queue: state.queue, health: state.health, pool: state.pool };
    if (state.rings) current.rings = state.rings;
    if (state.originShares) current.originShares = state.originShares;
    apply(parseBackEndState({ ...current, ...next }));
  }

  async function reload(next: BackEndConfig): Promise<ReloadOutcome> {
    const applied: string[] = [];
    // Certificate files are read every time: a renewed certificate keeps its path.
    const tlsSwitched = Boolean(started.tunnel.tls) !== Boolean(next.tunnel.tls);
    const nextTls = !tlsSwitched && next.tunnel.tls ? await readTls(next.tunnel.tls) : undefined;
    tunnel.rekey(next.tunnel.keys, nextTls);
    applied.push('tunnel.keys', ...(nextTls ? ['tunnel.tls'] : []));
    if (next.drainTimeoutMs !== config.drainTimeoutMs) applied.push('drainTimeoutMs');
    const fromFile = next.manager ? Object.fromEntries(FILE_TUNABLES.map((part) => [part, next.state[part]])) : next.state;
    update(fromFile);
    applied.push(...(next.manager ? FILE_TUNABLES.map((part) => `state.${part}`) : ['state']));
    config = { ...next, id: started.id };
    return { applied, restartNeeded: [...changedPaths(started, next, RESTART_FIELDS), ...(tlsSwitched ? ['tunnel.tls'] : [])] };
  }

  let closing: Promise<void> | undefined;
  return {
    id: config.id,
    tunnel: tunnelAddress,
    admin: admin.address,
    registry,
    update,
    reload,
    status,
    onShareHeld(listener) {
      shareListeners.add(listener);
      return () => shareListeners.delete(listener);
    },
    close() {
      closing ??= (async () => {
        draining = true;
        log.info({ id: config.id }, 'back-end draining');
        clearInterval(pruner);
        await tunnel.close(config.drainTimeoutMs);
        for (const site of sites.values()) site.close();
        await Promise.all([health.close(), origins.close()]);
        await admin.close();
        accessLog.close();
        log.info({ id: config.id }, 'back-end closed');
      })();
      return closing;
    },
  };
}

/**
 * Each origin's probe as its site asks for it (`healthCheck`, and `originHost` as the probe's Host). An
 * origin several sites share is probed as the first of them by name says (docs/back-end.md).
 */
function originChecks(state: BackEndState): Map<string, OriginCheck> {
  const checks = new Map<string, OriginCheck>();
  for (const name of Object.keys(state.sites).sort()) {
    const site = state.sites[name] as BackEndState['sites'][string];
    if (!site.healthCheck && site.originHost === undefined) continue;
    const check: OriginCheck = { ...site.healthCheck, ...(site.originHost === undefined ? {} : { host: site.originHost }) };
    for (const origin of [...site.origins, ...site.routes.flatMap((route) => route.origins)]) if (!checks.has(origin.id)) checks.set(origin.id, check);
  }
  return checks;
}

/** The tunnel's TLS options; with a `ca`, mutual TLS: a front-end without a certificate that CA signed is refused. */
async function readTls(tls: { cert: string; key: string; ca?: string }) {
  const [cert, key, ca] = await Promise.all([readFile(tls.cert), readFile(tls.key), tls.ca ? readFile(tls.ca) : undefined]);
  return ca ? { cert, key, ca, requestCert: true, rejectUnauthorized: true } : { cert, key };
}
