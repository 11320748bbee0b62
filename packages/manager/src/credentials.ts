import { createHash, timingSafeEqual } from 'node:crypto';

/**
 * What a bearer token may do (docs/api.md "Tokens"): `admin` everything, `read` GET calls, the feed and the
 * dashboard, `gateway` only the feed, saying hello and reporting as its own gateway id.
 */
export type Access = { scope: 'admin' } | { scope: 'read' } | { scope: 'gateway'; gateway: string };

/** The token lists of a manager config; each list may hold several tokens at once, for rotation without a gap. */
export interface TokenSets {
  admin: readonly string[];
  read: readonly string[];
  /** Per gateway id, the tokens that gateway may use. */
  gateways: Readonly<Record<string, readonly string[]>>;
}

export type Authenticator = (presented: string | undefined) => Access | undefined;

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

/** Every configured token with what it grants; `path` is its config field, for duplicate errors. */
export function tokenEntries(sets: TokenSets): Array<{ token: string; access: Access; path: Array<string | number> }> {
  return [
    ...sets.admin.map((token, index) => ({ token, access: { scope: 'admin' } as const, path: ['token', index] })),
    ...sets.read.map((token, index) => ({ token, access: { scope: 'read' } as const, path: ['readTokens', index] })),
    ...Object.entries(sets.gateways).flatMap(([gateway, tokens]) =>
      tokens.map((token, index) => ({ token, access: { scope: 'gateway', gateway } as const, path: ['gatewayTokens', gateway, index] })),
    ),
  ];
}

/** Checks a presented token against every configured one in constant time (equal-length digests). */
export function createAuthenticator(sets: TokenSets): Authenticator {
  const entries = tokenEntries(sets).map(({ token, access }) => ({ digest: digest(token), access }));
  return (presented) => {
    if (presented === undefined) return undefined;
    const candidate = digest(presented);
    let access: Access | undefined;
    // Compare with every token, not stopping at a match, so timing says nothing about which matched.
    for (const entry of entries) if (timingSafeEqual(candidate, entry.digest) && access === undefined) access = entry.access;
    return access;
  };
}

/** Whether `access` may register and report as gateway `id` on the feed. */
export function mayActAs(access: Access, id: string): boolean {
  return access.scope === 'admin' || (access.scope === 'gateway' && access.gateway === id);
}
