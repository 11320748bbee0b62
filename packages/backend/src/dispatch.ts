import { AdmissionErrorCode } from '@overlay/admission';
import { errorCode, type OverlayError } from '@overlay/common';
import type { StreamExchange } from './exchange.js';
import { OriginLease } from './lease.js';
import type { SiteRuntime } from './site.js';

/**
 * One try at an origin with a slot already granted. Resolves `undefined` once the stream has been dealt
 * with (answered, relayed, or abandoned because the front-end left), or with the connect error when the
 * origin could not even be reached: nothing was sent, so another origin may be tried.
 */
/** What a first try excludes: nothing (shared, never written). */
const NONE_TRIED: ReadonlySet<string> = new Set();

export type OriginAttempt = (lease: OriginLease) => Promise<OverlayError | undefined>;

/**
 * Waits in the route's FIFO queue for an origin with a free slot (seed 000), runs `attempt` on it, and after
 * a connect failure tries up to `pool.connectRetries` other available origins of the same list. Queue
 * errors (timeout, full, no healthy origin) and a final connect failure become error answers.
 */
export async function dispatchToOrigin(exchange: StreamExchange, site: SiteRuntime, attempt: OriginAttempt): Promise<void> {
  const { gateway, request, gone } = exchange;
  const route = site.route(request.path);
  let tried: Set<string> | undefined; // made on the first connect failure only
  for (;;) {
    let lease: OriginLease;
    try {
      const grant = await route.queue.submit(site.picker(request, tried ?? NONE_TRIED), { signal: gone, rank: site.ranker.rank(request) });
      const origin = gateway.origins.of(grant.origin);
      if (!origin) {
        grant.release({ latencyMs: 0, ok: true, bytes: 0 });
        throw new Error(`origin ${grant.origin.id} is no longer configured`);
      }
      gateway.metrics.queueWait.observe({ site: exchange.site }, grant.waitedMs / 1000);
      lease = new OriginLease(grant, origin, site.track(origin.id, request), gateway.health);
    } catch (err) {
      if (errorCode(err) !== AdmissionErrorCode.aborted) exchange.answerError(err);
      return;
    }
    const connectFailure = await attempt(lease);
    if (!connectFailure || gone.aborted) return;
    const failed = (tried ??= new Set()).add(lease.origin.id);
    const another = route.origins.some((origin) => !failed.has(origin.id) && gateway.health.isAvailable(origin.id));
    if (failed.size > gateway.state.pool.connectRetries || !another) {
      exchange.answerError(connectFailure, lease.origin.id);
      return;
    }
    gateway.log.info({ site: exchange.site, origin: lease.origin.id, reason: connectFailure.message }, 'origin unreachable; trying another');
  }
}
