import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { priorityRulesSchema } from '@overlay/classifier';
import { errorCode, formatPath, ownValue, type Logger } from '@overlay/common';
import type { z } from 'zod';
import type { GatewayKind } from './durable.js';
import { ApiError, invalid, notFound } from './errors.js';
import type { Authenticator } from './credentials.js';
import { bearerToken, readJsonBody, sendError, sendJson, sendNoContent } from './http-io.js';
import type { ManagerCore } from './manager.js';
import type { ManagerMetrics } from './metrics.js';
import { gatewayIdSchema, siteNameSchema } from './names.js';
import { ringsBodySchema, siteBodySchema } from './site-schema.js';
import { zoneApexSchema, zoneRecordsBodySchema } from './zone-records.js';

export interface ApiOptions {
  core: ManagerCore;
  authenticate: Authenticator;
  maxBodyBytes: number;
  metrics: ManagerMetrics;
  log: Logger;
}

interface Call {
  req: IncomingMessage;
  res: ServerResponse;
  /** Decoded path segments after `/v1/`. */
  params: string[];
  body: () => Promise<unknown>;
}

type Handler = (call: Call) => Promise<void> | void;
type Methods = Partial<Record<'GET' | 'PUT' | 'DELETE', Handler>>;

interface Route {
  pattern: RegExp;
  methods: Methods;
}

/** Validates a body against a schema; the first problem names its field: `rules[0].priority: ...`. */
function parseBody<S extends z.ZodType>(schema: S, value: unknown): z.output<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  throw invalid(`${formatPath(issue?.path ?? []) || 'body'}: ${issue?.message ?? 'invalid'}`);
}

function parseParam<S extends z.ZodType>(what: string, schema: S, value: string): z.output<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  throw invalid(`${what}: ${result.error.issues[0]?.message ?? 'invalid'}`);
}

const siteParam = (call: Call) => parseParam('site', siteNameSchema, call.params[0]);
const apexParam = (call: Call) => parseParam('apex', zoneApexSchema, call.params[0]);

function gatewayRoutes(core: ManagerCore, path: string, kind: GatewayKind): Route[] {
  const idParam = (call: Call) => parseParam('id', gatewayIdSchema, call.params[0]);
  return [
    { pattern: new RegExp(`^${path}$`), methods: { GET: ({ res }) => sendJson(res, 200, { [kind]: core.gateways(kind) }) } },
    {
      pattern: new RegExp(`^${path}/([^/]+)$`),
      methods: {
        GET: (call) => {
          const id = idParam(call);
          const gateway = ownValue(core.gateways(kind), id);
          if (!gateway) throw notFound(`"${id}" is not registered`);
          sendJson(call.res, 200, gateway);
        },
        DELETE: async (call) => {
          await core.deleteGateway(kind, idParam(call));
          sendNoContent(call.res);
        },
      },
    },
  ];
}

function routes(core: ManagerCore): Route[] {
  return [
    { pattern: /^sites$/, methods: { GET: ({ res }) => sendJson(res, 200, { sites: core.sites() }) } },
    {
      pattern: /^sites\/([^/]+)$/,
      methods: {
        GET: (call) => sendJson(call.res, 200, core.site(siteParam(call))),
        PUT: async (call) => {
          const name = siteParam(call);
          const { created, site } = await core.putSite(name, parseBody(siteBodySchema, await call.body()));
          sendJson(call.res, created ? 201 : 200, site);
        },
        DELETE: async (call) => {
          await core.deleteSite(siteParam(call));
          sendNoContent(call.res);
        },
      },
    },
    {
      pattern: /^sites\/([^/]+)\/priorities$/,
      methods: {
        GET: (call) => sendJson(call.res, 200, core.priorities(siteParam(call))),
        PUT: async (call) => {
          const name = siteParam(call);
          sendJson(call.res, 200, await core.putPriorities(name, parseBody(priorityRulesSchema, await call.body())));
        },
      },
    },
    {
      pattern: /^rings$/,
      methods: {
        GET: ({ res }) => sendJson(res, 200, core.rings()),
        PUT: async (call) => sendJson(call.res, 200, await core.putRings(parseBody(ringsBodySchema, await call.body()))),
      },
    },
    {
      pattern: /^zones\/([^/]+)\/records$/,
      methods: {
        GET: (call) => sendJson(call.res, 200, core.zoneRecords(apexParam(call))),
        PUT: async (call) => {
          const apex = apexParam(call);
          sendJson(call.res, 200, await core.putZoneRecords(apex, parseBody(zoneRecordsBodySchema, await call.body()).records));
        },
      },
    },
    ...gatewayRoutes(core, 'front-ends', 'frontEnds'),
    ...gatewayRoutes(core, 'back-ends', 'backEnds'),
    { pattern: /^decisions$/, methods: { GET: ({ res }) => sendJson(res, 200, { decisions: core.recentDecisions() }) } },
    {
      pattern: /^stream$/,
      methods: { GET: () => { throw new ApiError(426, 'upgrade_required', '/v1/stream is a WebSocket; connect with an Upgrade request'); } },
    },
  ];
}

