import { endToEndHeaders, type RequestHead } from '@overlay/stream-heads';
import type { OriginRuntime } from './origin.js';

/** Request fields never forwarded as sent: Host is the origin's own; Expect is the front-end's business. */
const REPLACED = new Set(['host', 'expect']);

/**
 * The header pairs sent to the origin: the head's end-to-end fields in order (X-Forwarded-* and Via as the
 * front-end set them), Host set to the origin's host.
 */
export function originRequestHeaders(head: RequestHead, origin: OriginRuntime): Array<[string, string]> {
  const pairs: Array<[string, string]> = [];
  for (const pair of endToEndHeaders(head.headers)) if (!REPLACED.has(pair[0])) pairs.push(pair);
  pairs.push(['host', origin.hostHeader]);
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
