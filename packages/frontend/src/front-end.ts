import cluster from 'node:cluster';
import type { AddressInfo } from 'node:net';
import { createLogger, createRegistry, type Logger, type Registry } from '@overlay/common';
import { notSentLowatAdvice } from '@overlay/tunnel';
import { startClusterPrimary } from './cluster-primary.js';
import type { FrontEndConfig, FrontEndStateInput } from './config.js';
import { startGateway, type FrontEndStatus } from './gateway.js';

export interface StartFrontEndOptions {
  /** Structured logger; a JSON logger on stderr when omitted. */
  log?: Logger;
  /** Registry for /metrics (single process only; cluster workers each make their own). */
  registry?: Registry;
}

export interface FrontEnd {
  id: string;
  /** The shared HTTP listener. */
  http: AddressInfo;
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
  /** Stops accepting, lets requests in flight finish (http.closeGraceMs), drains the tunnels. */
  close(): Promise<void>;
}

/**
 * Starts a front-end gateway. With `workers: 1` everything runs in this process. With more, this process
 * becomes the node:cluster primary: it forks the workers (which re-enter through `dist/worker-main.js`,
 * i.e. `runFrontEndWorker()`), serves the admin address with their metrics aggregated, and forwards
 * `update` to each of them.
 */
export async function startFrontEnd(config: FrontEndConfig, options: StartFrontEndOptions = {}): Promise<FrontEnd> {
  const log = (options.log ?? createLogger('front-end')).child({ frontEnd: config.id });
  const advice = notSentLowatAdvice();
  if (advice) log.warn({ advice }, 'host TCP setting blunts priorities on slow links');
  if (config.workers > 1) {
    if (!cluster.isPrimary) throw new Error('startFrontEnd with workers > 1 must run in the cluster primary');
    return startClusterPrimary(config, log);
  }
  const registry = options.registry ?? createRegistry('front-end', config.id);
  const gateway = await startGateway(config, { log, registry, admin: true });
  return {
    id: gateway.id,
    http: gateway.http,
    admin: gateway.admin as AddressInfo,
    get tcp() {
      return gateway.tcp();
    },
    status: () => gateway.status(),
    update: (state) => gateway.update(state),
    close: () => gateway.close(),
  };
}
