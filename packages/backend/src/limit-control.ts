import { LimitController, StaticLimit, type LimitAdjustment, type LimitControl, type Sample, type SampleContext } from '@overlay/admission';
import { controllerOptions, type LimitsConfig } from './config.js';

/**
 * An origin's limit control that a config push can replace in place: the OriginLimit (and with it the
 * count of requests in flight) stays, only the law that sets the limit changes.
 */
export class ReplaceableLimit implements LimitControl {
  private inner: LimitControl;
  private config: string;

  constructor(
    limits: LimitsConfig,
    private readonly onAdjust: (adjustment: LimitAdjustment) => void,
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

  /** A new law when the limits config changed (an adaptive one starts over with a probe); true if replaced. */
  apply(limits: LimitsConfig): boolean {
    const config = JSON.stringify(limits);
    if (config === this.config) return false;
    this.config = config;
    this.inner = this.build(limits);
    return true;
  }

  /** The adaptive controller's view (baseline, sample, goodput), when adaptive. */
  get snapshot(): LimitController['snapshot'] | undefined {
    return this.inner instanceof LimitController ? this.inner.snapshot : undefined;
  }

  private build(limits: LimitsConfig): LimitControl {
    if (!limits.adaptive) return new StaticLimit(limits.initial);
    return new LimitController(controllerOptions(limits), { onAdjust: this.onAdjust });
  }
}
