import { validate } from '@overlay/common';
import type { z } from 'zod';
import { cidrContains, parseAddress, parseCidr, type Address } from './address.js';
import { cookieValue } from './cookie.js';
import { DEFAULT_PRIORITY, priorityRulesSchema, type RuleMatch } from './rules.js';

/** What the classifier looks at; `headers` as Node gives them (lower-case names). */
export interface ClassifiedRequest {
  clientIp: string;
  path: string;
  method: string;
  headers: Readonly<Record<string, string | string[] | undefined>>;
}

export interface Classification {
  priority: number;
  /** Index of the rule that matched, or 'default' when none did. */
  rule: number | 'default';
}

export type Classifier = (request: ClassifiedRequest) => Classification;

/**
 * One request being classified. The client address and the Cookie header are parsed at most once,
 * and only if some rule asks for them.
 */
class RequestView {
  private address: Address | undefined | null = null;

  constructor(readonly request: ClassifiedRequest) {}

  clientAddress(): Address | undefined {
    if (this.address === null) this.address = parseAddress(this.request.clientIp);
    return this.address;
  }
}

type Check = (view: RequestView) => boolean;

function compileMatch(match: RuleMatch): Check[] {
  const checks: Check[] = [];
  if (match.cidr !== undefined) {
    const cidr = parseCidr(match.cidr);
    checks.push((view) => {
      const address = view.clientAddress();
      return address !== undefined && cidrContains(cidr, address);
    });
  }
  if (match.pathPrefix !== undefined) {
    const prefix = match.pathPrefix;
    checks.push((view) => view.request.path.startsWith(prefix));
  }
  if (match.method !== undefined) {
    const method = match.method;
    checks.push((view) => view.request.method === method);
  }
  if (match.header !== undefined) {
    const name = match.header.name.toLowerCase();
    const value = match.header.value;
    checks.push((view) => {
      const found = view.request.headers[name];
      return Array.isArray(found) ? found.includes(value) : found === value;
    });
  }
  if (match.cookie !== undefined) {
    const { name, value } = match.cookie;
    checks.push((view) => cookieValue(view.request.headers.cookie, name) === value);
  }
  return checks;
}

/**
 * Turns a site's priority rules into a function from request to priority: the first rule whose every
 * present field holds wins, else the site's default (2 unless set). Validates first and throws a
 * ConfigError naming the field (`rules[1].match.cidr`) on a bad body.
 */
export function compileRules(body: z.input<typeof priorityRulesSchema>): Classifier {
  const rules = validate(priorityRulesSchema, body);
  const compiled = rules.rules.map((rule, index) => ({
    checks: compileMatch(rule.match),
    result: Object.freeze({ priority: rule.priority, rule: index }) as Classification,
  }));
  const fallback: Classification = Object.freeze({ priority: rules.default ?? DEFAULT_PRIORITY, rule: 'default' });

  if (compiled.length === 0) return () => fallback; // no rules: nothing to look at per request
  return (request) => {
    const view = new RequestView(request);
    for (const { checks, result } of compiled) {
      if (checks.every((check) => check(view))) return result;
    }
    return fallback;
  };
}
