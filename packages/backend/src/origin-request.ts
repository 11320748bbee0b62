import { endToEndFlat, type RequestHead } from '@overlay/stream-heads';
import type { OriginRuntime } from './origin.js';

/** Request fields never forwarded as sent: Host is the origin's own; Expect is the front-end's business. */
const REPLACED = new Set(['host', 'expect']);

/**
 * The `Host` the origin gets: the site's `originHost` when set, else the client's own (name-based virtual
 * hosts at the origin keep working), else the origin's address.
 */
export function originHost(head: RequestHead, origin: OriginRuntime, siteOriginHost: string | undefined): string {
  if (siteOriginHost !== undefined) return siteOriginHost;
  return head.headers.find(([name]) => name === 'host')?.[1] ?? head.headers.find(([name]) => name === 'x-forwarded-host')?.[1] ?? origin.hostHeader;
}

/**
 * The header fields sent to the origin as a flat list (`[name, value …]`, what undici takes): the head's
 * end-to-end fields in order (X-Forwarded-* and Via as the front-end set them), then Host (`originHost`).
 */
export function originRequestHeaders(head: RequestHead, origin: OriginRuntime, siteOriginHost?: string): string[] {
  const list = endToEndFlat(head.headers, REPLACED);
  list.push('host', originHost(head, origin, siteOriginHost));
  return list;
}

/** A flat field list in node:http's object form; a repeated field becomes an array (sent as several lines). */
export function headerObject(list: readonly string[]): Record<string, string | string[]> {
  // No prototype: a field named `constructor` or `__proto__` is just a field.
  const object: Record<string, string | string[]> = Object.create(null);
  for (let i = 0; i + 1 < list.length; i += 2) {
    const [name, value] = [list[i], list[i + 1]];
    const existing = object[name];
    object[name] = existing === undefined ? value : [...(Array.isArray(existing) ? existing : [existing]), value];
  }
  return object;
}

/**
 * The protocol an upgrade asks for. Upgrade is hop-by-hop, so a front-end need not forward it; WebSocket
 * is what `upgrade: true` means unless the head says otherwise.
 */
export function upgradeProtocol(head: RequestHead): string {
  return head.headers.find(([name]) => name === 'upgrade')?.[1] ?? 'websocket';
}
