import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Registry, collectDefaultMetrics } from 'prom-client';

export { Counter, Gauge, Histogram, Registry } from 'prom-client';

/** A registry with Node's process metrics (RSS, CPU, event-loop lag) and a role label on every series. */
export function createRegistry(role: string, id: string): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ role, instance_id: id });
  collectDefaultMetrics({ register: registry });
  return registry;
}

export type AdminRoute = (req: IncomingMessage, res: ServerResponse) => boolean | Promise<boolean>;

export interface AdminServerOptions {
  host: string;
  port: number;
  registry: Registry;
  /** Extra health facts; `ok: false` turns /healthz into a 503. */
  health?: () => { ok: boolean; [key: string]: unknown };
  /** Further routes tried before the 404; return true when handled. */
  routes?: AdminRoute[];
}

export interface AdminServer {
  server: Server;
  address: AddressInfo;
  close(): Promise<void>;
}

/** The admin listener every process has: GET /metrics (Prometheus text) and GET /healthz. */
export async function startAdminServer(options: AdminServerOptions): Promise<AdminServer> {
  const server = createServer((req, res) => {
    void handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
      res.end(`internal error: ${err instanceof Error ? err.message : String(err)}\n`);
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method === 'GET' && path === '/metrics') {
      const body = await options.registry.metrics();
      res.writeHead(200, { 'content-type': options.registry.contentType });
      res.end(body);
      return;
    }
    if (req.method === 'GET' && path === '/healthz') {
      const health = options.health?.() ?? { ok: true };
      res.writeHead(health.ok ? 200 : 503, { 'content-type': 'application/json' });
      res.end(JSON.stringify(health));
      return;
    }
    for (const route of options.routes ?? []) if (await route(req, res)) return;
    res.writeHead(404, { 'content-type': 'text/plain' });
    res.end('not found\n');
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return {
    server,
    address: server.address() as AddressInfo,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
