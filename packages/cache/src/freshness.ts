import { fieldValue, parseCacheControl, parseDeltaSeconds, parseHttpDate, type HeaderMap } from './headers.js';

/**
 * How long a response stays fresh, ms (RFC 9111 §4.2.1, shared cache): s-maxage, else max-age, else
 * Expires minus Date. Heuristic freshness is off, so a response with none of these is stale at once
 * (it may still be stored to be revalidated). An invalid value means stale, as the RFC asks.
 */
export function freshnessLifetimeMs(headers: HeaderMap, responseTime: number): number {
  const directives = parseCacheControl(fieldValue(headers, 'cache-control'));
  for (const name of ['s-maxage', 'max-age']) {
    if (directives.has(name)) return (parseDeltaSeconds(directives.get(name)) ?? 0) * 1000;
  }
  const expiresField = fieldValue(headers, 'expires');
  if (expiresField === undefined) return 0;
  const expires = parseHttpDate(expiresField);
  if (expires === undefined) return 0;
  const date = parseHttpDate(fieldValue(headers, 'date')) ?? responseTime;
  return Math.max(0, expires - date);
}

/** True when the response names an explicit lifetime (Cache-Control or Expires). */
export function hasExplicitFreshness(headers: HeaderMap): boolean {
  const directives = parseCacheControl(fieldValue(headers, 'cache-control'));
  return directives.has('s-maxage') || directives.has('max-age') || fieldValue(headers, 'expires') !== undefined;
}

/**
 * The response's age when it arrived, ms (RFC 9111 §4.2.3 corrected_initial_age): the larger of what the
 * Date field implies and the upstream Age plus the time the request spent in flight.
 */
export function initialAgeMs(headers: HeaderMap, requestTime: number, responseTime: number): number {
  const date = parseHttpDate(fieldValue(headers, 'date')) ?? responseTime;
  const apparentAge = Math.max(0, responseTime - date);
  const ageValue = (parseDeltaSeconds(fieldValue(headers, 'age')?.trim()) ?? 0) * 1000;
  const correctedAgeValue = ageValue + Math.max(0, responseTime - requestTime);
  return Math.max(apparentAge, correctedAgeValue);
}
