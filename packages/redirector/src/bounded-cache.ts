/**
 * A memo that never holds more than 2 × `limit` entries, with LRU-like eviction at O(1) per call and no
 * bookkeeping on a hit in the young generation: entries go into the young map; when it holds `limit`, it
 * becomes the old map and the previous old map is dropped whole. A hit in the old map moves the entry back
 * to the young one, so what is still in use survives the swap.
 */
export class GenerationCache<K, V> {
  private young = new Map<K, V>();
  private old = new Map<K, V>();

  constructor(private readonly limit: number) {
    if (!(limit >= 1)) throw new RangeError(`cache limit must be at least 1, got ${limit}`);
  }

  get(key: K): V | undefined {
    const value = this.young.get(key);
    if (value !== undefined) return value;
    const aged = this.old.get(key);
    if (aged !== undefined) {
      this.old.delete(key);
      this.set(key, aged);
    }
    return aged;
  }

  set(key: K, value: V): void {
    if (this.young.size >= this.limit) {
      this.old = this.young;
      this.young = new Map();
    }
    this.young.set(key, value);
  }

  /** Entries held now (at most 2 × limit). */
  get size(): number {
    return this.young.size + this.old.size;
  }
}

/**
 * The same, for a key made of two parts, held as nested maps so a lookup builds no composite key (hashing
 * a freshly joined string costs more than the rest of a cached answer). Bounded by entries in all.
 */
export class PairCache<K1, K2, V> {
  private young = new Map<K1, Map<K2, V>>();
  private old = new Map<K1, Map<K2, V>>();
  private youngEntries = 0;

  constructor(private readonly limit: number) {
    if (!(limit >= 1)) throw new RangeError(`cache limit must be at least 1, got ${limit}`);
  }

  get(outer: K1, inner: K2): V | undefined {
    const value = this.young.get(outer)?.get(inner);
    if (value !== undefined) return value;
    const agedGroup = this.old.get(outer);
    const aged = agedGroup?.get(inner);
    if (aged !== undefined) {
      agedGroup?.delete(inner);
      this.set(outer, inner, aged);
    }
    return aged;
  }

  set(outer: K1, inner: K2, value: V): void {
    if (this.youngEntries >= this.limit) {
      this.old = this.young;
      this.young = new Map();
      this.youngEntries = 0;
    }
    let group = this.young.get(outer);
    if (group === undefined) {
      group = new Map();
      this.young.set(outer, group);
    }
    if (!group.has(inner)) this.youngEntries += 1;
    group.set(inner, value);
  }

  /** Entries held now (at most 2 × limit). */
  get size(): number {
    let entries = this.youngEntries;
    for (const group of this.old.values()) entries += group.size;
    return entries;
  }
}
