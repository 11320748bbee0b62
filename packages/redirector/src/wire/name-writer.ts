/** Writes domain names onto the wire with message compression (RFC 1035 §4.1.4). Pure. */

/** Lower-case dotted suffix → offset in the message where that suffix was written. */
export type CompressionTable = Map<string, number>;

/** Compression pointers have 14 bits: names written past this offset cannot be pointed at. */
const MAX_POINTER_TARGET = 0x3fff;
const POINTER = 0xc000;

/** Octets of `name` (dotted, no trailing dot, '' for the root) on the wire, uncompressed. */
export function nameWireLength(name: string): number {
  // Each dot becomes a length octet, plus the first length octet and the root label.
  return name === '' ? 1 : name.length + 2;
}

/**
 * Writes `name` at `at` and returns the offset after it. A suffix already in `table` (matched without
 * regard to case, as DNS compares names) becomes a pointer; suffixes written here are added to `table`.
 * Labels are written as given, so a name seeded from the question keeps the client's case. Without a
 * table nothing is compressed (the canonical form DNSSEC signs, RFC 4034 §6.2).
 */
export function writeName(out: Buffer, at: number, name: string, table: CompressionTable | undefined): number {
  let suffix = name;
  let position = at;
  while (suffix !== '') {
    if (table) {
      const key = suffix.toLowerCase();
      const target = table.get(key);
      if (target !== undefined) {
        out.writeUInt16BE(POINTER | target, position);
        return position + 2;
      }
      if (position <= MAX_POINTER_TARGET) table.set(key, position);
    }
    const dot = suffix.indexOf('.');
    const label = dot < 0 ? suffix : suffix.slice(0, dot);
    out[position] = label.length;
    out.write(label, position + 1, 'latin1');
    position += 1 + label.length;
    suffix = dot < 0 ? '' : suffix.slice(dot + 1);
  }
  out[position] = 0;
  return position + 1;
}
