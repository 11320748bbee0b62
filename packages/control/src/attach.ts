import { readPem, silentLogger, type Logger } from '@overlay/common';
import type { BackEnd } from '@overlay/backend';
import type { FrontEnd } from '@overlay/frontend';
import { subscribe, type GatewayAddresses, type ManagerState, type Subscription } from '@overlay/manager';
import type { RunningRedirector } from '@overlay/redirector';
import { backEndStateFrom, frontEndStateFrom, redirectorStateFrom, type RedirectorBase } from './adapt.js';

/** Where the manager is. The token is a secret: it comes from the config (`${ENV}`), never from logs. */
export interface ManagerLink {
  /** One manager, or the replicas of one manager cluster in order of preference. */
  url: string | readonly string[];
  token: string;
  /** For https managers: the CA of their certificate, PEM text or a file path. */
  ca?: string;
}

/** Gateways report this often; the manager marks one down after a few missed reports. */
const REPORT_INTERVAL_MS = 2_000;

export interface Attached {
  subscription: Subscription;
  /** Sends a report now (when the attachment reports at all). */
  report(): void;
  /** The last state applied, for tests and status pages. */
  lastVersion(): number | undefined;
  /** Selects and applies the last pushed state again, after what `select` depends on changed (a reload). */
  refresh(): Promise<void>;
  close(): void;
}

/** The redirector's attachment: a reload gives it new zones and POP table to combine with the feed. */
export interface AttachedRedirector extends Attached {
  rebase(base: RedirectorBase, isInZones: (name: string) => boolean): Promise<void>;
}

/** Priority rings in a report (0 highest to 4), as the manager's feed schema expects them. */
const REPORTED_RINGS = 5;

/** Bytes per ring for a report: one entry per ring, zeros for rings (or a whole gateway) that sent nothing yet. */
export function reportedRingBytes(bytes: readonly number[]): number[] {
  return Array.from({ length: REPORTED_RINGS }, (_, ring) => bytes[ring] ?? 0);
}

/**
 * Subscribes to the manager and hands each state to `apply`; a refused state is logged and the previous one
 * stays in force. `report`, when given, runs every REPORT_INTERVAL_MS.
 */
function follow<S>(options: {
  manager: ManagerLink;
  hello: Parameters<typeof subscribe>[0]['hello'];
  log?: Logger;
  /** This subscriber's own part of the pushed state. */
  select: (state: ManagerState) => S;
  apply: (selected: S) => void | Promise<void>;
  report?: (subscription: Subscription) => void;
}): Attached {
  const log = options.log ?? silentLogger;
  let version: number | undefined;
  // The manager pushes on every change anywhere (reports included); re-apply only what changed here.
  let applied: string | undefined;
  let last: { state: ManagerState; version: number } | undefined;
  const offer = (state: ManagerState, next: number): Promise<void> =>
    Promise.resolve()
      .then(() => {
        last = { state, version: next };
        const selected = options.select(state);
        const fingerprint = JSON.stringify(selected);
        if (fingerprint === applied) return;
        return Promise.resolve(options.apply(selected)).then(() => {
          applied = fingerprint;
        });
      })
      .then(
        () => void (version = next),
        (err: Error) => log.error({ err, version: next }, 'state from the manager refused'),
      );
  const { ca } = options.manager;
  const subscription = subscribe({
    url: options.manager.url,
    token: options.manager.token,
    ...(ca === undefined ? {} : { ca: readPem(ca, 'manager.ca') }),
    hello: options.hello,
    log,
    onState: (state: ManagerState, next: number) => void offer(state, next),
  });
  const report = options.report;
  const timer = report ? setInterval(() => report(subscription), REPORT_INTERVAL_MS) : undefined;
  timer?.unref();
  return {
    subscription,
    report: () => report?.(subscription),
    lastVersion: () => version,
    refresh: async () => {
      if (last) await offer(last.state, last.version);
    },
    close() {
      if (timer) clearInterval(timer);
      subscription.close();
    },
  };
}

