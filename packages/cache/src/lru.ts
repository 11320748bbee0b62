/**
 * Least-recently-used set of items with sizes, held within a byte budget. A Map keeps insertion order,
 * so re-inserting on use makes its first key the least recently used: every operation is O(1).
 */
export class ByteLru<T> {
  private readonly sizes = new Map<T, number>();
  private total = 0;

  constructor(
    private readonly maxBytes: number,
    /** Told about every item pushed out by the budget (not about explicit deletes). */
    private readonly onEvict: (item: T) => void,
  ) {}

  /** Adds an item as the most recently used, then evicts the least recently used until within budget. */
  add(item: T, size: number): void {
    this.delete(item);
    this.sizes.set(item, size);
    this.total += size;
    for (const [oldest, oldestSize] of this.sizes) {
      if (this.total <= this.maxBytes) break;
      this.sizes.delete(oldest);
      this.total -= oldestSize;
      this.onEvict(oldest);
    }
  }

  touch(item: T): void {
    const size = this.sizes.get(item);
    if (size === undefined) return;
    this.sizes.delete(item);
    this.sizes.set(item, size);
  }

  delete(item: T): boolean {
    const size = this.sizes.get(item);
    if (size === undefined) return false;
    this.sizes.delete(item);
    this.total -= size;
    return true;
  }

  has(item: T): boolean {
    return this.sizes.has(item);
  }

  /** Items from least to most recently used. */
  keys(): IterableIterator<T> {
    return this.sizes.keys();
  }

  get bytes(): number {
    return this.total;
  }

  get count(): number {
    return this.sizes.size;
  }
}
