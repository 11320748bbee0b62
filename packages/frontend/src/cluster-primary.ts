import cluster, { type Worker } from 'node:cluster';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { parseHostPort, startAdminServer, validate, type AdminRoute, type Logger } from '@overlay/common';
import { AggregatorRegistry, type PrometheusContentType } from 'prom-client';
import { isOverlayMessage, type PrimaryMessage, type WorkerMessage } from './cluster-messages.js';
import { frontEndStateSchema, type FrontEndConfig, type FrontEndState, type FrontEndStateInput } from './config.js';
import { mergeWorkerStatuses } from './cluster-status.js';
import type { FrontEnd } from './front-end.js';
import type { FrontEndStatus } from './gateway.js';
import { clusterTimings } from './options.js';
import { newTicketKeys } from './tls.js';

/** /metrics in the primary: every worker's registry, gathered over IPC (series carry a `worker` label). */
class ClusterRegistry extends AggregatorRegistry<PrometheusContentType> {
  override metrics(): Promise<string> {
    return this.clusterMetrics();
  }
}

interface Slot {
  index: number;
  worker: Worker | undefined;
  ready: boolean;
  crashes: number;
  /** The worker's latest status report; dropped with the worker. */
  status: FrontEndStatus | undefined;
}

type Ready = Extract<WorkerMessage, { type: 'overlay-frontend:ready' }>;
type Updated = Extract<WorkerMessage, { type: 'overlay-frontend:updated' }>;

/**
 * The primary of a multi-worker front-end (seed 004): forks `workers` processes that each run the HTTP
 * and TCP listeners on the same addresses (node:cluster shares the listening sockets and spreads new
 * connections across workers), serves the admin address itself with the workers' metrics aggregated,
 * forwards state updates to every worker and replaces a worker that dies.
 */
