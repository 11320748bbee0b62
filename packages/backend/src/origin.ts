import { OriginLimit, type LimitAdjustment } from '@overlay/admission';
import type { LimitsConfig, PoolConfig } from './config.js';
import { ReplaceableLimit } from './limit-control.js';
import { connectionFactory, OriginConnections } from './origin-connections.js';

export type OriginKind = 'http' | 'tcp';

/**
 * One origin server as the gateway uses it: its concurrency limit (seed 000, shared by every site and route
 * that names it), its keep-alive connection pool (seed 002) and where to reach it.
 */
export class OriginRuntime {
  readonly id: string;
  /** The URL as configured (a push with another URL for this id replaces the runtime). */
  readonly source: string;
  readonly url: URL;
  readonly kind: OriginKind;
  readonly host: string;
  readonly port: number;
  /** `Host` sent to the origin: the origin's own host (and port when not the default). */
  readonly hostHeader: string;
  readonly limit: OriginLimit;
  private readonly control: ReplaceableLimit;
  private currentPool: OriginConnections | undefined;
  private poolConfig = '';
  private readonly closing = new Set<Promise<void>>();

  constructor(
    id: string,
    url: string,
    limits: LimitsConfig,
    pool: PoolConfig,
    private readonly context: { onAdjust: (id: string, adjustment: LimitAdjustment) => void; onShareHeld: () => void; retireGraceMs: number },
  ) {
    this.id = id;
    this.source = url;
    this.url = new URL(url);
    this.kind = this.url.protocol === 'tcp:' ? 'tcp' : 'http';
    this.host = this.url.hostname.replace(/^\[(.*)\]$/, '$1');
    this.port = Number(this.url.port || (this.url.protocol === 'https:' ? 443 : 80));
    this.hostHeader = this.url.host;
    this.control = new ReplaceableLimit(limits, (adjustment) => context.onAdjust(id, adjustment), this.kind === 'tcp');
    this.limit = new OriginLimit(id, this.control, context.onShareHeld);
    this.applyPool(pool);
  }

  /** The connections new requests use; requests already sent keep the set they started on. */
  get pool(): OriginConnections {
    if (!this.currentPool) throw new Error(`origin ${this.id} is not an HTTP origin`);
    return this.currentPool;
  }

  get controllerSnapshot() {
    return this.control.snapshot;
  }

  /** Applies a config push; true when the limit law changed (waiting work may now be dispatched). */
  apply(limits: LimitsConfig, pool: PoolConfig): boolean {
    this.applyPool(pool);
    return this.control.apply(limits);
  }

  /** Closes the pool once its requests finish; `retireGraceMs` later whatever is left is cut. */
  async close(): Promise<void> {
    this.retirePool();
    await Promise.all(this.closing);
  }

  /** Closes idle origin connections past the current limit (seed 000 [0040]: shrink only by idle ones). */
  trimConnections(): void {
    this.currentPool?.trim();
  }

  /** Origin connections open or in use (HTTP origins; TCP ones hold one per client connection). */
  get connections(): number {
    return this.currentPool?.size ?? this.limit.inFlight;
  }

  private applyPool(pool: PoolConfig): void {
    if (this.kind !== 'http') return;
    const config = JSON.stringify(pool);
    if (config === this.poolConfig) return;
    this.retirePool();
    this.poolConfig = config;
    // One request per connection at a time, as many connections as the limit lets requests in (seed 000).
    const open = connectionFactory(this.url, {
      connectTimeoutMs: pool.connectTimeoutMs,
      headersTimeoutMs: pool.responseTimeoutMs,
      bodyTimeoutMs: pool.bodyTimeoutMs,
      idleTimeoutMs: pool.idleTimeoutMs,
    });
    this.currentPool = new OriginConnections(open, () => this.limit.limit);
  }

  private retirePool(): void {
    const pool = this.currentPool;
    if (!pool) return;
    this.currentPool = undefined;
    const timer = setTimeout(() => void pool.destroy().catch(() => {}), this.context.retireGraceMs);
    timer.unref();
    const closed = pool
      .close()
      .catch(() => {})
      .finally(() => {
        clearTimeout(timer);
        this.closing.delete(closed);
      });
    this.closing.add(closed);
  }
}