/** Store failures are the manager's to fix and may pass (503); anything else unexpected is a 500. */
function asApiError(err: unknown): ApiError {
  if (err instanceof ApiError) return err;
  if (errorCode(err).startsWith('ERR_STORE')) return new ApiError(503, 'store_unavailable', 'the store cannot take writes; see the manager log');
  return new ApiError(500, 'internal', 'internal error; see the manager log');
}

/** The `/v1` API (docs/api.md) as a route for the shared HTTP server; returns false for other paths. */
export function createApiRoute(options: ApiOptions): (req: IncomingMessage, res: ServerResponse) => Promise<boolean> {
  const { core, authenticate, maxBodyBytes, metrics, log } = options;
  const table = routes(core);

  async function dispatch(req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
    const method = req.method ?? 'GET';
    if (path === '/v1/health') {
      if (method !== 'GET') throw new ApiError(405, 'method_not_allowed', `${method} is not allowed here; use GET`);
      sendJson(res, 200, { ok: true, role: core.role, version: core.currentVersion });
      return;
    }
    const access = authenticate(bearerToken(req));
    if (access === undefined) throw new ApiError(401, 'unauthorized', 'a valid "Authorization: Bearer TOKEN" header is required');
    const rest = path.slice('/v1/'.length);
    for (const route of table) {
      const match = route.pattern.exec(rest);
      if (!match) continue;
      const handler = route.methods[method as keyof Methods];
      if (!handler) {
        const allowed = Object.keys(route.methods).join(', ');
        throw Object.assign(new ApiError(405, 'method_not_allowed', `${method} is not allowed here; use ${allowed}`), { allow: allowed });
      }
      if (access.scope === 'gateway') throw new ApiError(403, 'forbidden', 'a gateway token may only use the feed (/v1/stream)');
      if (method !== 'GET' && access.scope !== 'admin') throw new ApiError(403, 'forbidden', 'this token may only read');
      let params: string[];
      try {
        params = match.slice(1).map((segment) => decodeURIComponent(segment));
      } catch {
        throw invalid('path: bad percent-encoding');
      }
      await handler({ req, res, params, body: () => readJsonBody(req, maxBodyBytes) });
      return;
    }
    throw notFound(`no such API path: ${path}`);
  }

  return async (req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path !== '/v1' && !path.startsWith('/v1/')) return false;
    try {
      await dispatch(req, res, path);
    } catch (err) {
      const error = asApiError(err);
      if (error.status >= 500) log.error({ err, method: req.method, path }, 'API call failed');
      const headers: Record<string, string> = {};
      if ('allow' in error && typeof error.allow === 'string') headers.allow = error.allow;
      // An unread body stays on the connection (a caller without a token, a 413): answer, close, and read no
      // more of it. Node would otherwise read and discard the whole body, however large, after the answer.
      if (!req.complete) {
        headers.connection = 'close';
        lingeringClose(req.socket);
      }
      if (!res.headersSent) sendError(res, error, headers);
      else res.destroy();
    }
    metrics.apiRequests.inc({ method: req.method ?? 'GET', status: String(res.statusCode) });
    log.debug({ method: req.method, path, status: res.statusCode }, 'api');
    return true;
  };
}

/** How long a connection whose body was left unread stays half-closed before it is cut. */
const LINGER_MS = 3_000;

/**
 * Node closes a `connection: close` answer's socket as soon as the answer is written. With the body still
 * arriving, that close is a reset, and a reset can reach the client before it has read the answer (the
 * client sees EPIPE and an empty reply). Instead: read no more, send the answer and FIN, and cut the
 * connection only after `LINGER_MS`, so the caller can read its 401 or 413 in the meantime.
 */
function lingeringClose(socket: Socket): void {
  socket.pause();
  socket.destroySoon = function (this: Socket) {
    this.end();
    setTimeout(() => this.destroy(), LINGER_MS).unref();
  };
}
