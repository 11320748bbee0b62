import { isIPv4, isIPv6 } from 'node:net';
import { OverlayError } from './errors.js';

/**
 * The PROXY protocol (HAProxy's proxy-protocol.txt, versions 1 and 2): the header an L4 balancer writes
 * before a connection's own bytes to say whose connection it is. Pure codec, no sockets: the front-end
 * decodes it on listeners that say so, the back-end may encode it towards origins.
 */

export interface ProxyEndpoint {
  address: string;
  port: number;
}

/**
 * What a header says. `proxied` carries the original client (`source`) and the address it dialled
 * (`destination`); a LOCAL (v2) or UNKNOWN (v1) header, or an address family other than TCP over IPv4/6,
 * says the connection is the balancer's own (health checks): use the socket's addresses.
 */
export type ProxyHeader = { proxied: true; version: 1 | 2; source: ProxyEndpoint; destination: ProxyEndpoint } | { proxied: false; version: 1 | 2 };

export type ProxyDecode = { done: false } | { done: true; header: ProxyHeader; length: number };

/** The v2 signature: never the start of an HTTP request or a TLS ClientHello. */
export const PROXY_V2_SIGNATURE = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);
const V1_PREFIX = Buffer.from('PROXY ', 'latin1');
/** "PROXY UNKNOWN ffff:…:ffff ffff:…:ffff 65535 65535\r\n", the longest v1 line the specification allows. */
export const PROXY_V1_MAX_BYTES = 107;
const V2_HEADER_BYTES = 16;
/** Largest v2 block this decoder accepts (addresses plus TLVs); the specification's own bound is 64 KiB. */
export const PROXY_V2_MAX_BYTES = V2_HEADER_BYTES + 4096;

/** A malformed or missing PROXY header; the connection is closed. */
export class ProxyProtocolError extends OverlayError {
  constructor(message: string) {
    super('ERR_PROXY_PROTOCOL', message, { origin: 'downstream' });
    this.name = 'ProxyProtocolError';
  }
}

/** True while `data` could still become a v1 or v2 header (for short first reads). */
function couldBe(data: Buffer, prefix: Buffer): boolean {
  const n = Math.min(data.length, prefix.length);
  return data.subarray(0, n).equals(prefix.subarray(0, n));
}

/**
 * Reads a PROXY header at the start of `data` (the bytes received so far). `done: false` asks for more;
 * `length` is how many bytes the header took (what follows is the client's own). Throws
 * ProxyProtocolError when `data` cannot be a header.
 */
export function decodeProxyHeader(data: Buffer): ProxyDecode {
  if (couldBe(data, PROXY_V2_SIGNATURE)) return data.length < V2_HEADER_BYTES ? { done: false } : decodeV2(data);
  if (couldBe(data, V1_PREFIX)) return data.length < V1_PREFIX.length ? { done: false } : decodeV1(data);
  throw new ProxyProtocolError('the connection does not start with a PROXY protocol header');
}

function port(text: string | undefined): number {
  if (text === undefined || !/^(0|[1-9][0-9]{0,4})$/.test(text) || Number(text) > 65535) throw new ProxyProtocolError(`bad port "${text ?? ''}" in PROXY v1 header`);
  return Number(text);
}

function decodeV1(data: Buffer): ProxyDecode {
  const end = data.indexOf('\r\n', 0, 'latin1');
  if (end < 0) {
    if (data.length >= PROXY_V1_MAX_BYTES) throw new ProxyProtocolError(`PROXY v1 header longer than ${PROXY_V1_MAX_BYTES} bytes`);
    return { done: false };
  }
  const length = end + 2;
  if (length > PROXY_V1_MAX_BYTES) throw new ProxyProtocolError(`PROXY v1 header longer than ${PROXY_V1_MAX_BYTES} bytes`);
  const fields = data.toString('latin1', 0, end).split(' ');
  const family = fields[1];
  if (family === 'UNKNOWN') return { done: true, length, header: { proxied: false, version: 1 } };
  if (fields.length !== 6 || (family !== 'TCP4' && family !== 'TCP6')) throw new ProxyProtocolError('malformed PROXY v1 header');
  const valid = family === 'TCP4' ? isIPv4 : isIPv6;
  const [source, destination] = [fields[2], fields[3]];
  if (!valid(source) || !valid(destination)) throw new ProxyProtocolError(`bad ${family} address in PROXY v1 header`);
  return { done: true, length, header: { proxied: true, version: 1, source: { address: source, port: port(fields[4]) }, destination: { address: destination, port: port(fields[5]) } } };
}

