/** Header fields as Node gives them: lower-case names, repeated fields as arrays. */
export type HeaderMap = Readonly<Record<string, string | string[] | undefined>>;

/** One field's value, repeated lines joined with ", " (RFC 9110 §5.3), or undefined when absent. */
export function fieldValue(headers: HeaderMap, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value.join(', ') : value;
}

/**
 * Cache-Control directives (RFC 9111 §5.2): lower-case names, values unquoted, `true` for a bare
 * directive. The first occurrence of a directive wins. Commas inside quoted strings do not split.
 */
export function parseCacheControl(value: string | undefined): Map<string, string | true> {
  const directives = new Map<string, string | true>();
  if (value === undefined) return directives;
  for (const part of splitOutsideQuotes(value)) {
    const equals = part.indexOf('=');
    const name = (equals < 0 ? part : part.slice(0, equals)).trim().toLowerCase();
    if (!name || directives.has(name)) continue;
    if (equals < 0) {
      directives.set(name, true);
      continue;
    }
    const raw = part.slice(equals + 1).trim();
    directives.set(name, raw.length >= 2 && raw.startsWith('"') && raw.endsWith('"') ? raw.slice(1, -1) : raw);
  }
  return directives;
}

function splitOutsideQuotes(value: string): string[] {
  const parts: string[] = [];
  let start = 0;
  let quoted = false;
  for (let i = 0; i < value.length; i++) {
    const char = value[i];
    if (char === '\\' && quoted) i++;
    else if (char === '"') quoted = !quoted;
    else if (char === ',' && !quoted) {
      parts.push(value.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(value.slice(start));
  return parts;
}

/** delta-seconds (RFC 9111 §1.2.2): digits only; anything else is undefined, which callers treat as stale. */
export function parseDeltaSeconds(value: string | true | undefined): number | undefined {
  if (typeof value !== 'string' || !/^\d+$/.test(value)) return undefined;
  return Math.min(Number(value), 2 ** 31);
}

const IMF_FIXDATE = /^[A-Za-z]{3}, \d{2} [A-Za-z]{3} \d{4} \d{2}:\d{2}:\d{2} GMT$/;
const RFC850_DATE = /^[A-Za-z]{6,9}, \d{2}-[A-Za-z]{3}-\d{2} \d{2}:\d{2}:\d{2} GMT$/;
const ASCTIME_DATE = /^[A-Za-z]{3} [A-Za-z]{3} [ \d]\d \d{2}:\d{2}:\d{2} \d{4}$/;

/**
 * An HTTP-date (RFC 9110 §5.6.7) in milliseconds, or undefined. Strict on purpose: `Date.parse` reads
 * `Expires: 3600` as the year 3600, where the RFC says an invalid date means "already expired".
 */
export function parseHttpDate(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const text = value.trim();
  let ms = Number.NaN;
  if (IMF_FIXDATE.test(text) || RFC850_DATE.test(text)) ms = Date.parse(text);
  else if (ASCTIME_DATE.test(text)) ms = Date.parse(`${text} GMT`);
  return Number.isFinite(ms) ? ms : undefined;
}

/** Connection-specific fields a cache must not store or forward (RFC 9110 §7.6.1). */
const HOP_BY_HOP = new Set([
  'connection', 'keep-alive', 'proxy-connection', 'proxy-authenticate', 'proxy-authorization',
  'te', 'trailer', 'transfer-encoding', 'upgrade',
]);

/** A copy without hop-by-hop fields, those the Connection field names, and `omit`. */
export function endToEndHeaders(headers: HeaderMap, omit: readonly string[] = []): Record<string, string | string[]> {
  const named = (fieldValue(headers, 'connection') ?? '').split(',').map((token) => token.trim().toLowerCase());
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || HOP_BY_HOP.has(name) || named.includes(name) || omit.includes(name)) continue;
    out[name] = Array.isArray(value) ? [...value] : value;
  }
  return out;
}

/** Bytes the header block takes in memory, roughly as on the wire. */
export function headerBytes(headers: Record<string, string | string[]>): number {
  let bytes = 0;
  for (const [name, value] of Object.entries(headers)) {
    for (const line of Array.isArray(value) ? value : [value]) bytes += name.length + line.length + 4;
  }
  return bytes;
}