export async function startClusterPrimary(config: FrontEndConfig, log: Logger, adminRoutes?: AdminRoute[]): Promise<Omit<FrontEnd, 'reload'>> {
  cluster.setupPrimary({ exec: fileURLToPath(new URL('./worker-main.js', import.meta.url)) });
  let state: FrontEndState = config.state;
  const ticketKeys = newTicketKeys().toString('base64');
  let closing = false;
  let seq = 0;
  let tcp: Record<string, AddressInfo> = {};
  const updates = new Map<number, Map<Worker, (message: Updated) => void>>();
  const slots: Slot[] = Array.from({ length: config.workers }, (_, index) => ({ index: index + 1, worker: undefined, ready: false, crashes: 0, status: undefined }));

  const send = (worker: Worker, message: PrimaryMessage) => {
    if (worker.isConnected()) worker.send(message);
  };

  const spawn = (slot: Slot): Promise<Ready> => {
    const worker = cluster.fork({ OVERLAY_FRONTEND_WORKER: String(slot.index) });
    slot.worker = worker;
    slot.ready = false;
    return new Promise<Ready>((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new Error(`front-end worker ${slot.index} not ready within ${clusterTimings.workerReadyTimeoutMs} ms`));
        worker.kill();
      }, clusterTimings.workerReadyTimeoutMs);
      worker.on('message', (message: unknown) => {
        if (!isOverlayMessage(message)) return;
        const reply = message as WorkerMessage;
        if (reply.type === 'overlay-frontend:hello') send(worker, { type: 'overlay-frontend:start', config: { ...config, state }, worker: slot.index, logLevel: log.level, ticketKeys });
        else if (reply.type === 'overlay-frontend:ready') {
          clearTimeout(timer);
          slot.ready = true;
          slot.crashes = 0;
          tcp = reply.tcp;
          resolve(reply);
        } else if (reply.type === 'overlay-frontend:failed') {
          clearTimeout(timer);
          reject(new Error(`front-end worker ${slot.index} failed to start: ${reply.message}`));
        } else if (reply.type === 'overlay-frontend:updated') {
          updates.get(reply.seq)?.get(worker)?.(reply);
        } else if (reply.type === 'overlay-frontend:status' && slot.worker === worker) {
          slot.status = reply.status;
        }
      });
      worker.once('exit', (code, signal) => {
        clearTimeout(timer);
        for (const waiting of updates.values()) waiting.get(worker)?.({ type: 'overlay-frontend:updated', seq: -1, tcp, error: 'worker exited' });
        if (slot.worker !== worker) return;
        slot.worker = undefined;
        slot.ready = false;
        slot.status = undefined;
        reject(new Error(`front-end worker ${slot.index} exited (${signal ?? code}) before it was ready`));
        if (closing) return;
        const delay = Math.min(clusterTimings.respawnMaxDelayMs, clusterTimings.respawnDelayMs * 2 ** slot.crashes++);
        log.error({ worker: slot.index, code, signal, respawnInMs: delay }, 'front-end worker died; replacing it');
        setTimeout(() => {
          if (!closing) spawn(slot).catch((err: Error) => log.error({ worker: slot.index, reason: err.message }, 'replacement worker failed'));
        }, delay).unref();
      });
    });
  };

  const closeWorkers = () =>
    Promise.all(
      slots.flatMap((slot) => {
        const worker = slot.worker;
        if (!worker) return [];
        return [new Promise<void>((resolve) => {
          const kill = setTimeout(() => worker.kill('SIGKILL'), config.http.closeGraceMs + 5_000);
          worker.once('exit', () => {
            clearTimeout(kill);
            resolve();
          });
          if (worker.isConnected()) send(worker, { type: 'overlay-frontend:close' });
          else worker.kill();
        })];
      }),
    );

  let ready: Ready[];
  try {
    ready = await Promise.all(slots.map(spawn));
  } catch (err) {
    closing = true;
    await closeWorkers();
    throw err;
  }
  const registry = new ClusterRegistry();
  const { host, port } = parseHostPort(config.admin);
  const admin = await startAdminServer({
    host,
    port,
    registry,
    health: () => ({ ok: slots.some((slot) => slot.ready), id: config.id, pop: config.pop, workers: slots.map((slot) => ({ worker: slot.index, ready: slot.ready, pid: slot.worker?.process.pid })) }),
    routes: adminRoutes,
  });
  log.info({ http: ready[0].http, admin: admin.address, workers: config.workers }, 'front-end cluster listening');

  /** Sends every ready worker a command and waits for all their answers; throws the first refusal. */
  const broadcast = async (command: (seq: number) => PrimaryMessage): Promise<void> => {
    const id = ++seq;
    const waiting = new Map<Worker, (message: Updated) => void>();
    updates.set(id, waiting);
    try {
      const answers = await Promise.all(slots.flatMap((slot) => {
        const worker = slot.worker;
        if (!worker || !slot.ready) return [];
        return [new Promise<Updated>((resolve) => {
          const timer = setTimeout(() => resolve({ type: 'overlay-frontend:updated', seq: id, tcp, error: 'no answer' }), clusterTimings.updateTimeoutMs);
          waiting.set(worker, (message) => {
            clearTimeout(timer);
            resolve(message);
          });
          send(worker, command(id));
        })];
      }));
      const failed = answers.find((answer) => answer.error !== undefined);
      if (failed) throw new Error(`front-end worker could not apply the change: ${failed.error}`);
      if (answers[0]) tcp = answers[0].tcp;
    } finally {
      updates.delete(id);
    }
  };

  const update = async (input: FrontEndStateInput): Promise<void> => {
    const next = validate(frontEndStateSchema, input);
    state = next;
    await broadcast((id) => ({ type: 'overlay-frontend:update', seq: id, state: next }));
  };

  return {
    id: config.id,
    http: ready[0].http,
    https: ready[0].https,
    admin: admin.address,
    get tcp() {
      return tcp;
    },
    // The workers run the tunnels and admission; their latest reports, merged.
    status: () => mergeWorkerStatuses(
      slots.flatMap((slot) => (slot.ready && slot.status ? [slot.status] : [])),
      !closing && slots.some((slot) => slot.ready),
    ),
    update,
    reloadCertificates: (https) => broadcast((id) => ({ type: 'overlay-frontend:certificates', seq: id, https })),
    close: async () => {
      closing = true;
      await closeWorkers();
      await admin.close();
    },
  };
}
