/**
 * The value of cookie `name` in a Cookie request header (RFC 6265 §5.4: `a=1; b=2`), or undefined.
 * The first pair with that name wins, as browsers send the most specific cookie first. A value in
 * double quotes is compared without them; nothing is percent-decoded.
 */
export function cookieValue(header: string | string[] | undefined, name: string): string | undefined {
  if (header === undefined) return undefined;
  const text = Array.isArray(header) ? header.join('; ') : header;
  let start = 0;
  while (start < text.length) {
    let end = text.indexOf(';', start);
    if (end < 0) end = text.length;
    const equals = text.indexOf('=', start);
    if (equals > start && equals < end && text.slice(start, equals).trim() === name) {
      const value = text.slice(equals + 1, end).trim();
      return value.length >= 2 && value.startsWith('"') && value.endsWith('"') ? value.slice(1, -1) : value;
    }
    start = end + 1;
  }
  return undefined;
}
