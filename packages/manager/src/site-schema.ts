import { createPrivateKey, X509Certificate } from 'node:crypto';
import {
  hostHeaderSchema, originUrlProblem, ORIGIN_SCHEMES as SCHEMES, packetSizeSchema, ringsStateSchema, ringWeightsSchema, siteHealthCheckSchema, type RingsState, type SiteMode,
} from '@overlay/common';
import { z } from 'zod';
import { managerLimits } from './defaults.js';
import { domainSchema, gatewayIdSchema, hostPortSchema } from './names.js';

export type { SiteMode };

export const originSchema = z.strictObject({
  url: z.string().max(2048).superRefine((text, ctx) => {
    const problem = originUrlProblem(text);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  }),
  /** Name the back-end reports the origin under; default host:port of the URL (decided by the back-end). */
  id: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9.:_[\]-]{0,127}$/, 'letters, digits, . : _ - [ ] (at most 128)').optional(),
  /** Share of the work relative to the list's other origins. */
  weight: z.number().positive().finite().optional(),
  /** Primaries get all the work until every one is saturated or down (seed 001). */
  primary: z.boolean().optional(),
  /**
   * The origin's concurrency budget, requests: the back-ends serving it never have more in service at
   * once; the manager splits it among them by demand (docs/admission.md).
   */
  maxConcurrency: z.number().int().min(1).max(65_535).optional(),
});

const originListSchema = z.array(originSchema).min(1).max(managerLimits.maxOriginsPerList);

export const routeSchema = z.strictObject({
  pathPrefix: z.string().min(1).max(2048).startsWith('/', 'must start with "/"'),
  origins: originListSchema,
});

/**
 * How the back-ends release the site's queued requests instead of FIFO (seed 001): by request type in the
 * order given, or by size (what the path answered last, smallest first). docs/admission.md.
 */
export const queueReleaseSchema = z.discriminatedUnion('by', [
  z.strictObject({ by: z.literal('type'), order: z.array(z.enum(['static', 'dynamic', 'media', 'other'])).min(1).max(4) }),
  z.strictObject({ by: z.literal('size') }),
]);

/** The QoS a site asks for; the capacity reaction assigns more gateways while it is not met. */
export const qosTargetSchema = z
  .strictObject({
    /** Mean tunnel RTT between the site's front-ends and back-ends, ms. */
    maxRttMs: z.number().positive().finite().optional(),
    /** Mean load (0..1) of the site's healthy gateways of each kind. */
    maxLoad: z.number().gt(0).max(1).optional(),
  })
  .refine((target) => target.maxRttMs !== undefined || target.maxLoad !== undefined, 'give maxRttMs, maxLoad or both');

/** Why a PEM certificate and key cannot be served together, or undefined. */
function certificateProblem(cert: string, key: string): { field: 'cert' | 'key'; message: string } | undefined {
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(cert);
  } catch {
    return { field: 'cert', message: 'not a PEM certificate' };
  }
  try {
    if (!x509.checkPrivateKey(createPrivateKey(key))) return { field: 'key', message: 'does not match the certificate' };
  } catch {
    return { field: 'key', message: 'not a PEM private key' };
  }
  return undefined;
}

/**
 * A site's own TLS certificate (PEM, leaf first then its chain) and private key, pushed to the site's
 * front-ends, which serve it for the site's domains by SNI. GET shows the certificate, never the key.
 */
export const certificateSchema = z
  .strictObject({
    cert: z.string().max(256 * 1024).includes('-----BEGIN CERTIFICATE-----', { message: 'must be a PEM certificate' }),
    key: z.string().max(64 * 1024).regex(/-----BEGIN [A-Z ]*PRIVATE KEY-----/, 'must be a PEM private key'),
  })
  .superRefine((pem, ctx) => {
    const problem = certificateProblem(pem.cert, pem.key);
    if (problem) ctx.addIssue({ code: 'custom', path: [problem.field], message: problem.message });
  });

const gatewayListSchema = z
  .array(gatewayIdSchema)
  .max(managerLimits.maxGatewaysPerSite)
  .refine((ids) => new Set(ids).size === ids.length, 'lists a gateway twice');

