import { readFileSync } from 'node:fs';
import { ConfigError } from './errors.js';

/** A PEM text as is, anything else as the path of a PEM file; a file that cannot be read is a ConfigError naming `field`. */
export function readPem(value: string, field: string): string {
  if (value.includes('-----BEGIN')) return value;
  try {
    return readFileSync(value, 'utf8');
  } catch (err) {
    throw new ConfigError(field, `cannot read ${value}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
}
