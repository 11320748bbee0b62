import { parseHostPort } from '@overlay/common';
import { z } from 'zod';

/** The same name rules as the gateways' own configs, so whatever the manager accepts they accept too. */
export const siteNameSchema = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,252}$/, 'site names are letters, digits, . _ - (at most 253)');
export const gatewayIdSchema = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/, 'gateway ids are letters, digits, . _ - (at most 128)');

/** A DNS name as clients send it in Host; stored lower-case without a trailing dot. */
export const domainSchema = z
  .string()
  .max(253)
  .regex(/^[A-Za-z0-9]([A-Za-z0-9-]{0,62})(\.[A-Za-z0-9]([A-Za-z0-9-]{0,62}))*\.?$/, 'must be a DNS name such as shop.example.com')
  .transform((name) => name.toLowerCase().replace(/\.$/, ''));

function isHostPort(value: string): boolean {
  try {
    parseHostPort(value);
    return true;
  } catch {
    return false;
  }
}

export const hostPortSchema = z.string().refine(isHostPort, 'must be host:port, e.g. 127.0.0.1:7070');
