import { priorityRulesSchema } from '@overlay/classifier';
import { hostHeaderSchema, siteHealthCheckSchema } from '@overlay/common';
import { z } from 'zod';
import { zoneRecordSchema } from './zone-records.js';
import { managerLimits } from './defaults.js';
import { domainSchema, gatewayIdSchema, hostPortSchema } from './names.js';
import { originSchema, qosTargetSchema, queueReleaseSchema, ringsBodySchema, routeSchema } from './site-schema.js';

/** Which part of the configuration a manager owns (docs/manager.md "Roles"). */
export const managerRoleSchema = z.enum(['front-end', 'back-end', 'both']);
export type ManagerRole = z.output<typeof managerRoleSchema>;

export const subscriberRoleSchema = z.enum(['front-end', 'back-end', 'redirector']);
export type SubscriberRole = z.output<typeof subscriberRoleSchema>;

/** Where a gateway can be reached, as `host:port`. */
export const gatewayAddressesSchema = z.strictObject({
  http: hostPortSchema.optional(),
  tunnel: hostPortSchema.optional(),
  admin: hostPortSchema.optional(),
  dns: hostPortSchema.optional(),
});
export type GatewayAddresses = z.output<typeof gatewayAddressesSchema>;

/** First message of a subscriber: who it is. Gateways are registered by it. */
export const helloSchema = z.strictObject({
  type: z.literal('hello'),
  role: subscriberRoleSchema,
  id: gatewayIdSchema,
  pop: z.string().min(1).max(128).optional(),
  addresses: gatewayAddressesSchema.default({}),
  /** A back-end whose tunnel listener is TLS: front-ends dial it with their `manager.tunnelTls`. */
  tunnelTls: z.boolean().optional(),
});
export type Hello = z.output<typeof helloSchema>;
export type HelloInput = z.input<typeof helloSchema>;

/** One tunnel as its gateway measures it; `peer` is the gateway at the other end. */
export const tunnelReportSchema = z.strictObject({
  peer: gatewayIdSchema,
  rttMs: z.number().min(0).finite(),
  jitterMs: z.number().min(0).finite(),
  lossRate: z.number().min(0).max(1).optional(),
  throughputBps: z.number().min(0).finite(),
  connected: z.boolean(),
  /** Why a tunnel that is not connected cannot come up (the last connection failure), as the gateway saw it. */
  error: z.string().max(512).optional(),
});
export type TunnelReport = z.output<typeof tunnelReportSchema>;

/** One origin as a back-end sees it; free-form beyond the id, shown as sent. */
export const originReportSchema = z.looseObject({ id: z.string().min(1).max(256) });

const ringBytesSchema = z.array(z.number().min(0).finite()).length(5);

/** What a gateway sends every ~2 s. `load` is the fraction of capacity in use; above 1 counts as 1. */
export const reportSchema = z.strictObject({
  type: z.literal('report'),
  load: z.number().min(0).finite(),
  healthy: z.boolean(),
  tunnels: z.array(tunnelReportSchema).max(managerLimits.maxTunnelsPerReport),
  ringBytes: ringBytesSchema,
  origins: z.array(originReportSchema).max(managerLimits.maxOriginsPerReport).optional(),
});
export type Report = z.output<typeof reportSchema>;
/** A report as a gateway hands it to `subscribe().report()`: the `type` is added for it. */
export type ReportInput = Omit<z.input<typeof reportSchema>, 'type'>;

export const subscriberMessageSchema = z.discriminatedUnion('type', [helloSchema, reportSchema]);

/** A site as pushed: `frontEnds`/`backEnds` include the gateways the capacity reaction added. */
export const siteStateSchema = z.object({
  domains: z.array(domainSchema),
  mode: z.enum(['http', 'tcp']),
  origins: z.array(originSchema),
  routes: z.array(routeSchema),
  frontEnds: z.array(gatewayIdSchema),
  backEnds: z.array(gatewayIdSchema),
  listen: hostPortSchema.optional(),
  qosTarget: qosTargetSchema.optional(),
  /** PEM; the feed carries the key to the front-ends that serve the site (the API never shows it). */
  certificate: z.object({ cert: z.string(), key: z.string() }).optional(),
  proxyProtocol: z.union([z.literal(1), z.literal(2)]).optional(),
  originHost: hostHeaderSchema.optional(),
  healthCheck: siteHealthCheckSchema.optional(),
  queueRelease: queueReleaseSchema.optional(),
  priorities: priorityRulesSchema.required({ default: true }),
});

/** A gateway as pushed: registration (hello), health and the latest report. */
export const gatewayStateSchema = z.object({
  pop: z.string().optional(),
  addresses: gatewayAddressesSchema,
  tunnelTls: z.boolean().optional(),
  /** Reported healthy and reporting within `reportTimeoutMs`. */
  healthy: z.boolean(),
  load: z.number().min(0).max(1),
  /** Wall-clock time of the latest report (ms since the epoch), null before the first. */
  lastReport: z.number().nullable(),
  tunnels: z.array(tunnelReportSchema),
  ringBytes: ringBytesSchema,
  /** Back-ends: their share of each budgeted origin's `maxConcurrency`, by origin URL (origin-budget.ts). */
  originShares: z.record(z.string(), z.number().int().min(0)).optional(),
});

/** Everything a subscriber needs, sent whole on every change (docs/manager.md "Feed protocol"). */
export const managerStateSchema = z.object({
  version: z.number().int().min(0),
  /** The sender's role: fields it does not own carry neutral values (empty lists, default rules). */
  role: managerRoleSchema,
  sites: z.record(z.string(), siteStateSchema),
  /** Ring weights and, when set through the API, the tunnel packet size (bytes) for the blenders. */
  rings: ringsBodySchema,
  /** Zone apex → static records for the redirector (zone-records.ts); older managers send none. */
  zoneRecords: z.record(z.string(), z.array(zoneRecordSchema)).default({}),
  frontEnds: z.record(z.string(), gatewayStateSchema),
  backEnds: z.record(z.string(), gatewayStateSchema),
});

export type ManagerState = z.output<typeof managerStateSchema>;
export type SiteState = z.output<typeof siteStateSchema>;
export type GatewayState = z.output<typeof gatewayStateSchema>;

/** What the manager sends on the feed. */
const patchPathSchema = z.union([z.tuple([z.string()]), z.tuple([z.string(), z.string()])]);

export const feedMessageSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('snapshot'), version: z.number(), state: managerStateSchema }),
  /**
   * What changed since version `from` (feed-patch.ts): whole top-level fields or keyed entries set, others
   * unset. A subscriber holding another version reconnects and gets a snapshot.
   */
  z.object({
    type: z.literal('patch'),
    version: z.number(),
    from: z.number(),
    set: z.array(z.tuple([patchPathSchema, z.unknown()])),
    unset: z.array(patchPathSchema),
  }),
  /** Answer to `?since=V` when V is current: the subscriber's state is still whole. */
  z.object({ type: z.literal('resumed'), version: z.number() }),
  z.object({ type: z.literal('error'), code: z.string(), message: z.string() }),
]);
export type FeedMessage = z.output<typeof feedMessageSchema>;