function ipv6(bytes: Buffer): string {
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(bytes.readUInt16BE(i).toString(16));
  // The longest run of zero groups becomes "::" (RFC 5952), as a socket would report the address.
  let best = { at: -1, length: 0 };
  for (let i = 0; i < 8; ) {
    let j = i;
    while (j < 8 && groups[j] === '0') j++;
    if (j - i > best.length && j - i > 1) best = { at: i, length: j - i };
    i = j === i ? i + 1 : j;
  }
  if (best.at < 0) return groups.join(':');
  return `${groups.slice(0, best.at).join(':')}::${groups.slice(best.at + best.length).join(':')}`;
}

function decodeV2(data: Buffer): ProxyDecode {
  const versionCommand = data[12];
  const family = data[13];
  const bodyLength = data.readUInt16BE(14);
  if (versionCommand >> 4 !== 2) throw new ProxyProtocolError(`PROXY v2 header with version ${versionCommand >> 4}`);
  const command = versionCommand & 0x0f;
  if (command > 1) throw new ProxyProtocolError(`PROXY v2 header with unknown command ${command}`);
  const length = V2_HEADER_BYTES + bodyLength;
  if (length > PROXY_V2_MAX_BYTES) throw new ProxyProtocolError(`PROXY v2 header of ${length} bytes (at most ${PROXY_V2_MAX_BYTES})`);
  if (data.length < length) return { done: false };
  const body = data.subarray(V2_HEADER_BYTES, length);
  // LOCAL, or a family other than TCP (0x1) over IPv4 (0x1_) / IPv6 (0x2_): the balancer's own connection.
  if (command === 0 || (family !== 0x11 && family !== 0x21)) return { done: true, length, header: { proxied: false, version: 2 } };
  // Source address, destination address, source port, destination port.
  const [size, text] = family === 0x11 ? [4, (bytes: Buffer) => [...bytes].join('.')] : [16, ipv6];
  const need = 2 * size + 4;
  if (body.length < need) throw new ProxyProtocolError(`PROXY v2 address block of ${body.length} bytes, needs ${need}`);
  return {
    done: true,
    length,
    header: {
      proxied: true,
      version: 2,
      source: { address: text(body.subarray(0, size)), port: body.readUInt16BE(2 * size) },
      destination: { address: text(body.subarray(size, 2 * size)), port: body.readUInt16BE(2 * size + 2) },
    },
  };
}

/** `::ffff:1.2.3.4` (a dual-stack socket's view of an IPv4 peer) as the IPv4 address it is. */
function plain(address: string): string {
  return address.toLowerCase().startsWith('::ffff:') && isIPv4(address.slice(7)) ? address.slice(7) : address;
}

function ipv6Bytes(address: string): Buffer {
  const out = Buffer.alloc(16);
  let text = address;
  const embedded = text.match(/(\d+\.\d+\.\d+\.\d+)$/);
  if (embedded) text = text.slice(0, -embedded[1].length) + (() => {
    const [a, b, c, d] = embedded[1].split('.').map(Number);
    return `${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  })();
  const [head, tail] = text.includes('::') ? text.split('::') : [text, undefined];
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const groups = tail === undefined ? left : [...left, ...Array(8 - left.length - right.length).fill('0'), ...right];
  groups.forEach((group, i) => out.writeUInt16BE(parseInt(group, 16), i * 2));
  return out;
}

/**
 * A header for a connection from `source` to `destination` (both IPv4 or both IPv6, after mapping
 * `::ffff:` addresses; a mixed pair is sent as IPv6). Version 1 is text, version 2 binary.
 */
export function encodeProxyHeader(version: 1 | 2, source: ProxyEndpoint, destination: ProxyEndpoint): Buffer {
  let [from, to] = [plain(source.address), plain(destination.address)];
  const v4 = isIPv4(from) && isIPv4(to);
  if (!v4) {
    if (isIPv4(from)) from = `::ffff:${from}`;
    if (isIPv4(to)) to = `::ffff:${to}`;
  }
  if (version === 1) return Buffer.from(`PROXY ${v4 ? 'TCP4' : 'TCP6'} ${from} ${to} ${source.port} ${destination.port}\r\n`, 'latin1');
  const body = v4 ? Buffer.alloc(12) : Buffer.alloc(36);
  if (v4) {
    Buffer.from(from.split('.').map(Number)).copy(body, 0);
    Buffer.from(to.split('.').map(Number)).copy(body, 4);
    body.writeUInt16BE(source.port, 8);
    body.writeUInt16BE(destination.port, 10);
  } else {
    ipv6Bytes(from).copy(body, 0);
    ipv6Bytes(to).copy(body, 16);
    body.writeUInt16BE(source.port, 32);
    body.writeUInt16BE(destination.port, 34);
  }
  const head = Buffer.alloc(V2_HEADER_BYTES);
  PROXY_V2_SIGNATURE.copy(head, 0);
  head[12] = 0x21; // version 2, PROXY
  head[13] = v4 ? 0x11 : 0x21; // TCP over IPv4 / IPv6
  head.writeUInt16BE(body.length, 14);
  return Buffer.concat([head, body]);
}
