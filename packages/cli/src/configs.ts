import { readFile } from 'node:fs/promises';
import { ConfigError, configProblems, parseConfigText } from '@overlay/common';

/** The roles whose config files `overlay check` and reloads read. */
export const CONFIG_ROLES = ['manager', 'back-end', 'front-end', 'redirector'] as const;
export type ConfigRole = (typeof CONFIG_ROLES)[number];

/** Each role's own loader: read, expand `${ENV}`, validate (every problem), resolve relative paths. */
export const loadRoleConfig = {
  manager: async (file: string) => (await import('@overlay/manager')).loadManagerConfig(file),
  'back-end': async (file: string) => (await import('@overlay/backend')).loadBackEndConfig(file),
  'front-end': async (file: string) => (await import('@overlay/frontend')).loadFrontEndConfig(file),
  redirector: async (file: string) => (await import('@overlay/redirector')).loadRedirectorConfig(file),
} as const satisfies Record<ConfigRole, (file: string) => Promise<unknown>>;

/**
 * Which role a config is for, from the fields only that role's file has: a manager names its `role`,
 * a back-end its `tunnel`, a front-end its `http` listener, a redirector its `zones`.
 */
export function detectRole(value: unknown): ConfigRole | undefined {
  if (!value || typeof value !== 'object' || Array.isArray(value)) return undefined;
  const has = (key: string) => Object.hasOwn(value, key);
  const found: ConfigRole[] = [];
  if (has('role') && has('token')) found.push('manager');
  if (has('tunnel')) found.push('back-end');
  if (has('http')) found.push('front-end');
  if (has('zones')) found.push('redirector');
  return found.length === 1 ? found[0] : undefined;
}

export interface CheckResult {
  role: ConfigRole | undefined;
  /** One line per problem, each naming the file and the field. Empty when the file is valid. */
  problems: string[];
}

/** Checks a config file of any role (detected unless given) and returns every problem it has. */
export async function checkConfigFile(file: string, role?: ConfigRole): Promise<CheckResult> {
  let resolved = role;
  if (resolved === undefined) {
    try {
      resolved = detectRole(parseConfigText(await readFile(file, 'utf8'), file));
    } catch (err) {
      if (err instanceof ConfigError) return { role, problems: configProblems(err).map((problem) => problem.message) };
      return { role, problems: [`${file}: (root): cannot read: ${(err as NodeJS.ErrnoException).code ?? String(err)}`] };
    }
    if (resolved === undefined) {
      return { role, problems: [`${file}: (root): cannot tell which role this file is for; give --role (${CONFIG_ROLES.join(', ')})`] };
    }
  }
  try {
    await loadRoleConfig[resolved](file);
    return { role: resolved, problems: [] };
  } catch (err) {
    if (err instanceof ConfigError) return { role: resolved, problems: configProblems(err).map((problem) => problem.message) };
    throw err;
  }
}
