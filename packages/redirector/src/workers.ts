/**
 * Several worker processes sharing the listen sockets (node:cluster hands every worker the same UDP
 * socket, so the kernel spreads datagrams among them, and balances TCP connections). The primary holds
 * no DNS socket: it validates each state update once, passes it to every worker, restarts a worker that
 * dies, and serves the admin address with the workers' metrics summed (prom-client's aggregator).
 */
import cluster, { type Worker } from 'node:cluster';
import { fileURLToPath } from 'node:url';
import { changedPaths, startAdminServer, type AdminServer, type Logger, type Registry } from '@overlay/common';
import promClient from 'prom-client';
import type { RedirectorConfig, RedirectorStateInput } from './config.js';
import { Redirector } from './redirector.js';
import type { BoundAddress, RunningRedirector, StartRedirectorOptions } from './start.js';

/** The worker's config, as JSON, in its environment. */
export const WORKER_CONFIG_ENV = 'OVERLAY_REDIRECTOR_WORKER_CONFIG';

export type WorkerMessage = { type: 'ready'; listeners: BoundAddress[]; udpReceiveBufferBytes: number } | { type: 'failed'; message: string };
export type PrimaryMessage = { type: 'update'; state: RedirectorStateInput } | { type: 'close' };

interface WorkerHooks {
  stateOf(config: RedirectorConfig): RedirectorStateInput;
  restartFields: readonly string[];
}

function waitReady(worker: Worker): Promise<Extract<WorkerMessage, { type: 'ready' }>> {
  return new Promise((resolve, reject) => {
    const onMessage = (message: WorkerMessage): void => {
      if (message.type === 'ready') resolve(message);
      else if (message.type === 'failed') reject(new Error(message.message));
    };
    worker.on('message', onMessage);
    worker.once('exit', (code) => reject(new Error(`redirector worker exited with code ${code} before it was ready`)));
  });
}

export async function startWorkers(config: RedirectorConfig, options: StartRedirectorOptions & { log: Logger; registry: Registry }, hooks: WorkerHooks): Promise<RunningRedirector> {
  const { log } = options;
  // The primary's own core answers nothing; it checks updates and keeps the state for `state` and DS.
  const redirector = new Redirector({ state: hooks.stateOf(config), udpPayloadCap: config.udpPayloadCap, rateLimit: config.rateLimit, registry: options.registry, log });
  cluster.setupPrimary({ exec: fileURLToPath(new URL('./worker-main.js', import.meta.url)), silent: false });
  const workerConfig = JSON.stringify({ ...config, workers: 1, admin: undefined, adminToken: undefined, manager: undefined });
  let closing = false;
  let current: RedirectorStateInput | undefined;
  const workers = new Set<Worker>();
  const fork = (): Worker => {
    const worker = cluster.fork({ [WORKER_CONFIG_ENV]: workerConfig });
    workers.add(worker);
    worker.on('exit', (code, signal) => {
      workers.delete(worker);
      if (closing) return;
      log.error({ worker: worker.id, code, signal }, 'redirector worker died; starting another');
      const next = fork();
      void waitReady(next).then(() => current && next.send({ type: 'update', state: current } satisfies PrimaryMessage), () => undefined);
    });
    return worker;
  };
  const started = Array.from({ length: config.workers }, fork);
  let ready: Array<Extract<WorkerMessage, { type: 'ready' }>>;
  try {
    ready = await Promise.all(started.map(waitReady));
  } catch (err) {
    closing = true;
    for (const worker of workers) worker.kill();
    throw err;
  }
  const first = ready[0] as Extract<WorkerMessage, { type: 'ready' }>;
  const broadcast = (state: RedirectorStateInput): void => {
    current = state;
    for (const worker of workers) worker.send({ type: 'update', state } satisfies PrimaryMessage);
  };
  let admin: AdminServer | undefined;
  if (config.admin) {
    const aggregator = new promClient.AggregatorRegistry();
    const summed = { metrics: () => aggregator.clusterMetrics(), contentType: aggregator.contentType } as unknown as Registry;
    admin = await startAdminServer({
      ...config.admin,
      registry: summed,
      routes: options.adminRoutes,
      health: () => ({ ok: workers.size === config.workers, workers: workers.size, ds: redirector.dsRecords }),
    });
  }
  const adminAddress = admin && { host: admin.address.address, port: admin.address.port };
  log.info({ listeners: first.listeners, workers: config.workers, admin: adminAddress, ds: redirector.dsRecords }, 'redirector listening');
  const host = (first.listeners[0] as BoundAddress).host;
  return {
    host,
    udpPort: (first.listeners[0] as BoundAddress).udpPort,
    tcpPort: (first.listeners[0] as BoundAddress).tcpPort,
    listeners: first.listeners,
    adminPort: admin?.address.port,
    admin: adminAddress,
    udpReceiveBufferBytes: first.udpReceiveBufferBytes,
    // Workers answer on node:cluster's shared dgram sockets.
    udpIo: 'dgram',
    redirector,
    update: (state) => {
      redirector.update(state);
      broadcast(state);
    },
    reload: (next) => {
      if (!next.manager) {
        const state = hooks.stateOf(next);
        redirector.update(state);
        broadcast(state);
      }
      return { applied: next.manager ? [] : ['state'], restartNeeded: changedPaths(config, next, hooks.restartFields) };
    },
    close: async () => {
      closing = true;
      await Promise.all(
        [...workers].map(
          (worker) =>
            new Promise<void>((resolve) => {
              worker.once('exit', () => resolve());
              worker.send({ type: 'close' } satisfies PrimaryMessage);
              setTimeout(() => worker.kill(), 2000).unref();
            }),
        ),
      );
      await admin?.close();
    },
  };
}
