import type { AccessLogger, Logger } from '@overlay/common';
import type { BackEndState } from './config.js';
import type { HealthMonitor } from './health.js';
import type { BackEndMetrics } from './metrics.js';
import type { OriginRegistry } from './origins.js';
import type { SiteRuntime } from './site.js';

/** What every stream handler shares: the gateway's identity, its parts and the state in force. */
export interface Gateway {
  readonly id: string;
  readonly log: Logger;
  /** One info line per stream (config `accessLog`). */
  readonly accessLog: AccessLogger;
  readonly metrics: BackEndMetrics;
  readonly health: HealthMonitor;
  readonly origins: OriginRegistry;
  /** Read per request, so a config push applies to the next one at once. */
  site(name: string): SiteRuntime | undefined;
  readonly state: BackEndState;
}
