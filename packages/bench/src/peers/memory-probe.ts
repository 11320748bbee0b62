/**
 * Preloaded into a gateway process (`node --import`) that was spawned with an IPC channel: answers
 * `memory` (heap + external after a full collection, as `settledMemory` measures in the benchmark's own
 * peers) so a gateway's per-connection cost is measured the same way as its baselines'.
 */
import { servePeer, settledMemory } from '../measure.js';

servePeer({ memory: () => settledMemory() });
// The channel must not keep the gateway alive: it stops on SIGTERM by letting its event loop drain.
process.channel?.unref();
