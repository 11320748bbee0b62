import { silentLogger, type Logger } from '@overlay/common';

export interface DemoOriginOptions {
  /** Sent as `x-origin` on every response. */
  id: string;
  host: string;
  /** 0 picks a free port. */
  port: number;
  /**
   * Requests served at full speed at once; past it every request slows and total throughput falls
   * (see capacity.ts). Infinity (default) never thrashes.
   */
  capacity: number;
  /** Work per modelled request at full speed, ms; 0 (default) answers at once. */
  serviceMs: number;
  /** How fast throughput falls past capacity: 1 halves it at 2× capacity. */
  overloadPenalty: number;
  /** `work`: only `GET /work/{n}` goes through the capacity model; `all`: every route but /healthz and /ws. */
  capacityScope: 'work' | 'all';
  /** Open connections accepted at once; more are refused by the kernel backlog. */
  maxConnections: number;
  /** Idle keep-alive connections are closed after this, ms; longer than a gateway pool's idle timeout. */
  keepAliveTimeoutMs: number;
  /** Largest WebSocket message echoed, bytes. */
  maxWebSocketMessageBytes: number;
  /** Echo replies queued on a WebSocket before it stops reading, bytes. */
  maxWebSocketBufferedBytes: number;
  /** Ceiling for `/slow/{ms}`, ms. */
  maxSlowMs: number;
  log: Logger;
}

export const defaultDemoOriginOptions: Readonly<Omit<DemoOriginOptions, 'id'>> = Object.freeze({
  host: '127.0.0.1',
  port: 0,
  capacity: Infinity,
  serviceMs: 0,
  overloadPenalty: 1,
  capacityScope: 'work',
  maxConnections: 10_000,
  keepAliveTimeoutMs: 65_000,
  maxWebSocketMessageBytes: 16 * 1024 * 1024,
  maxWebSocketBufferedBytes: 4 * 1024 * 1024,
  maxSlowMs: 10 * 60_000,
  log: silentLogger,
});

export function verifyDemoOriginOptions(options: DemoOriginOptions): void {
  if (!options.id) throw new RangeError('demo origin id: required');
  if (!(options.capacity >= 1)) throw new RangeError('demo origin capacity: at least 1 (Infinity for no limit)');
  if (!(options.serviceMs >= 0) || !Number.isFinite(options.serviceMs)) throw new RangeError('demo origin serviceMs: finite, >= 0');
  if (!(options.overloadPenalty >= 0)) throw new RangeError('demo origin overloadPenalty: >= 0');
}
