/** Hop-by-hop headers (RFC 9110 §7.6.1) never cross the tunnel; each leg sets its own. */
export const HOP_BY_HOP = new Set([
  'connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade',
  'proxy-authenticate', 'proxy-authorization',
]);

/** Header pairs without hop-by-hop ones, nor any named in Connection. Runs per request on both gateways: one pass, no allocation beyond the result. */
export function endToEndHeaders(pairs: ReadonlyArray<readonly [string, string]>): Array<[string, string]> {
  let named: Set<string> | undefined;
  for (const [name, value] of pairs) {
    if (name !== 'connection') continue;
    named ??= new Set();
    for (const token of value.split(',')) named.add(token.trim().toLowerCase());
  }
  const kept: Array<[string, string]> = [];
  for (const [name, value] of pairs) {
    if (!HOP_BY_HOP.has(name) && !named?.has(name)) kept.push([name, value]);
  }
  return kept;
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

/** Node's rawHeaders (flat name/value list) as lower-cased pairs. */
export function headerPairs(rawHeaders: readonly string[]): Array<[string, string]> {
  const pairs: Array<[string, string]> = [];
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) pairs.push([rawHeaders[i].toLowerCase(), rawHeaders[i + 1]]);
  return pairs;
}
