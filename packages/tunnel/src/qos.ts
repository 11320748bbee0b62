import { PACKET_BYTES } from './congestion.js';

/** What each end of a session reports to the other every qosIntervalMs (QOS frame, msgpack map). */
export interface QosReport {
  /** Smoothed RTT measured by the reporter's PINGs, ms; -1 before the first sample. */
  rttMs: number;
  /** RTT mean deviation, ms; -1 before the first sample. */
  jitterMs: number;
  /** Bytes per second the reporter wrote to / read from this connection over the last interval. */
  txBytesPerSec: number;
  rxBytesPerSec: number;
  /** Bytes waiting in the reporter's blender. */
  queuedBytes: number;
  /** Streams open on this connection. */
  streams: number;
  /** Bytes sent per priority ring since the session began. */
  ringBytes: number[];
  /** Reporter's load 0..1 (e.g. origin queue pressure at a back-end), -1 when unknown. */
  load: number;
  /**
   * Estimated fraction of the packets the reporter sent on this connection over the last interval that
   * were lost (congestion-control loss events × one packet, over the packets sent); -1 when it sent too
   * little to tell.
   */
  lossRate: number;
}

/** Fewer packets than this in an interval tell nothing about loss. */
const MIN_PACKETS_FOR_LOSS = 100;

/** The loss rate of an interval in which `sentBytes` left and `lossEvents` losses were seen; -1 when too little was sent. */
export function lossRateOf(lossEvents: number, sentBytes: number): number {
  const packets = sentBytes / PACKET_BYTES;
  if (packets < MIN_PACKETS_FOR_LOSS) return -1;
  return Math.min(1, lossEvents / packets);
}

export function emptyQosReport(): QosReport {
  return { rttMs: -1, jitterMs: -1, txBytesPerSec: 0, rxBytesPerSec: 0, queuedBytes: 0, streams: 0, ringBytes: [], load: -1, lossRate: -1 };
}

/** Takes only well-formed numbers from a peer's report; anything else keeps its default. */
export function readQosReport(value: unknown): QosReport {
  const report = emptyQosReport();
  if (!value || typeof value !== 'object') return report;
  const source = value as Record<string, unknown>;
  for (const key of ['rttMs', 'jitterMs', 'txBytesPerSec', 'rxBytesPerSec', 'queuedBytes', 'streams', 'load', 'lossRate'] as const) {
    const field = source[key];
    if (typeof field === 'number' && Number.isFinite(field)) report[key] = field;
  }
  if (Array.isArray(source.ringBytes)) report.ringBytes = source.ringBytes.slice(0, 16).filter((n): n is number => typeof n === 'number' && Number.isFinite(n));
  return report;
}