/**
 * Feeds a front-end from the manager: every pushed state becomes its sites, rules, back-ends and ring
 * weights; every 2 s it reports load, health, tunnel QoS and bytes per ring. With the manager away it keeps
 * serving with the last state it had.
 */
export function attachFrontEnd(
  frontEnd: FrontEnd,
  options: { manager: ManagerLink; pop?: string; tunnelKey: string; tunnelTls?: Parameters<typeof frontEndStateFrom>[1]['tunnelTls']; addresses: GatewayAddresses; httpHost: string; log?: Logger },
): Attached {
  return follow({
    manager: options.manager,
    hello: { role: 'front-end', id: frontEnd.id, ...(options.pop ? { pop: options.pop } : {}), addresses: options.addresses },
    log: options.log,
    select: (state) => frontEndStateFrom(state, { id: frontEnd.id, httpHost: options.httpHost, key: options.tunnelKey, ...(options.tunnelTls ? { tunnelTls: options.tunnelTls } : {}) }),
    apply: (selected) => frontEnd.update(selected),
    report: (subscription) => {
      const status = frontEnd.status();
      subscription.report({
        load: status.load,
        healthy: status.healthy,
        tunnels: status.tunnels.map(({ peer, connected, rttMs, jitterMs, lossRate, throughputBps, error }) => ({
          peer, connected, rttMs, jitterMs, throughputBps, ...(lossRate === undefined ? {} : { lossRate }), ...(error === undefined ? {} : { error: error.slice(0, 512) }),
        })),
        ringBytes: reportedRingBytes(status.ringBytes),
      });
    },
  });
}

/**
 * Feeds a back-end from the manager: its sites, origins and routes; reports load, sessions and origins,
 * every REPORT_INTERVAL_MS and also as soon as a new share of an origin budget holds, so the manager can
 * grant what it freed to another back-end without waiting for the next interval.
 */
export function attachBackEnd(backEnd: BackEnd, options: { manager: ManagerLink; addresses: GatewayAddresses; tunnelTls?: boolean; log?: Logger }): Attached {
  const attached = follow({
    manager: options.manager,
    hello: { role: 'back-end', id: backEnd.id, addresses: options.addresses, ...(options.tunnelTls ? { tunnelTls: true } : {}) },
    log: options.log,
    select: (state) => backEndStateFrom(state, { id: backEnd.id }),
    apply: (selected) => backEnd.update(selected),
    report: (subscription) => {
      const status = backEnd.status();
      subscription.report({
        load: status.load,
        healthy: !status.draining,
        tunnels: status.sessions.map((session) => ({ peer: session.frontEnd, connected: true, rttMs: session.rttMs ?? 0, jitterMs: 0, throughputBps: 0 })),
        ringBytes: reportedRingBytes(status.ringBytes),
        origins: status.origins.map((origin) => ({ ...origin })),
      });
    },
  });
  const stopListening = backEnd.onShareHeld(() => attached.report());
  return { ...attached, close: () => (stopListening(), attached.close()) };
}

/** Feeds the redirector: site names, assignments, and front-end addresses, health and load. */
export function attachRedirector(redirector: RunningRedirector, options: { manager: ManagerLink; id: string; base: RedirectorBase; isInZones: (name: string) => boolean; addresses: GatewayAddresses; log?: Logger }): AttachedRedirector {
  let { base, isInZones } = options;
  const attached = follow({
    manager: options.manager,
    hello: { role: 'redirector', id: options.id, addresses: options.addresses },
    log: options.log,
    select: (state) => redirectorStateFrom(state, base, isInZones),
    apply: (selected) => redirector.update(selected),
  });
  return {
    ...attached,
    rebase: (nextBase, nextIsInZones) => {
      base = nextBase;
      isInZones = nextIsInZones;
      return attached.refresh();
    },
  };
}
