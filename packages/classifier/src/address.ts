import ipaddr from 'ipaddr.js';

/**
 * Addresses and CIDRs as 32-bit words so matching a request against many rules is a few integer
 * compares. IPv4 is one word; IPv6 is four. IPv4-mapped IPv6 (`::ffff:10.1.2.3`, what a dual-stack
 * socket reports) becomes IPv4, in addresses and in CIDRs alike, so either spelling matches the other.
 */
export interface Address {
  words: Uint32Array;
}

export interface Cidr {
  network: Uint32Array;
  mask: Uint32Array;
}

/** Dotted-quad IPv4, bare or IPv4-mapped: what Node reports for almost every client, parsed without ipaddr. */
const DOTTED_QUAD = /^(?:::ffff:)?(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/i;

/** The address a client connected from, or undefined when it is not an IP address. */
export function parseAddress(text: string): Address | undefined {
  const quad = DOTTED_QUAD.exec(text);
  if (quad) {
    const octets = [Number(quad[1]), Number(quad[2]), Number(quad[3]), Number(quad[4])];
    if (octets.every((octet) => octet <= 255)) return { words: Uint32Array.of(wordOf(octets, 0)) };
  }
  if (!ipaddr.isValid(text)) return undefined;
  return { words: toWords(ipaddr.process(text)) };
}

/** A CIDR already checked by the schema (`isCidr`); a bare address is a single host. */
export function parseCidr(text: string): Cidr {
  const slash = text.indexOf('/');
  let ip: ipaddr.IPv4 | ipaddr.IPv6;
  let bits: number;
  if (slash < 0) {
    ip = ipaddr.parse(text);
    bits = ip.kind() === 'ipv4' ? 32 : 128;
  } else {
    [ip, bits] = ipaddr.parseCIDR(text);
  }
  if (ip.kind() === 'ipv6' && (ip as ipaddr.IPv6).isIPv4MappedAddress() && bits >= 96) {
    ip = (ip as ipaddr.IPv6).toIPv4Address();
    bits -= 96;
  }
  const words = toWords(ip);
  const mask = new Uint32Array(words.length);
  for (let i = 0; i < mask.length; i++) {
    const wordBits = Math.max(0, Math.min(32, bits - 32 * i));
    mask[i] = wordBits === 0 ? 0 : (0xffffffff << (32 - wordBits)) >>> 0;
    words[i] = (words[i] & mask[i]) >>> 0;
  }
  return { network: words, mask };
}

export function cidrContains(cidr: Cidr, address: Address): boolean {
  const { network, mask } = cidr;
  const words = address.words;
  if (words.length !== network.length) return false;
  for (let i = 0; i < words.length; i++) if (((words[i] & mask[i]) >>> 0) !== network[i]) return false;
  return true;
}

function toWords(ip: ipaddr.IPv4 | ipaddr.IPv6): Uint32Array {
  if (ip.kind() === 'ipv6' && (ip as ipaddr.IPv6).isIPv4MappedAddress()) ip = (ip as ipaddr.IPv6).toIPv4Address();
  const bytes = ip.toByteArray();
  const words = new Uint32Array(bytes.length / 4);
  for (let i = 0; i < words.length; i++) words[i] = wordOf(bytes, 4 * i);
  return words;
}

function wordOf(bytes: readonly number[], at: number): number {
  return ((bytes[at] << 24) | (bytes[at + 1] << 16) | (bytes[at + 2] << 8) | bytes[at + 3]) >>> 0;
}
