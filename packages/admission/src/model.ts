/**
 * A simulated origin for tests and benchmarks: service time is constant up to `capacity` concurrent
 * requests; past it the origin shares itself among them (latency grows in proportion, throughput stays
 * flat) and, with `collapseFactor` > 0, also thrashes (throughput falls), as seed 000 says servers do
 * when they try to process everything at once.
 */
export interface OriginModel {
  /** Concurrent requests served at full speed. */
  capacity: number;
  /** Service time of one request at or below capacity, ms. */
  serviceTimeMs: number;
  /**
   * Throughput lost per capacity's worth of excess concurrency: at 2 × capacity throughput is
   * 1 / (1 + collapseFactor) of the peak. 0 = no collapse.
   */
  collapseFactor: number;
}

/** Service time of each of `concurrency` requests in flight at once, ms. */
export function modelServiceTimeMs(model: OriginModel, concurrency: number): number {
  const { capacity, serviceTimeMs, collapseFactor } = model;
  if (concurrency <= capacity) return serviceTimeMs;
  const excess = (concurrency - capacity) / capacity;
  return serviceTimeMs * (concurrency / capacity) * (1 + collapseFactor * excess);
}

/** Completed requests/s with `concurrency` requests kept in flight (Little's law). */
export function modelThroughputPerSec(model: OriginModel, concurrency: number): number {
  return concurrency > 0 ? (concurrency * 1000) / modelServiceTimeMs(model, concurrency) : 0;
}
