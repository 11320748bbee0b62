import { endToEndHeaders, type RequestHead } from '@overlay/stream-heads';
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
 * The header pairs sent to the origin: the head's end-to-end fields in order (X-Forwarded-* and Via as the
 * front-end set them), then Host (`originHost`).
 */
export function originRequestHeaders(head: RequestHead, origin: OriginRuntime, siteOriginHost?: string): Array<[string, string]> {
  const pairs: Array<[string, string]> = [];
  for (const pair of endToEndHeaders(head.headers)) if (!REPLACED.has(pair[0])) pairs.push(pair);
  pairs.push(['host', originHost(head, origin, siteOriginHost)]);
  return pairs;
}

/** node:http's object form; a repeated field becomes an array (sent as several lines). */
export function headerObject(pairs: ReadonlyArray<readonly [string, string]>): Record<string, string | string[]> {
  // No prototype: a field named `constructor` or `__proto__` is just a field.
  const object: Record<string, string | string[]> = Object.create(null);
  for (const [name, value] of pairs) {
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
