import type { Clock } from '@overlay/common';

/**
 * Events per second over a sliding bucket: the previous bucket's count weighted by how much of it still
 * overlaps the window, plus the current one's. Two counters, whatever the rate.
 */
export class RateMeter {
  private bucketStart: number;
  private current = 0;
  private previous = 0;

  constructor(
    private readonly bucketMs: number,
    private readonly now: Clock,
  ) {
    this.bucketStart = now();
  }

  record(count = 1): void {
    this.roll();
    this.current += count;
  }

  perSecond(): number {
    const now = this.roll();
    const overlap = 1 - (now - this.bucketStart) / this.bucketMs;
    return ((this.previous * overlap + this.current) * 1000) / this.bucketMs;
  }

  private roll(): number {
    const now = this.now();
    const passed = Math.floor((now - this.bucketStart) / this.bucketMs);
    if (passed >= 1) {
      this.previous = passed === 1 ? this.current : 0;
      this.current = 0;
      this.bucketStart += passed * this.bucketMs;
    }
    return now;
  }
}
