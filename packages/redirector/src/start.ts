import type dgram from 'node:dgram';
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
  type RedirectorConfigInput,
  type RedirectorStateInput,
} from './config.js';
import { grantedReceiveBuffer, listenTcp, listenUdp, type MessageHandler, type TcpListener } from './listeners.js';
import { Redirector } from './redirector.js';

export interface StartRedirectorOptions {
  log?: Logger;
  registry?: Registry;
  now?: Clock;
  /** Further routes on the admin address (POST /reload). */
  adminRoutes?: AdminRoute[];
}

/** Fields a running redirector cannot change: a reload keeps the old value and says a restart applies it. */
const RESTART_FIELDS = ['id', 'listen', 'admin', 'adminToken', 'rateLimit', 'udpPayloadCap', 'udpReceiveBufferBytes', 'tcp', 'manager'] as const;

export interface RunningRedirector {
  host: string;
  udpPort: number;
  tcpPort: number;
  /** The admin listener's port (GET /metrics, GET /healthz), when `admin` is configured. */
  adminPort?: number;
  /** The UDP socket's receive buffer as the kernel granted it, bytes (`udpReceiveBufferBytes`, capped by rmem_max). */
  udpReceiveBufferBytes: number;
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
  return Object.fromEntries(keys.map((key) => [key, config[key]])) as RedirectorStateInput;
}

function closeUdp(socket: dgram.Socket): Promise<void> {
  return new Promise((resolve) => socket.close(() => resolve()));
}

/** UDP and TCP on the same port; with port 0, the first port free for both. */
async function listenPair(
  config: RedirectorConfig,
  handle: (transport: 'udp' | 'tcp') => MessageHandler,
  redirector: Redirector,
  log: Logger,
): Promise<{ udp: dgram.Socket; tcp: TcpListener }> {
  const { host, port } = config.listen;
  for (let attempt = 1; ; attempt++) {
    let udp: dgram.Socket | undefined;
    try {
      udp = await listenUdp({ host, port, receiveBufferBytes: config.udpReceiveBufferBytes, handle: handle('udp'), log });
      const tcp = await listenTcp({
        host,
        port: udp.address().port,
        idleTimeoutMs: config.tcp.idleTimeoutMs,
        maxConnections: config.tcp.maxConnections,
        handle: handle('tcp'),
        log,
        onConnectionCount: (open) => redirector.metricSet.tcpConnections.set(open),
      });
      return { udp, tcp };
    } catch (err) {
      if (udp) await closeUdp(udp);
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
  const { udp, tcp } = await listenPair(config, handle, redirector, log);
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
        };
      },
    });
  }
  const { host } = config.listen;
  const udpReceiveBufferBytes = grantedReceiveBuffer(udp);
  if (udpReceiveBufferBytes < config.udpReceiveBufferBytes) {
    log.warn(
      { asked: config.udpReceiveBufferBytes, granted: udpReceiveBufferBytes },
      'UDP receive buffer capped by net.core.rmem_max: query bursts may be dropped (docs/operations.md)',
    );
  }
  log.info({ host, udpPort: udp.address().port, tcpPort: tcp.port, adminPort: admin?.address.port, udpReceiveBufferBytes }, 'redirector listening');
  return {
    host,
    udpPort: udp.address().port,
    tcpPort: tcp.port,
    adminPort: admin?.address.port,
    udpReceiveBufferBytes,
    redirector,
    update: (state) => redirector.update(state),
    reload: (next) => {
      if (!next.manager) redirector.update(stateOf(next));
      return { applied: next.manager ? [] : ['state'], restartNeeded: changedPaths(config, next, RESTART_FIELDS) };
    },
    close: async () => {
      await Promise.all([closeUdp(udp), tcp.close(), admin?.close()]);
    },
  };
}
