/** One redirector worker under node:cluster (see workers.ts): serves the shared sockets, takes updates from the primary. */
import cluster from 'node:cluster';
import { createLogger, createRegistry } from '@overlay/common';
import promClient from 'prom-client';
import { startRedirector } from './start.js';
import { WORKER_CONFIG_ENV, type PrimaryMessage, type WorkerMessage } from './workers.js';

const send = (message: WorkerMessage): void => void process.send?.(message);
const config = JSON.parse(process.env[WORKER_CONFIG_ENV] ?? '{}') as { id?: string };
const log = createLogger('redirector').child({ worker: cluster.worker?.id });
const registry = createRegistry('redirector', config.id ?? 'redirector');
promClient.AggregatorRegistry.setRegistries([registry]);
// Constructing one installs the handler that answers the primary's requests for this worker's metrics.
new promClient.AggregatorRegistry();
try {
  const running = await startRedirector(config as Parameters<typeof startRedirector>[0], { log, registry });
  process.on('message', (message: PrimaryMessage) => {
    if (message.type === 'close') void running.close().then(() => process.exit(0));
    else if (message.type === 'update') {
      try {
        running.update(message.state);
      } catch (err) {
        log.error({ err }, 'redirector worker refused a state update');
      }
    }
  });
  send({ type: 'ready', listeners: running.listeners, udpReceiveBufferBytes: running.udpReceiveBufferBytes });
} catch (err) {
  send({ type: 'failed', message: (err as Error).message });
  process.exit(1);
}
