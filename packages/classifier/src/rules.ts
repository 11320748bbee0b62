import ipaddr from 'ipaddr.js';
import { z } from 'zod';

/** Priority levels, 0 highest … 4 lowest (CONTRACT.md "Priorities"). */
export const HIGHEST_PRIORITY = 0;
export const LOWEST_PRIORITY = 4;
/** Applied when a site sets no `default` and no rule matches. */
export const DEFAULT_PRIORITY = 2;
/** Rules per site; each request walks them in order, so the list stays short. */
export const MAX_RULES = 1024;

const priority = z.number().int().min(HIGHEST_PRIORITY).max(LOWEST_PRIORITY);

/** An RFC 9110 token: what header names, cookie names and methods are made of. */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const token = (what: string) => z.string().regex(TOKEN, `must be a ${what} (letters, digits, !#$%&'*+-.^_\`|~)`);

/** `10.0.0.0/8`, `2001:db8::/32`, or one address (a /32 or /128). Only four-part dotted IPv4 is accepted. */
export function isCidr(value: string): boolean {
  const [address, bits, extra] = value.split('/');
  if (extra !== undefined || address === undefined) return false;
  if (bits === undefined) return ipaddr.IPv4.isValidFourPartDecimal(address) || ipaddr.IPv6.isValid(address);
  return ipaddr.IPv4.isValidCIDRFourPartDecimal(value) || ipaddr.IPv6.isValidCIDR(value);
}

export const ruleMatchSchema = z.strictObject({
  cidr: z.string().refine(isCidr, 'must be an IPv4 or IPv6 CIDR such as 10.1.0.0/16 or 2001:db8::/32').optional(),
  pathPrefix: z.string().startsWith('/', 'must start with /').max(2048).optional(),
  /** Compared with the request method as sent (methods are case-sensitive); written in upper case. */
  method: token('method').max(32).toUpperCase().optional(),
  header: z.strictObject({ name: token('header name').max(256), value: z.string().max(8192) }).optional(),
  cookie: z.strictObject({ name: token('cookie name').max(256), value: z.string().max(4096) }).optional(),
});

export const priorityRuleSchema = z.strictObject({ match: ruleMatchSchema, priority });

/** Body of `PUT /v1/sites/{site}/priorities`; issue paths name the field, e.g. `rules[1].match.cidr`. */
export const priorityRulesSchema = z.strictObject({
  default: priority.optional(),
  rules: z.array(priorityRuleSchema).max(MAX_RULES),
});

export type RuleMatch = z.output<typeof ruleMatchSchema>;
export type PriorityRule = z.output<typeof priorityRuleSchema>;
export type PriorityRules = z.output<typeof priorityRulesSchema>;
