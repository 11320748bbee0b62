/** Text helpers for the HTML report: every string from a result file goes through `escapeHtml`. */

const HTML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Safe in element content and in quoted attribute values (HTML and inline SVG alike). */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (char) => HTML_ESCAPES[char]);
}

/** A number for people: grouped thousands, `significantDigits` at most, "n/a" for NaN/Infinity (a failed measurement). */
export function formatNumber(value: number, significantDigits = 6): string {
  if (!Number.isFinite(value)) return 'n/a';
  return value.toLocaleString('en-US', { maximumSignificantDigits: significantDigits });
}

/** "1,426.45 MB/s"; just "n/a" when nothing was measured. */
export function formatWithUnit(value: number, unit: string): string {
  return Number.isFinite(value) ? `${formatNumber(value)} ${unit}`.trimEnd() : 'n/a';
}

/** Cuts long labels so they fit a chart column; the full text goes in a tooltip beside it. */
export function truncate(text: string, maxChars: number): string {
  return text.length <= maxChars ? text : `${text.slice(0, Math.max(0, maxChars - 1))}…`;
}

/** A ratio only means something against a measured, non-zero baseline. */
export function hasUsableBaseline(baselineValue: number): boolean {
  return Number.isFinite(baselineValue) && baselineValue !== 0;
}
