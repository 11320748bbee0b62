import { HealthTracker, type HealthChange, type HealthOptions, type HealthStatus, type OriginHealthView, type RequestOutcome } from '@overlay/balancer';
import { Agent } from 'undici';
import type { HealthConfig, SiteHealthCheck } from './config.js';
import type { OriginRuntime } from './origin.js';
import { probeHttp, probeTcp, type HttpProbe } from './probe.js';

/** HealthTracker's own time-driven checks (silence, end of a passive hold) run this often, ms. */
const TICK_MS = 1_000;

/** How one origin is probed: its site's `healthCheck` over the gateway-wide `health` settings. */
export interface OriginCheck extends SiteHealthCheck {
  /** `Host` of the probe: the site's `originHost` when it has one. */
  host?: string;
}

interface EffectiveCheck extends HttpProbe {
  intervalMs: number;
}

function trackerOptions(health: HealthConfig): Partial<HealthOptions> {
  const { rise, fall, passiveFailures, passiveHoldMs, silenceMs, slowStartMs } = health;
  return { rise, fall, passiveFailures, passiveHoldMs, silenceMs, slowStartMs };
}

/**
 * Origin health for the whole gateway (seed 003): active probes every `intervalMs` (GET `path` on HTTP
 * origins, a connect on TCP ones; a site's `healthCheck` overrides path, interval, timeout and the
 * statuses that count as healthy for its origins, and may name a freshness header to read from healthy
 * answers) with rise/fall counts, plus what real requests report. Down origins keep
 * being probed: only probes bring them back. Every state change goes to `onChange`.
 */
export class HealthMonitor implements OriginHealthView {
  private tracker: HealthTracker;
  private settings: HealthConfig;
  private origins: OriginRuntime[] = [];
  private readonly probing = new Set<OriginRuntime>();
  private checks: ReadonlyMap<string, OriginCheck> = new Map();
  /** What each origin's last healthy probe answer said of its content (`healthCheck.freshness`), s. */
  private readonly contentFreshness = new Map<string, number>();
  /** When each origin was last probed (monotonic ms), so origins with longer intervals skip ticks. */
  private readonly lastProbe = new Map<string, number>();
  private tickMs = 0;
  private readonly agent = new Agent({ connections: 1, pipelining: 1 });
  private probeTimer: NodeJS.Timeout | undefined;
  private readonly tickTimer: NodeJS.Timeout;
  private unsubscribe: () => void;
  private closed = false;

  constructor(
    settings: HealthConfig,
    private readonly onChange: (change: HealthChange) => void,
  ) {
    this.settings = settings;
    this.tracker = new HealthTracker({ options: trackerOptions(settings) });
    this.unsubscribe = this.tracker.onChange(onChange);
    this.tickTimer = setInterval(() => this.tracker.tick(), TICK_MS);
    this.tickTimer.unref();
  }

  /**
   * Watches exactly `origins` with `settings`. `fresh` ids (new origins, or a new URL for an id) start up
   * with no history. New tracker options keep each origin's up/down state.
   */
  apply(origins: OriginRuntime[], settings: HealthConfig, fresh: readonly string[], checks: ReadonlyMap<string, OriginCheck> = new Map()): void {
    const ids = origins.map((origin) => origin.id);
    if (JSON.stringify(trackerOptions(settings)) !== JSON.stringify(trackerOptions(this.settings))) this.rebuildTracker(settings);
    this.tracker.setOrigins(ids.filter((id) => !fresh.includes(id)));
    this.tracker.setOrigins(ids);
    for (const id of fresh) this.lastProbe.delete(id);
    this.settings = settings;
    this.origins = origins;
    this.checks = checks;
    // A new origin, a gone one, or one no longer asked for freshness: nothing known of its content.
    for (const id of this.contentFreshness.keys()) {
      if (fresh.includes(id) || !ids.includes(id) || !checks.get(id)?.freshness) this.contentFreshness.delete(id);
    }
    // The timer ticks at the shortest interval in use; each origin is probed when its own one has passed.
    const tickMs = Math.min(settings.intervalMs, ...origins.map((origin) => this.checkOf(origin).intervalMs));
    if (tickMs !== this.tickMs || this.probeTimer === undefined) this.schedule(tickMs);
  }

