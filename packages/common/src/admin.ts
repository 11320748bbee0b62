import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { SecureContextOptions } from 'node:tls';
import type { AddressInfo } from 'node:net';
import { Registry, collectDefaultMetrics } from 'prom-client';
import { ConfigError, configProblems } from './errors.js';

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
  /** /metrics: open (default), absent (false: 404), or only for requests the check accepts (else 401). */
  metrics?: boolean | ((req: IncomingMessage) => boolean);
  /** Serve HTTPS with this certificate and key. */
  tls?: SecureContextOptions;
}

export interface AdminServer {
  server: Server;
  address: AddressInfo;
  close(): Promise<void>;
}

/** The admin listener every process has: GET /metrics (Prometheus text) and GET /healthz. */
export async function startAdminServer(options: AdminServerOptions): Promise<AdminServer> {
  const listener = (req: IncomingMessage, res: ServerResponse) => {
    void handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
      res.end(`internal error: ${err instanceof Error ? err.message : String(err)}\n`);
    });
  };
  const server: Server = options.tls ? createHttpsServer(options.tls, listener) : createServer(listener);
  const metrics = options.metrics ?? true;

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method === 'GET' && path === '/metrics' && metrics !== false) {
      if (metrics !== true && !metrics(req)) {
        answerJson(res, 401, { error: { code: 'unauthorized', message: '/metrics on this address needs a bearer token' } });
        return;
      }
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

/** What a reload did: the parts applied live, and the changed parts only a restart applies (still the old ones). */
export interface ReloadOutcome {
  applied: string[];
  restartNeeded: string[];
}

/** Whether an `Authorization: Bearer …` header carries `token`, compared in constant time. */
export function bearerMatches(header: string | undefined, token: string): boolean {
  const match = /^Bearer (.+)$/.exec(header ?? '');
  if (!match) return false;
  const given = createHash('sha256').update(match[1] as string).digest();
  return timingSafeEqual(given, createHash('sha256').update(token).digest());
}

/** The check for an admin listener with an optional `adminToken`: none means open, as /metrics is. */
export function adminTokenCheck(token: string | undefined): ((req: IncomingMessage) => boolean) | undefined {
  return token === undefined ? undefined : (req) => bearerMatches(req.headers.authorization, token);
}

function answerJson(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(`${JSON.stringify(body)}\n`);
}

/**
 * `POST /reload` on an admin address: re-reads the process's config file and applies it, as SIGHUP does.
 * With `authorize`, only a request it accepts may (see `adminTokenCheck`). 200 with the outcome, 400 with
 * every problem of a bad file (the old config stays in force).
 */
export function reloadRoute(reload: () => Promise<ReloadOutcome>, authorize?: (req: IncomingMessage) => boolean): AdminRoute {
  return async (req, res) => {
    if ((req.url ?? '/').split('?')[0] !== '/reload') return false;
    if (req.method !== 'POST') {
      res.writeHead(405, { allow: 'POST', 'content-type': 'text/plain' });
      res.end('POST /reload\n');
      return true;
    }
    if (authorize && !authorize(req)) {
      answerJson(res, 401, { error: { code: 'unauthorized', message: 'POST /reload needs the admin token' } });
      return true;
    }
    req.resume();
    try {
      answerJson(res, 200, { ok: true, ...(await reload()) });
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      const problems = configProblems(err).map((problem) => problem.message);
      answerJson(res, 400, { ok: false, error: { code: err.code, message: 'invalid config: the old one stays in force', problems } });
    }
    return true;
  };
}
