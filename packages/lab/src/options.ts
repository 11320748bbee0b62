import { OverlayError } from '@overlay/common';

export interface LabOptions {
  /** One-way delay added to every packet crossing the long leg (near side <-> far side), ms. Default 40. */
  delayMs?: number;
  /** Extra one-way delay drawn uniformly from 0..jitterMs per packet; packet order is kept. Default 0. */
  jitterMs?: number;
  /** Long-leg rate each way, Mbit/s; 0 = no cap. Default 0. */
  rateMbit?: number;
  /** Bottleneck queue each way, bytes (drop-tail past it). Default: max(64 KiB, one bandwidth-delay product). */
  queueBytes?: number;
  /** Random loss each way on the long leg, percent of packets (netem's `loss random`). Default 0. */
  lossPct?: number;
  /** Hosts on the near side of the long leg (clients and POPs). Default ['client', 'pop-a', 'pop-b']. */
  near?: string[];
  /** Hosts on the far side (back-ends and origins). Default ['back-end', 'origin-1', 'origin-2']. */
  far?: string[];
}

export const defaultLabOptions = Object.freeze({
  delayMs: 40,
  jitterMs: 0,
  rateMbit: 0,
  lossPct: 0,
  near: Object.freeze(['client', 'pop-a', 'pop-b']),
  far: Object.freeze(['back-end', 'origin-1', 'origin-2']),
});

/** Floor of the default bottleneck queue, bytes: a few dozen full-size packets. */
export const MIN_DEFAULT_QUEUE_BYTES = 64 * 1024;
/** Hosts per side: addresses .11 … .(10 + n) on a /24. */
export const MAX_HOSTS_PER_SIDE = 200;
/** Host names become part of namespace names; keep them short and shell-safe. */
const HOST_NAME = /^[a-z0-9](?:[a-z0-9-]{0,22}[a-z0-9])?$/;

/** One bandwidth-delay product of the long leg (rate × round trip), bytes; 0 when uncapped. */
export function bandwidthDelayBytes(rateMbit: number, delayMs: number): number {
  return Math.ceil(((rateMbit * 1e6) / 8) * ((2 * delayMs) / 1000));
}

function invalid(field: string, message: string): never {
  throw new OverlayError('ERR_LAB_OPTIONS', `lab option ${field}: ${message}`, { origin: 'config' });
}

function nonNegative(field: string, value: number): number {
  if (!Number.isFinite(value) || value < 0) invalid(field, `must be a finite number >= 0, got ${value}`);
  return value;
}

function hostList(field: string, names: readonly string[]): string[] {
  if (!Array.isArray(names) || names.length === 0) invalid(field, 'must name at least one host');
  if (names.length > MAX_HOSTS_PER_SIDE) invalid(field, `at most ${MAX_HOSTS_PER_SIDE} hosts`);
  for (const name of names) {
    if (typeof name !== 'string' || !HOST_NAME.test(name) || name === 'router') {
      invalid(field, `host name ${JSON.stringify(name)} must be 1-24 of [a-z0-9-] and not "router"`);
    }
  }
  return [...names];
}

/** Fills in defaults and checks every option; throws ERR_LAB_OPTIONS naming the bad field. */
export function resolveLabOptions(options: LabOptions = {}): Required<LabOptions> {
  const delayMs = nonNegative('delayMs', options.delayMs ?? defaultLabOptions.delayMs);
  const jitterMs = nonNegative('jitterMs', options.jitterMs ?? defaultLabOptions.jitterMs);
  const rateMbit = nonNegative('rateMbit', options.rateMbit ?? defaultLabOptions.rateMbit);
  const queueBytes = options.queueBytes ?? Math.max(MIN_DEFAULT_QUEUE_BYTES, bandwidthDelayBytes(rateMbit, delayMs));
  if (!Number.isInteger(queueBytes) || queueBytes < 1500) invalid('queueBytes', `must be an integer >= 1500 (one packet), got ${queueBytes}`);
  const lossPct = nonNegative('lossPct', options.lossPct ?? defaultLabOptions.lossPct);
  if (lossPct >= 100) invalid('lossPct', `must be below 100, got ${lossPct}`);
  const near = hostList('near', options.near ?? defaultLabOptions.near);
  const far = hostList('far', options.far ?? defaultLabOptions.far);
  const all = [...near, ...far];
  const duplicate = all.find((name, index) => all.indexOf(name) !== index);
  if (duplicate) invalid('near/far', `host ${duplicate} is named twice`);
  return { delayMs, jitterMs, rateMbit, queueBytes, lossPct, near, far };
}
