import type { Change, DurableState, GatewayKind } from './durable.js';
import type { Report } from './feed-schema.js';

/** A gateway's latest report, as replicas pass it to each other. */
export type ReportListener = (kind: GatewayKind, id: string, report: Report) => void;

/** An append refused because another replica appended first; the store has handed its changes over. */
export const STORE_CONFLICT = 'ERR_STORE_CONFLICT';

/**
 * Where the manager keeps what must survive restarts and crashes. The manager calls these one at a
 * time, never concurrently, and answers a write only after `append` resolved, so a resolved append
 * must already be durable. `FileStore` is the embedded default; `EtcdStore` is shared by replicas and
 * adds `follow` and `lead` (docs/manager.md "Store").
 */
export interface Store {
  /** Reads everything stored: the latest snapshot with the later changes applied. */
  load(): Promise<DurableState>;
  /** Stores one change durably before resolving. */
  append(change: Change): Promise<void>;
  /** Replaces everything appended so far by this state, so loading stays quick. */
  compact(state: DurableState): Promise<void>;
  close(): Promise<void>;
  /**
   * Replicated stores: receives, in order, the changes other replicas stored after `load`. An `append`
   * that lost the race to one of them rejects with code STORE_CONFLICT after handing them over.
   */
  follow?(apply: (change: Change) => void): void;
  /** Replicated stores: campaigns for leadership; without it this manager always leads. */
  lead?(onLeader: (leader: boolean) => void): void;
  /**
   * Replicated stores: hears the reports gateways send to other replicas (so every replica knows every
   * gateway's health and load) and returns how to pass on the ones sent here. Not durable.
   */
  shareReports?(onReport: ReportListener): ReportListener;
}
