/** Hop-by-hop headers (RFC 9110 §7.6.1) never cross the tunnel; each leg sets its own. */
export const HOP_BY_HOP = new Set([
  'connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade',
  'proxy-authenticate', 'proxy-authorization',
]);

/*
 * These run per request on both gateways, each taking a header list in the form it arrives in and giving
 * the form the next step takes, in one pass and one allocation: no intermediate lists between them.
 */

/** Field names listed in Connection headers (lower-cased), or undefined when there are none. */
function connectionNamed(count: number, nameAt: (i: number) => string, valueAt: (i: number) => string): Set<string> | undefined {
  let named: Set<string> | undefined;
  for (let i = 0; i < count; i++) {
    if (nameAt(i) !== 'connection') continue;
    named ??= new Set();
    for (const token of valueAt(i).split(',')) named.add(token.trim().toLowerCase());
  }
  return named;
}

function dropped(name: string, named: Set<string> | undefined, skip: ReadonlySet<string> | undefined): boolean {
  return HOP_BY_HOP.has(name) || named?.has(name) === true || skip?.has(name) === true;
}

/**
 * A raw header list (`[name, value, name, value …]`: node:http's rawHeaders, or undici's Buffers) as
 * lower-cased end-to-end pairs in order, repeats kept: hop-by-hop fields, fields named in Connection and
 * `skip` dropped. Buffer values are read as latin1, as undici reads them.
 */
export function endToEndFromRaw(raw: ReadonlyArray<string | Buffer>, skip?: ReadonlySet<string>): Array<[string, string]> {
  const count = raw.length >> 1;
  const names = new Array<string>(count);
  for (let i = 0; i < count; i++) names[i] = raw[2 * i].toString('latin1').toLowerCase();
  const valueAt = (i: number) => raw[2 * i + 1].toString('latin1');
  const named = connectionNamed(count, (i) => names[i], valueAt);
  const kept: Array<[string, string]> = [];
  for (let i = 0; i < count; i++) if (!dropped(names[i], named, skip)) kept.push([names[i], valueAt(i)]);
  return kept;
}

/**
 * Header pairs as the flat list node:http and undici take (`[name, value …]`), end-to-end fields only:
 * hop-by-hop fields, fields named in Connection and `skip` dropped; order and repeats kept.
 */
export function endToEndFlat(pairs: ReadonlyArray<readonly [string, string]>, skip?: ReadonlySet<string>): string[] {
  const named = connectionNamed(pairs.length, (i) => pairs[i][0], (i) => pairs[i][1]);
  const list: string[] = [];
  for (const [name, value] of pairs) if (!dropped(name, named, skip)) list.push(name, value);
  return list;
}

/** Header pairs as a flat list (`[name, value, name, value …]`), the raw form node:http and undici take; keeps repeated fields. */
export function flatPairs(pairs: ReadonlyArray<readonly [string, string]>): string[] {
  const list = new Array<string>(pairs.length * 2);
  for (let i = 0; i < pairs.length; i++) {
    list[2 * i] = pairs[i][0];
    list[2 * i + 1] = pairs[i][1];
  }
  return list;
}
