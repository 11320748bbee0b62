import type { IncomingHttpHeaders } from 'node:http';
import { endToEndFromRaw, type RequestHead } from '@overlay/stream-heads';
import { MAX_FIELD_NAME_BYTES, MAX_FORWARDED_FIELDS } from './options.js';

/** Fields the front-end answers or rewrites itself; the client's values never cross the tunnel as sent. */
const REWRITTEN = new Set(['expect', 'x-forwarded-for', 'x-forwarded-host', 'x-forwarded-proto', 'forwarded', 'via']);
const VALIDATORS = new Set(['if-none-match', 'if-modified-since']);

export interface ClientRequestView {
  method: string;
  url: string;
  rawHeaders: readonly string[];
  headers: IncomingHttpHeaders;
}

export interface ForwardContext {
  site: string;
  frontEnd: string;
  clientIp: string;
  clientPort: number;
  priority: number;
  /** The request turns raw after a 101 (WebSocket). */
  upgrade?: boolean;
  /** How the client reached the front-end: `https` over the TLS listener; default `http`. */
  proto?: 'http' | 'https';
  /** Validators that replace the client's own (cache revalidation). */
  conditional?: Record<string, string>;
}

/** `::ffff:10.1.2.3`, what a dual-stack socket reports, as the IPv4 address it is. */
export function clientAddress(remote: string | undefined): string {
  if (!remote) return '';
  return remote.toLowerCase().startsWith('::ffff:') && remote.includes('.') ? remote.slice(7) : remote;
}

/** `https` when the client's connection is TLS (a TLSSocket, or an HTTP/2 stream's proxy of one). */
export function protoOf(socket: object | null | undefined): 'http' | 'https' {
  return (socket as { encrypted?: unknown } | null | undefined)?.encrypted === true ? 'https' : 'http';
}

/** RFC 7239 node: an IPv6 address goes in quotes and brackets. */
function forwardedNode(ip: string): string {
  return ip.includes(':') ? `"[${ip}]"` : ip;
}

/** RFC 7239 value: a token as is, anything else quoted. */
function forwardedValue(value: string): string {
  return /^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/.test(value) ? value : `"${value.replace(/["\\]/g, '\\$&')}"`;
}

/** True when the request carries a body: a positive Content-Length or any Transfer-Encoding. */
export function requestHasBody(headers: IncomingHttpHeaders): boolean {
  if (headers['transfer-encoding'] !== undefined) return true;
  const length = headers['content-length'];
  return length !== undefined && Number(length) > 0;
}

/** Why the head cannot cross the tunnel (the client gets 431), or undefined. */
export function headLimitProblem(head: RequestHead): string | undefined {
  if (head.headers.length > MAX_FORWARDED_FIELDS) return `more than ${MAX_FORWARDED_FIELDS} header fields`;
  if (head.headers.some(([name]) => name.length > MAX_FIELD_NAME_BYTES)) return `a header name longer than ${MAX_FIELD_NAME_BYTES} bytes`;
  return undefined;
}

/**
 * The RequestHead for the tunnel: the client's end-to-end fields in order (and, for an upgrade, the
 * `upgrade` field naming the protocol), then X-Forwarded-For (the client address appended to any the
 * client sent), X-Forwarded-Host, X-Forwarded-Proto, Forwarded (RFC 7239, appended the same way) and Via.
 */
export function buildRequestHead(req: ClientRequestView, context: ForwardContext): RequestHead {
  const priorFor: string[] = [];
  const priorVia: string[] = [];
  const priorForwarded: string[] = [];
  const headers: Array<[string, string]> = [];
  for (const [name, value] of endToEndFromRaw(req.rawHeaders)) {
    if (name === 'x-forwarded-for') priorFor.push(value);
    else if (name === 'via') priorVia.push(value);
    else if (name === 'forwarded') priorForwarded.push(value);
    else if (REWRITTEN.has(name)) continue;
    else if (context.conditional && VALIDATORS.has(name)) continue;
    else headers.push([name, value]);
  }
  if (context.conditional) for (const [name, value] of Object.entries(context.conditional)) headers.push([name, value]);
  // The one hop-by-hop field kept: an upgrade's back-end must ask its origin for the same protocol.
  const protocol = req.headers.upgrade;
  if (context.upgrade && protocol !== undefined) headers.push(['upgrade', protocol]);
  headers.push(['x-forwarded-for', [...priorFor, context.clientIp].join(', ')]);
  const host = req.headers.host;
  if (host !== undefined) headers.push(['x-forwarded-host', host]);
  const proto = context.proto ?? 'http';
  headers.push(['x-forwarded-proto', proto]);
  const node = `for=${forwardedNode(context.clientIp)}${host === undefined ? '' : `;host=${forwardedValue(host)}`};proto=${proto}`;
  headers.push(['forwarded', [...priorForwarded, node].join(', ')]);
  headers.push(['via', [...priorVia, `1.1 ${context.frontEnd}`].join(', ')]);

  const head: RequestHead = {
    kind: 'http',
    site: context.site,
    method: req.method,
    target: req.url,
    headers,
    client: { ip: context.clientIp, port: context.clientPort },
    frontEnd: context.frontEnd,
    priority: context.priority,
    hasBody: !context.upgrade && requestHasBody(req.headers),
  };
  if (context.upgrade) head.upgrade = true;
  return head;
}
