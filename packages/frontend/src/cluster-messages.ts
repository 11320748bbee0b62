import type { AddressInfo } from 'node:net';
import type { FrontEndConfig, FrontEndState } from './config.js';
import type { FrontEndStatus } from './gateway.js';

/** IPC between the cluster primary and its workers (seed 004: several workers behind one address and port). */
export type PrimaryMessage =
  /** `logLevel`: the primary's, so a worker logs (or keeps quiet) as its primary does. */
  /** `ticketKeys` (base64): every worker resumes the TLS sessions any other worker made. */
  | { type: 'overlay-frontend:start'; config: FrontEndConfig; worker: number; logLevel: string; ticketKeys: string }
  | { type: 'overlay-frontend:update'; seq: number; state: FrontEndState }
  /** A reload: read the configured certificate files again (answered with `updated`). */
  | { type: 'overlay-frontend:certificates'; seq: number; https: FrontEndConfig['https'] }
  | { type: 'overlay-frontend:close' };

export type WorkerMessage =
  /** The worker listens for commands: the primary may send `start`. */
  | { type: 'overlay-frontend:hello' }
  | { type: 'overlay-frontend:ready'; http: AddressInfo; https: AddressInfo | undefined; tcp: Record<string, AddressInfo> }
  | { type: 'overlay-frontend:failed'; message: string }
  | { type: 'overlay-frontend:updated'; seq: number; tcp: Record<string, AddressInfo>; error?: string }
  /** Every `clusterTimings.statusIntervalMs` while serving: what the primary merges into its own status. */
  | { type: 'overlay-frontend:status'; status: FrontEndStatus };

/** True for this package's messages (the IPC channel also carries prom-client's and cluster's own). */
export function isOverlayMessage(message: unknown): message is PrimaryMessage | WorkerMessage {
  const type = (message as { type?: unknown } | null)?.type;
  return typeof type === 'string' && type.startsWith('overlay-frontend:');
}
