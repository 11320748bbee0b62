import cluster from 'node:cluster';
import {
  changedPaths,
  createLogger,
  createRegistry,
  OverlayError,
  startAdminServer,
  validate,
  type AdminRoute,
  type AdminServer,
  type Clock,
  type Logger,
  type Registry,
  type ReloadOutcome,
} from '@overlay/common';
import {
  redirectorConfigSchema,
  redirectorStateShape,
  type RedirectorConfig,
  type ListenAddress,
  type RedirectorConfigInput,
  type RedirectorStateInput,
} from './config.js';
import { batchedUdpUnavailable, listenTcp, listenUdp, type MessageHandler, type TcpListener, type UdpIo, type UdpListener } from './listeners.js';
import { Redirector } from './redirector.js';
import { startWorkers } from './workers.js';

export interface StartRedirectorOptions {
  log?: Logger;
  registry?: Registry;
  now?: Clock;
  /** Further routes on the admin address (POST /reload). */
  adminRoutes?: AdminRoute[];
}

/** Fields a running redirector cannot change: a reload keeps the old value and says a restart applies it. */
const RESTART_FIELDS = ['id', 'workers', 'listen', 'admin', 'adminToken', 'rateLimit', 'udpPayloadCap', 'udpReceiveBufferBytes', 'udpBatching', 'tcp', 'manager'] as const;

export interface BoundAddress {
  host: string;
  udpPort: number;
  tcpPort: number;
}

export interface RunningRedirector {
  /** The first listen address (`listeners[0]`). */
  host: string;
  udpPort: number;
  tcpPort: number;
  /** Every listen address, in config order, each with its own UDP and TCP sockets. */
  listeners: BoundAddress[];
  /** The admin listener's port (GET /metrics, GET /healthz), when `admin` is configured. */
  adminPort?: number;
  /** The admin listener's address as bound. */
  admin?: { host: string; port: number };
  /** The UDP socket's receive buffer as the kernel granted it, bytes (`udpReceiveBufferBytes`, capped by rmem_max). */
  udpReceiveBufferBytes: number;
  /** How UDP datagrams are moved: in batches through the addon, or one at a time through node:dgram. */
  udpIo: UdpIo;
  redirector: Redirector;
  update(state: RedirectorStateInput): void;
  /**
   * Applies a reloaded config: zones, POP table, answer tuning and, without a manager, sites and front-ends.
   * With a manager the caller re-applies the feed on the new zones and POP table (control's `rebase`).
   */
  reload(config: RedirectorConfig): ReloadOutcome;
  close(): Promise<void>;
}

/** Tries for port 0: a free UDP port may be taken for TCP; pick again. */
const PORT_PAIR_ATTEMPTS = 10;

function stateOf(config: RedirectorConfig): RedirectorStateInput {
  const keys = Object.keys(redirectorStateShape) as Array<keyof typeof redirectorStateShape>;
  return Object.fromEntries(keys.map((key) => [key, config[key]])) as unknown as RedirectorStateInput;
}

interface Pair {
  udp: UdpListener;
  tcp: TcpListener;
}

/** UDP and TCP on the same port; with port 0, the first port free for both. */
async function listenPair(
  config: RedirectorConfig,
  listen: ListenAddress,
  handle: (transport: 'udp' | 'tcp') => MessageHandler,
  onConnectionCount: (open: number) => void,
  redirector: Redirector,
  log: Logger,
): Promise<Pair> {
  const { host, port } = listen;
  for (let attempt = 1; ; attempt++) {
    let udp: UdpListener | undefined;
    try {
      // Workers share node:cluster's dgram sockets; the addon's sockets are this process's own.
      const batched = config.udpBatching && !cluster.isWorker;
      udp = await listenUdp({ host, port, receiveBufferBytes: config.udpReceiveBufferBytes, batched, handle: handle('udp'), log });
      const tcp = await listenTcp({
        host,
        port: udp.port,
        policy: config.tcp,
        handle: handle('tcp'),
        log,
        onConnectionCount,
        onClosed: (reason) => redirector.metricSet.tcpClosed.inc({ reason }),
      });
      return { udp, tcp };
    } catch (err) {
      if (udp) await udp.close();
      const code = (err as NodeJS.ErrnoException).code;
      if (port === 0 && code === 'EADDRINUSE' && attempt < PORT_PAIR_ATTEMPTS) continue;
      throw new OverlayError('ERR_DNS_LISTEN', `redirector cannot listen on ${host}:${port} (${code ?? String(err)})`, {
        origin: 'config',
        cause: err,
      });
    }
  }
}

