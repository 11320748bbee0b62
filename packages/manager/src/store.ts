import type { Change, DurableState } from './durable.js';

/**
 * Where the manager keeps what must survive restarts and crashes. The manager calls these one at a
 * time, never concurrently, and answers a write only after `append` resolved, so a resolved append
 * must already be durable. `FileStore` is the embedded default; an etcd store would keep the same
 * three calls (docs/manager.md "Store").
 */
export interface Store {
  /** Reads everything stored: the latest snapshot with the later changes applied. */
  load(): Promise<DurableState>;
  /** Stores one change durably before resolving. */
  append(change: Change): Promise<void>;
  /** Replaces everything appended so far by this state, so loading stays quick. */
  compact(state: DurableState): Promise<void>;
  close(): Promise<void>;
}
