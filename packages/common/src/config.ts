import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import { parse as parseYaml } from 'yaml';
import type { z } from 'zod';
import { ConfigError } from './errors.js';

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

/**
 * Replaces `${NAME}` in every string with the environment variable NAME, so secrets can stay out of
 * config files. An unset variable is an error naming the field, never an empty secret.
 */
export function expandEnv(value: unknown, env: NodeJS.ProcessEnv = process.env, path: PropertyKey[] = []): unknown {
  if (typeof value === 'string') {
    return value.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_match, name: string) => {
      const found = env[name];
      if (found === undefined) throw new ConfigError(formatPath(path), `environment variable ${name} is not set`);
      return found;
    });
  }
  if (Array.isArray(value)) return value.map((item, index) => expandEnv(item, env, [...path, index]));
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, expandEnv(item, env, [...path, key])]));
  }
  return value;
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

/** Reads, parses, expands `${ENV}` and validates a config file; every failure names file and field. */
export async function loadConfigFile<S extends z.ZodType>(file: string, schema: S): Promise<z.output<S>> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new ConfigError('', `cannot read: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, file);
  }
  let expanded: unknown;
  try {
    expanded = expandEnv(parseConfigText(text, file));
  } catch (err) {
    if (err instanceof ConfigError && err.file === undefined) throw new ConfigError(err.field, err.message.replace(/^[^:]*: /, ''), file);
    throw err;
  }
  return validate(schema, expanded, file);
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