/** Starts the authoritative DNS redirector: UDP + TCP listeners, and the admin listener when configured. */
export async function startRedirector(
  configInput: RedirectorConfigInput,
  options: StartRedirectorOptions = {},
): Promise<RunningRedirector> {
  const config = validate(redirectorConfigSchema, configInput);
  const log = options.log ?? createLogger('redirector');
  const registry = options.registry ?? createRegistry('redirector', config.id);
  if (config.workers > 1 && cluster.isPrimary) return startWorkers(config, { ...options, log, registry }, { stateOf, restartFields: RESTART_FIELDS });
  const redirector = new Redirector({
    state: stateOf(config),
    udpPayloadCap: config.udpPayloadCap,
    rateLimit: config.rateLimit,
    registry,
    log,
    now: options.now,
  });
  const handle =
    (transport: 'udp' | 'tcp'): MessageHandler =>
    (message, address) => {
      try {
        return redirector.respond(message, { address, transport });
      } catch (err) {
        // A bug must cost one answer, never the listener.
        log.error({ err, transport, remote: address }, 'redirector failed to answer');
        redirector.metricSet.dropped.inc({ reason: 'internal-error' });
        return undefined;
      }
    };
  const pairs: Pair[] = [];
  const closeAll = async (): Promise<void> => {
    await Promise.all(pairs.map(async ({ udp, tcp }) => Promise.all([udp.close(), tcp.close()])));
  };
  const openCounts = config.listen.map(() => 0);
  try {
    for (const [at, listen] of config.listen.entries()) {
      const count = (open: number): void => {
        openCounts[at] = open;
        redirector.metricSet.tcpConnections.set(openCounts.reduce((sum, value) => sum + value, 0));
      };
      pairs.push(await listenPair(config, listen, handle, count, redirector, log));
    }
  } catch (err) {
    await closeAll();
    throw err;
  }
  const listeners = pairs.map(({ udp, tcp }) => ({ host: udp.address, udpPort: udp.port, tcpPort: tcp.port }));
  const first = pairs[0] as Pair;
  // Signatures are remade every quarter of the shortest validity, so a cached answer never carries a stale one.
  const validity = redirector.signatureValiditySeconds;
  const resign = validity === undefined ? undefined : setInterval(() => redirector.refreshSignatures(), (validity * 1000) / 4);
  resign?.unref();
  let admin: AdminServer | undefined;
  if (config.admin) {
    admin = await startAdminServer({
      ...config.admin,
      registry,
      routes: options.adminRoutes,
      health: () => {
        const frontEnds = Object.values(redirector.state.frontEnds);
        return {
          ok: true,
          zones: Object.keys(redirector.state.zones).length,
          frontEnds: frontEnds.length,
          healthyFrontEnds: frontEnds.filter((frontEnd) => frontEnd.healthy).length,
          ds: redirector.dsRecords,
        };
      },
    });
  }
  const { host } = listeners[0] as BoundAddress;
  const udpReceiveBufferBytes = first.udp.receiveBufferBytes;
  const udpIo = first.udp.io;
  if (config.udpBatching && !cluster.isWorker && udpIo === 'dgram') {
    log.warn({ reason: batchedUdpUnavailable() }, 'batched UDP not available: answering through node:dgram, about half the rate (docs/redirector.md)');
  }
  if (udpReceiveBufferBytes < config.udpReceiveBufferBytes) {
    log.warn(
      { asked: config.udpReceiveBufferBytes, granted: udpReceiveBufferBytes },
      'UDP receive buffer capped by net.core.rmem_max: query bursts may be dropped (docs/operations.md)',
    );
  }
  const adminAddress = admin && { host: admin.address.address, port: admin.address.port };
  log.info({ listeners, admin: adminAddress, udpReceiveBufferBytes, udpIo, ds: redirector.dsRecords }, 'redirector listening');
  return {
    host,
    udpPort: first.udp.port,
    tcpPort: first.tcp.port,
    listeners,
    adminPort: admin?.address.port,
    admin: adminAddress,
    udpReceiveBufferBytes,
    udpIo,
    redirector,
    update: (state) => redirector.update(state),
    reload: (next) => {
      if (!next.manager) redirector.update(stateOf(next));
      return { applied: next.manager ? [] : ['state'], restartNeeded: changedPaths(config, next, RESTART_FIELDS) };
    },
    close: async () => {
      if (resign) clearInterval(resign);
      await Promise.all([closeAll(), admin?.close()]);
    },
  };
}