/** Body of `PUT /v1/sites/{site}`; issue paths name the field, e.g. `origins[0].url`. */
export const siteBodySchema = z
  .strictObject({
    domains: z.array(domainSchema).min(1).max(managerLimits.maxDomainsPerSite),
    mode: z.enum(['http', 'tcp']).default('http'),
    origins: originListSchema,
    /** Longest matching path prefix picks the origin list (seed 002); HTTP sites only. */
    routes: z.array(routeSchema).max(managerLimits.maxRoutesPerSite).default([]),
    frontEnds: gatewayListSchema.default([]),
    backEnds: gatewayListSchema.default([]),
    /** TCP sites only: the front-ends' dedicated listener for this site. */
    listen: hostPortSchema.optional(),
    qosTarget: qosTargetSchema.optional(),
    /** HTTP sites: served on the front-ends' HTTPS listeners for `domains`. */
    certificate: certificateSchema.optional(),
    /** TCP sites: the back-ends start each origin connection with a PROXY header (v1 or v2) naming the client. */
    proxyProtocol: z.union([z.literal(1), z.literal(2)]).optional(),
    /** `Host` the origins get instead of the client's (which they get by default); HTTP sites only. */
    originHost: hostHeaderSchema.optional(),
    /** How the back-ends probe this site's origins (path, expected statuses, interval), instead of their own defaults. */
    healthCheck: siteHealthCheckSchema.optional(),
    queueRelease: queueReleaseSchema.optional(),
  })
  .superRefine((site, ctx) => {
    if (site.mode === 'http' && site.proxyProtocol !== undefined) ctx.addIssue({ code: 'custom', path: ['proxyProtocol'], message: 'only tcp sites: HTTP origin connections are pooled across clients' });
    if (site.mode === 'tcp' && site.certificate !== undefined) ctx.addIssue({ code: 'custom', path: ['certificate'], message: 'tcp sites are carried as raw bytes: no certificate' });
    if (site.mode === 'tcp' && site.originHost !== undefined) ctx.addIssue({ code: 'custom', path: ['originHost'], message: 'tcp sites send no Host' });
    if (site.mode === 'tcp' && (site.healthCheck?.path !== undefined || site.healthCheck?.expectStatus !== undefined || site.healthCheck?.freshness !== undefined)) {
      ctx.addIssue({ code: 'custom', path: ['healthCheck'], message: 'tcp origins are checked by a connect: only intervalMs and timeoutMs apply' });
    }
    const schemes = SCHEMES[site.mode];
    const checkOrigins = (origins: ReadonlyArray<{ url: string }>, path: Array<string | number>) =>
      origins.forEach((origin, index) => {
        if (originUrlProblem(origin.url) === undefined && !schemes.includes(new URL(origin.url).protocol)) {
          ctx.addIssue({ code: 'custom', path: [...path, index, 'url'], message: `a ${site.mode} site needs ${schemes.join(' or ').replace(/:/g, '')} origins` });
        }
      });
    checkOrigins(site.origins, ['origins']);
    site.routes.forEach((route, index) => checkOrigins(route.origins, ['routes', index, 'origins']));
    if (site.mode === 'tcp' && site.routes.length > 0) ctx.addIssue({ code: 'custom', path: ['routes'], message: 'tcp sites have no path routes' });
    if (site.mode === 'tcp' && site.listen === undefined) ctx.addIssue({ code: 'custom', path: ['listen'], message: 'a tcp site needs a listen address' });
    if (site.mode === 'http' && site.listen !== undefined) ctx.addIssue({ code: 'custom', path: ['listen'], message: 'only tcp sites have their own listener' });
    const seenDomains = new Set<string>();
    site.domains.forEach((domain, index) => {
      if (seenDomains.has(domain)) ctx.addIssue({ code: 'custom', path: ['domains', index], message: `"${domain}" is listed twice` });
      seenDomains.add(domain);
    });
    const seenPrefixes = new Set<string>();
    site.routes.forEach((route, index) => {
      if (seenPrefixes.has(route.pathPrefix)) ctx.addIssue({ code: 'custom', path: ['routes', index, 'pathPrefix'], message: `"${route.pathPrefix}" appears twice` });
      seenPrefixes.add(route.pathPrefix);
    });
  });

export type SiteBody = z.output<typeof siteBodySchema>;
export type SiteBodyInput = z.input<typeof siteBodySchema>;
export type Origin = z.output<typeof originSchema>;
export type Route = z.output<typeof routeSchema>;
export type QosTarget = z.output<typeof qosTargetSchema>;

export { packetSizeSchema, ringWeightsSchema };

/** Body of `PUT /v1/rings`: weights, and optionally the packet size and what each ring's traffic gets. */
export const ringsBodySchema = ringsStateSchema;
export type RingsBody = RingsState;
