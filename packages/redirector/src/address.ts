import ipaddr from 'ipaddr.js';

/** An IP address as the wire carries it: 4 or 16 bytes. */
export interface IpBytes {
  family: 4 | 6;
  bytes: Uint8Array;
}

/** How much of a client address identifies "the same client network" for stable choice and rate limits (bits). */
export const CLIENT_NETWORK_BITS = { 4: 24, 6: 56 } as const;

export function familyBits(family: 4 | 6): number {
  return family === 4 ? 32 : 128;
}

/** Parses a textual address; IPv4-mapped IPv6 (`::ffff:10.1.2.3`, as dual-stack sockets report) becomes IPv4. */
export function parseAddress(text: string): IpBytes {
  const parsed = ipaddr.process(text);
  return { family: parsed.kind() === 'ipv4' ? 4 : 6, bytes: Uint8Array.from(parsed.toByteArray()) };
}

export function formatAddress(address: IpBytes): string {
  const { bytes } = address;
  // Dotted quads by hand: this runs per query for ECS clients, and ipaddr.js copies and parses.
  if (address.family === 4) return `${bytes[0]}.${bytes[1]}.${bytes[2]}.${bytes[3]}`;
  const parsed = ipaddr.fromByteArray([...address.bytes]);
  return parsed.kind() === 'ipv6' ? (parsed as ipaddr.IPv6).toRFC5952String() : parsed.toString();
}

/** A copy of `address` with every bit past `prefixLength` cleared. */
export function maskAddress(address: IpBytes, prefixLength: number): IpBytes {
  const bytes = new Uint8Array(address.bytes.length);
  for (let i = 0; i < bytes.length; i++) {
    const keep = Math.min(8, Math.max(0, prefixLength - i * 8));
    bytes[i] = address.bytes[i] & ((0xff << (8 - keep)) & 0xff);
  }
  return { family: address.family, bytes };
}

/** Number of leading bits two addresses of one family share. */
export function commonPrefixLength(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < a.length; i++) {
    const diff = a[i] ^ b[i];
    if (diff !== 0) return i * 8 + Math.clz32(diff) - 24;
  }
  return a.length * 8;
}

/** True when bits past `prefixLength` are all zero (RFC 7871 §6 requires it of ECS addresses). */
export function isMasked(address: IpBytes, prefixLength: number): boolean {
  return commonPrefixLength(address.bytes, maskAddress(address, prefixLength).bytes) >= address.bytes.length * 8;
}

/** `10.1.2.0/24`: the client's network, the key for stable choice and for rate limiting. */
export function clientNetworkKey(address: IpBytes, prefixLength: number): string {
  const bits = Math.min(prefixLength, CLIENT_NETWORK_BITS[address.family]);
  return `${formatAddress(maskAddress(address, bits))}/${bits}`;
}
