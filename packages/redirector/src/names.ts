/** Domain names as this package keeps them: lower case, no trailing dot, labels joined by dots. */

const LABEL = /^(?!-)[a-z0-9_-]{1,63}(?<!-)$/;
/** Longest name in presentation form without the trailing dot (RFC 1035 §2.3.4: 255 octets on the wire). */
const MAX_NAME_LENGTH = 253;

export function normalizeName(name: string): string {
  return name.trim().toLowerCase().replace(/\.$/, '');
}

/** Why `name` (already normalized) is not a host name we can serve, or undefined when it is fine. */
export function nameProblem(name: string): string | undefined {
  if (name.length === 0) return 'is empty';
  if (name.length > MAX_NAME_LENGTH) return `is longer than ${MAX_NAME_LENGTH} characters`;
  const bad = name.split('.').find((label) => !LABEL.test(label));
  return bad === undefined ? undefined : `has an invalid label "${bad}"`;
}

/** True when `name` is `apex` or below it. */
export function isAtOrBelow(name: string, apex: string): boolean {
  return name === apex || name.endsWith(`.${apex}`);
}

/** `name` and each ancestor, most specific first: a.b.c → a.b.c, b.c, c. */
export function* selfAndAncestors(name: string): Generator<string> {
  let current = name;
  for (;;) {
    yield current;
    const dot = current.indexOf('.');
    if (dot < 0) return;
    current = current.slice(dot + 1);
  }
}