  private checkOf(origin: OriginRuntime): EffectiveCheck {
    const check = this.checks.get(origin.id);
    const { path, timeoutMs, intervalMs } = this.settings;
    return {
      path: check?.path ?? path,
      timeoutMs: check?.timeoutMs ?? timeoutMs,
      intervalMs: check?.intervalMs ?? intervalMs,
      ...(check?.expectStatus ? { expectStatus: check.expectStatus } : {}),
      ...(check?.host ? { host: check.host } : {}),
      ...(check?.freshness ? { freshnessHeader: check.freshness.header } : {}),
    };
  }

  freshness(id: string): number | undefined {
    return this.contentFreshness.get(id);
  }

  isAvailable(id: string): boolean {
    return this.tracker.isAvailable(id);
  }

  weightFactor(id: string): number {
    return this.tracker.weightFactor(id);
  }

  status(id: string): HealthStatus | undefined {
    return this.tracker.status(id);
  }

  requestStarted(id: string): void {
    this.tracker.requestStarted(id);
  }

  requestEnded(id: string, outcome: RequestOutcome, detail?: string): void {
    this.tracker.requestEnded(id, outcome, detail);
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.tickTimer);
    clearInterval(this.probeTimer);
    this.unsubscribe();
    await this.agent.destroy();
  }

  private schedule(tickMs: number): void {
    clearInterval(this.probeTimer);
    this.tickMs = tickMs;
    this.probeTimer = setInterval(() => this.probeAll(), tickMs);
    this.probeTimer.unref();
    setImmediate(() => this.probeAll());
  }

  private probeAll(): void {
    if (this.closed) return;
    const now = performance.now();
    for (const origin of this.origins) {
      if (this.probing.has(origin)) continue;
      const check = this.checkOf(origin);
      const last = this.lastProbe.get(origin.id);
      // Half a tick of slack: timers fire a little late, and a probe due by then is due now.
      if (last !== undefined && now - last < check.intervalMs - this.tickMs / 2) continue;
      this.lastProbe.set(origin.id, now);
      this.probing.add(origin);
      const probe = origin.kind === 'tcp' ? probeTcp(origin, check.timeoutMs) : probeHttp(this.agent, origin, check);
      void probe.then((result) => {
        this.probing.delete(origin);
        if (this.closed) return;
        // Only a healthy answer speaks for the content: a failed probe keeps what the last good one said.
        // A probe sent before a config change that dropped the origin or its freshness header says nothing now.
        const stillAsked = this.origins.includes(origin) && this.checkOf(origin).freshnessHeader === check.freshnessHeader;
        if (result.ok && check.freshnessHeader !== undefined && stillAsked) {
          if (result.freshness === undefined) this.contentFreshness.delete(origin.id);
          else this.contentFreshness.set(origin.id, result.freshness);
        }
        this.tracker.probeResult(origin.id, result.ok, result.detail);
      });
    }
  }

  /** A tracker with new options that starts where the old one was: down origins stay down, quietly. */
  private rebuildTracker(settings: HealthConfig): void {
    const previous = this.tracker;
    this.unsubscribe();
    this.tracker = new HealthTracker({ origins: previous.ids(), options: trackerOptions(settings) });
    for (const id of previous.ids()) {
      if (previous.isAvailable(id)) continue;
      for (let i = 0; i < settings.fall; i++) this.tracker.probeResult(id, false, 'carried over a health settings change');
    }
    this.unsubscribe = this.tracker.onChange(this.onChange);
  }
}
