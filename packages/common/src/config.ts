import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import { parse as parseYaml } from 'yaml';
import type { z } from 'zod';
import { ConfigError, ConfigErrors } from './errors.js';

/** Renders a field path the way a person writes it: `sites[0].origins[1].url`. */
export function formatPath(path: ReadonlyArray<PropertyKey>): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out ? `.${String(part)}` : String(part);
  }
  return out;
}

/** Validates `value` against `schema`; the first problem becomes a ConfigError naming the field. */
export function validate<S extends z.ZodType>(schema: S, value: unknown, file?: string): z.output<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  throw new ConfigError(formatPath(issue?.path ?? []), issue?.message ?? 'invalid', file);
}

/** Validates `value` against `schema`; every problem becomes one ConfigError of a ConfigErrors. */
export function validateAll<S extends z.ZodType>(schema: S, value: unknown, file?: string): z.output<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  throw new ConfigErrors(result.error.issues.map((issue) => new ConfigError(formatPath(issue.path), issue.message, file)));
}

/**
 * Replaces `${NAME}` in every string with the environment variable NAME, so secrets can stay out of
 * config files. An unset variable is an error naming the field, never an empty secret; every unset one
 * is named at once.
 */
export function expandEnv(value: unknown, env: NodeJS.ProcessEnv = process.env, file?: string): unknown {
  const problems: ConfigError[] = [];
  const expand = (item: unknown, path: PropertyKey[]): unknown => {
    if (typeof item === 'string') {
      return item.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (match, name: string) => {
        const found = env[name];
        if (found !== undefined) return found;
        problems.push(new ConfigError(formatPath(path), `environment variable ${name} is not set`, file));
        return match;
      });
    }
    if (Array.isArray(item)) return item.map((entry, index) => expand(entry, [...path, index]));
    if (item && typeof item === 'object') {
      return Object.fromEntries(Object.entries(item).map(([key, entry]) => [key, expand(entry, [...path, key])]));
    }
    return item;
  };
  const expanded = expand(value, []);
  if (problems.length) throw new ConfigErrors(problems);
  return expanded;
}

/** Parses YAML or JSON text (JSON is YAML; the extension only sharpens the error message). */
export function parseConfigText(text: string, file: string): unknown {
  try {
    return extname(file) === '.json' ? JSON.parse(text) : parseYaml(text, { prettyErrors: true });
  } catch (err) {
    const message = err instanceof Error ? err.message.split('\n')[0] : String(err);
    throw new ConfigError('', `cannot parse: ${message}`, file);
  }
}

/** Reads, parses and expands `${ENV}` in a config file, not yet validated; every failure names the file. */
export async function readConfigFile(file: string, env: NodeJS.ProcessEnv = process.env): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new ConfigError('', `cannot read: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, file);
  }
  return expandEnv(parseConfigText(text, file), env, file);
}

/** Reads, parses, expands `${ENV}` and validates a config file; every problem names file and field. */
export async function loadConfigFile<S extends z.ZodType>(file: string, schema: S): Promise<z.output<S>> {
  return validateAll(schema, await readConfigFile(file), file);
}

/** Which of `paths` (dotted, e.g. `http.listen`) differ between two configs: what a reload cannot apply live. */
export function changedPaths(before: unknown, after: unknown, paths: readonly string[]): string[] {
  const at = (value: unknown, path: string) =>
    path.split('.').reduce<unknown>((node, key) => (node && typeof node === 'object' && Object.hasOwn(node, key) ? (node as Record<string, unknown>)[key] : undefined), value);
  return paths.filter((path) => JSON.stringify(at(before, path)) !== JSON.stringify(at(after, path)));
}

/** `host:port` as the contract writes addresses; IPv6 hosts in brackets. */
export function parseHostPort(value: string): { host: string; port: number } {
  const match = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(value);
  if (!match) throw new ConfigError('', `"${value}" is not host:port`);
  const port = Number(match[3]);
  if (port > 65535) throw new ConfigError('', `port ${port} is out of range`);
  return { host: (match[1] ?? match[2]) as string, port };
}

export function formatHostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}
