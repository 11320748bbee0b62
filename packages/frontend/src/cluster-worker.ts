import cluster from 'node:cluster';
import { createLogger, createRegistry, type Logger } from '@overlay/common';
import { AggregatorRegistry } from 'prom-client';
import { isOverlayMessage, type PrimaryMessage, type WorkerMessage } from './cluster-messages.js';
import { startGateway, type Gateway } from './gateway.js';
import { clusterTimings } from './options.js';

function send(message: WorkerMessage): void {
  process.send?.(message);
}

/**
 * The body of a front-end cluster worker. The primary (startFrontEnd with `workers > 1`) forks
 * `dist/worker-main.js`, which calls this; a program that forks its own workers can call it instead in
 * `cluster.isWorker`. It waits for the primary's start message (the config), runs the listeners with
 * the port shared through node:cluster, answers prom-client's metric requests with its own registry
 * (every series labelled `worker`), applies state updates and exits on close or when the primary goes.
 * `log` defaults to JSON lines on stderr at the primary's level.
 */
export function runFrontEndWorker(log?: Logger): void {
  if (!cluster.isWorker) throw new Error('runFrontEndWorker must run in a node:cluster worker');
  let gateway: Gateway | undefined;
  let closing = false;
  let reporter: NodeJS.Timeout | undefined;

  const shutdown = async (code: number) => {
    if (closing) return;
    closing = true;
    clearInterval(reporter);
    try {
      await gateway?.close();
    } finally {
      process.exit(code);
    }
  };

  process.on('message', (message: unknown) => {
    if (!isOverlayMessage(message)) return;
    const command = message as PrimaryMessage;
    if (command.type === 'overlay-frontend:start') {
      const { config, worker, logLevel, ticketKeys } = command;
      const registry = createRegistry('front-end', config.id);
      registry.setDefaultLabels({ role: 'front-end', instance_id: config.id, worker: String(worker) });
      new AggregatorRegistry(); // installs the worker's answer to the primary's metric requests
      AggregatorRegistry.setRegistries([registry]);
      const workerLog = (log ?? createLogger('front-end', { level: logLevel })).child({ frontEnd: config.id, worker });
      startGateway(config, { log: workerLog, registry, admin: false, ticketKeys: Buffer.from(ticketKeys, 'base64') }).then(
        (started) => {
          gateway = started;
          send({ type: 'overlay-frontend:ready', http: started.http, https: started.https, tcp: started.tcp() });
          const report = () => send({ type: 'overlay-frontend:status', status: started.status() });
          report();
          reporter = setInterval(report, clusterTimings.statusIntervalMs).unref();
        },
        (err: Error) => {
          send({ type: 'overlay-frontend:failed', message: err.message });
          void shutdown(1);
        },
      );
    } else if (command.type === 'overlay-frontend:update' || command.type === 'overlay-frontend:certificates') {
      const { seq } = command;
      if (!gateway) return send({ type: 'overlay-frontend:updated', seq, tcp: {}, error: 'worker not started' });
      const running = gateway;
      const work = command.type === 'overlay-frontend:update' ? running.update(command.state) : running.reloadCertificates(command.https);
      work.then(
        () => send({ type: 'overlay-frontend:updated', seq, tcp: running.tcp() }),
        (err: Error) => send({ type: 'overlay-frontend:updated', seq, tcp: running.tcp(), error: err.message }),
      );
    } else if (command.type === 'overlay-frontend:close') {
      void shutdown(0);
    }
  });
  send({ type: 'overlay-frontend:hello' });
  // The primary went away without saying close: stop serving rather than linger unmanaged.
  process.on('disconnect', () => void shutdown(0));
}
