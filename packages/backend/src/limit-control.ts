import { LimitController, StaticLimit, type LimitAdjustment, type LimitControl, type Sample, type SampleContext } from '@overlay/admission';
import { controllerOptions, type LimitsConfig } from './config.js';

/**
 * An origin's limit control that a config push can replace in place: the OriginLimit (and with it the
 * count of requests in flight) stays, only the law that sets the limit changes.
 */
export class ReplaceableLimit implements LimitControl {
  private inner: LimitControl;
  private config: string;
  private ceiling = Infinity;

  /** `longLived`: TCP origins, whose connections are judged by accept latency without probes. */
  constructor(
    limits: LimitsConfig,
    private readonly onAdjust: (adjustment: LimitAdjustment) => void,
    private readonly longLived = false,
  ) {
    this.inner = this.build(limits);
    this.config = JSON.stringify(limits);
  }

  get limit(): number {
    return this.inner.limit;
  }

  onSample(sample: Sample, context: SampleContext): void {
    this.inner.onSample(sample, context);
  }

  /** This back-end's share of the origin's budget; a replaced law starts inside it too. */
  setCeiling(ceiling: number): void {
    this.ceiling = ceiling;
    this.inner.setCeiling?.(ceiling);
  }

  /** A new law when the limits config changed (an adaptive one starts over with a probe); true if replaced. */
  apply(limits: LimitsConfig): boolean {
    const config = JSON.stringify(limits);
    if (config === this.config) return false;
    this.config = config;
    this.inner = this.build(limits);
    this.inner.setCeiling?.(this.ceiling);
    return true;
  }

  /** The adaptive controller's view (baseline, sample, goodput), when adaptive. */
  get snapshot(): LimitController['snapshot'] | undefined {
    return this.inner instanceof LimitController ? this.inner.snapshot : undefined;
  }

  private build(limits: LimitsConfig): LimitControl {
    if (!limits.adaptive) return new StaticLimit(limits.initial);
    const options = controllerOptions(limits);
    return new LimitController(this.longLived ? { ...options, probing: false } : options, { onAdjust: this.onAdjust });
  }
}
