/**
 * Slots for work that has not yet proved itself (a tunnel handshake, an HTTP request head still arriving),
 * shared fairly between the addresses that hold them. A newcomer is always admitted: when its source is at
 * its own cap, that source's oldest slot is evicted; when every slot is taken, the oldest slot of the source
 * holding the most is evicted. One source can therefore only ever push out its own work or that of a source
 * holding at least as much, and a source holding few slots always gets one. Pure: no sockets, no clock.
 */

export interface SourceSlotOptions {
  /** Slots for all sources together. */
  maxTotal: number;
  /** Slots one source may hold; its next newcomer pushes out its oldest. */
  maxPerSource: number;
}

export function verifySourceSlotOptions(options: SourceSlotOptions, what: string): void {
  if (!Number.isInteger(options.maxTotal) || options.maxTotal < 1) throw new RangeError(`${what} maxTotal: positive integer`);
  if (!Number.isInteger(options.maxPerSource) || options.maxPerSource < 1 || options.maxPerSource > options.maxTotal) {
    throw new RangeError(`${what} maxPerSource: positive integer no larger than maxTotal`);
  }
}

export class SourceSlots<T> {
  private readonly bySource = new Map<string, T[]>();
  private readonly sourceOf = new Map<T, string>();
  /** Slots taken back from their holders to make room, since start. */
  evictions = 0;

  /** `evict` must end the evicted work; it is no longer counted here when called. */
  constructor(
    private readonly options: SourceSlotOptions,
    private readonly evict: (item: T, source: string) => void,
  ) {
    verifySourceSlotOptions(options, 'source slots');
  }

  get size(): number {
    return this.sourceOf.size;
  }

  /** Everything holding a slot now. */
  [Symbol.iterator](): IterableIterator<T> {
    return [...this.sourceOf.keys()][Symbol.iterator]();
  }

  /** Slots `source` holds now. */
  held(source: string): number {
    return this.bySource.get(source)?.length ?? 0;
  }

  admit(source: string, item: T): void {
    if (this.sourceOf.has(item)) return;
    if (this.held(source) >= this.options.maxPerSource) this.evictOldest(source);
    else if (this.size >= this.options.maxTotal) this.evictOldest(this.heaviest());
    const list = this.bySource.get(source);
    if (list) list.push(item);
    else this.bySource.set(source, [item]);
    this.sourceOf.set(item, source);
  }

  /** The work finished or failed on its own; releasing twice, or after an eviction, is harmless. */
  release(item: T): void {
    const source = this.sourceOf.get(item);
    if (source === undefined) return;
    this.sourceOf.delete(item);
    const list = this.bySource.get(source)!;
    list.splice(list.indexOf(item), 1);
    if (list.length === 0) this.bySource.delete(source);
  }

  private heaviest(): string {
    let best = '';
    let most = 0;
    for (const [source, list] of this.bySource) {
      if (list.length > most) {
        best = source;
        most = list.length;
      }
    }
    return best;
  }

  private evictOldest(source: string): void {
    const oldest = this.bySource.get(source)?.[0];
    if (oldest === undefined) return;
    this.release(oldest);
    this.evictions++;
    this.evict(oldest, source);
  }
}

/**
 * The source an address counts against: an IPv4 address itself (IPv4-mapped IPv6 unwrapped), an IPv6
 * address's /64, since one host is usually given a whole /64.
 */
export function sourceKey(address: string | undefined): string {
  if (!address) return '?';
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return mapped[1];
  if (!address.includes(':')) return address;
  const [head, tail = ''] = address.split('::');
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const groups = address.includes('::') ? [...left, ...Array(8 - left.length - right.length).fill('0'), ...right] : left;
  return `${groups.slice(0, 4).map((g) => g.toLowerCase().replace(/^0+(?=.)/, '')).join(':')}::/64`;
}
