/** The most recent `capacity` latencies of a window, and their percentile. Bounded whatever the traffic. */
export class LatencyWindow {
  private readonly values: Float64Array;
  private next = 0;
  private size = 0;

  constructor(capacity: number) {
    this.values = new Float64Array(capacity);
  }

  add(latencyMs: number): void {
    this.values[this.next] = latencyMs;
    this.next = (this.next + 1) % this.values.length;
    this.size = Math.min(this.size + 1, this.values.length);
  }

  get count(): number {
    return this.size;
  }

  /** Nearest-rank percentile (q in 0..1); undefined when empty. Sorting a copy is fine once per window. */
  percentile(q: number): number | undefined {
    if (this.size === 0) return undefined;
    const sorted = this.values.slice(0, this.size).sort();
    const rank = Math.min(this.size - 1, Math.max(0, Math.ceil(q * this.size) - 1));
    return sorted[rank];
  }

  clear(): void {
    this.next = 0;
    this.size = 0;
  }
}
