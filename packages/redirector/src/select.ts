/** Which front-ends answer a site name for one client. Pure: no I/O, no clock, no randomness. */

export interface FrontEndView {
  id: string;
  pop: string;
  healthy: boolean;
  load: number;
}

export interface SelectionInput<F extends FrontEndView> {
  /** The site's assigned front-ends that have an address of the asked family. */
  assigned: readonly F[];
  /** POPs in the client's order of preference (may be empty). */
  popPreference: readonly string[];
  /** The client's network (`10.1.2.0/24`): equal keys get equal answers. */
  clientKey: string;
  count: number;
  overloadThreshold: number;
}

/** Why the answer holds what it holds; `no-healthy` is the deliberate "better a possibly-down answer than none". */
export type SelectionBasis = 'preferred-pop' | 'any-healthy' | 'overloaded' | 'no-healthy' | 'none-assigned';

export interface Selection<F> {
  chosen: F[];
  basis: SelectionBasis;
}

/**
 * Ranks the candidates and keeps the best `count`:
 * 1. the pool is the healthy front-ends below the load threshold; if none, the healthy ones; if none
 *    are healthy, every assigned front-end (all of them are returned then);
 * 2. within the pool, front-ends of the client's first preferred POP come first, then the next POP's,
 *    then the rest;
 * 3. ties break by rendezvous hash of (client network, front-end id), so a client network keeps its
 *    front-end while the set is unchanged and only the clients of a removed front-end move.
 */
export function selectFrontEnds<F extends FrontEndView>(input: SelectionInput<F>): Selection<F> {
  const { assigned, popPreference, clientKey, count, overloadThreshold } = input;
  if (assigned.length === 0) return { chosen: [], basis: 'none-assigned' };
  const healthy = assigned.filter((frontEnd) => frontEnd.healthy);
  if (healthy.length === 0) return { chosen: rank(assigned, popPreference, clientKey), basis: 'no-healthy' };
  const unloaded = healthy.filter((frontEnd) => frontEnd.load < overloadThreshold);
  const pool = unloaded.length > 0 ? unloaded : healthy;
  const chosen = rank(pool, popPreference, clientKey).slice(0, count);
  const first = chosen[0] as F;
  const basis: SelectionBasis =
    unloaded.length === 0 ? 'overloaded' : popPreference.includes(first.pop) ? 'preferred-pop' : 'any-healthy';
  return { chosen, basis };
}

function rank<F extends FrontEndView>(pool: readonly F[], popPreference: readonly string[], clientKey: string): F[] {
  const popRank = (pop: string): number => {
    const index = popPreference.indexOf(pop);
    return index < 0 ? popPreference.length : index;
  };
  return pool
    .map((frontEnd) => ({ frontEnd, pop: popRank(frontEnd.pop), score: rendezvousScore(clientKey, frontEnd.id) }))
    .sort((a, b) => a.pop - b.pop || b.score - a.score || (a.frontEnd.id < b.frontEnd.id ? -1 : 1))
    .map((ranked) => ranked.frontEnd);
}

/** Highest-random-weight score of one (client, front-end) pair: FNV-1a over both, then a murmur3 finalizer. */
export function rendezvousScore(clientKey: string, frontEndId: string): number {
  let hash = 0x811c9dc5;
  const text = `${clientKey}\u0000${frontEndId}`;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  hash ^= hash >>> 16;
  hash = Math.imul(hash, 0x85ebca6b);
  hash ^= hash >>> 13;
  hash = Math.imul(hash, 0xc2b2ae35);
  hash ^= hash >>> 16;
  return hash >>> 0;
}
