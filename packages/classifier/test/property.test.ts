import test from 'ava';
import fc from 'fast-check';
import ipaddr from 'ipaddr.js';
import { compileRules, type ClassifiedRequest, type PriorityRule, type RuleMatch } from '@overlay/classifier';

/**
 * A slow reference written differently from the package: ipaddr.js's own `match` for CIDRs,
 * split-based cookie parsing, a linear scan. The compiled classifier must agree with it everywhere.
 */
function referenceCidrMatch(cidr: string, clientIp: string): boolean {
  if (!ipaddr.isValid(clientIp)) return false;
  const client = ipaddr.process(clientIp);
  let [network, bits] = cidr.includes('/') ? ipaddr.parseCIDR(cidr) : [ipaddr.parse(cidr), cidr.includes(':') ? 128 : 32];
  if (network instanceof ipaddr.IPv6 && network.isIPv4MappedAddress() && bits >= 96) {
    network = network.toIPv4Address();
    bits -= 96;
  }
  if (client.kind() !== network.kind()) return false;
  return client.match(network, bits);
}

function referenceCookie(header: string | undefined, name: string): string | undefined {
  for (const pair of (header ?? '').split(';')) {
    const at = pair.indexOf('=');
    if (at < 0 || pair.slice(0, at).trim() !== name) continue;
    const value = pair.slice(at + 1).trim();
    return /^".*"$/.test(value) && value.length >= 2 ? value.slice(1, -1) : value;
  }
  return undefined;
}

function referenceMatches(match: RuleMatch, request: ClassifiedRequest): boolean {
  const headers = request.headers as Record<string, string | undefined>;
  if (match.cidr !== undefined && !referenceCidrMatch(match.cidr, request.clientIp)) return false;
  if (match.pathPrefix !== undefined && request.path.slice(0, match.pathPrefix.length) !== match.pathPrefix) return false;
  if (match.method !== undefined && match.method.toUpperCase() !== request.method) return false;
  if (match.header !== undefined) {
    const entry = Object.entries(headers).find(([key]) => key.toLowerCase() === match.header!.name.toLowerCase());
    if (entry?.[1] !== match.header.value) return false;
  }
  if (match.cookie !== undefined && referenceCookie(headers.cookie, match.cookie.name) !== match.cookie.value) return false;
  return true;
}

// Small alphabets so rules and requests collide often enough to exercise both outcomes.
const clientIps = ['10.1.2.3', '10.1.2.256', '::FFFF:10.1.2.3', '10.1.200.1', '10.2.0.1', '192.0.2.1', '::ffff:10.1.2.3', '2001:db8::1', '2001:db8:1::5', '::1', 'nonsense'];
const cidrs = ['10.0.0.0/8', '10.1.0.0/16', '10.1.2.3', '10.1.2.0/31', '0.0.0.0/0', '192.0.2.0/24', '::ffff:10.1.0.0/112', '2001:db8::/32', '2001:db8::/48', '::/0', '::1'];
const paths = ['/', '/api', '/api/', '/api/v1', '/static/x.css', '/apix'];
const methods = ['GET', 'POST', 'PUT', 'get'];
const headerNames = ['X-Tier', 'x-tier', 'accept'];
const headerValues = ['gold', 'silver', ''];
const cookieNames = ['plan', 'id'];
const cookieValues = ['pro', 'free', '"pro"'];

const matchArb: fc.Arbitrary<RuleMatch> = fc.record(
  {
    cidr: fc.constantFrom(...cidrs),
    pathPrefix: fc.constantFrom(...paths),
    method: fc.constantFrom(...methods),
    header: fc.record({ name: fc.constantFrom(...headerNames), value: fc.constantFrom(...headerValues) }),
    cookie: fc.record({ name: fc.constantFrom(...cookieNames), value: fc.constantFrom('pro', 'free') }),
  },
  { requiredKeys: [] },
);

const ruleArb: fc.Arbitrary<PriorityRule> = fc.record({ match: matchArb, priority: fc.integer({ min: 0, max: 4 }) });

const cookieHeaderArb = fc
  .array(fc.tuple(fc.constantFrom(...cookieNames, 'other'), fc.constantFrom(...cookieValues), fc.constantFrom(';', '; ')), { maxLength: 4 })
  .map((pairs) => pairs.map(([name, value, separator], i) => `${i ? separator : ''}${name}=${value}`).join(''));

const requestArb: fc.Arbitrary<ClassifiedRequest> = fc.record({
  clientIp: fc.constantFrom(...clientIps),
  path: fc.constantFrom(...paths),
  method: fc.constantFrom('GET', 'POST', 'PUT'),
  headers: fc.record(
    { 'x-tier': fc.constantFrom(...headerValues), accept: fc.constantFrom(...headerValues), cookie: cookieHeaderArb },
    { requiredKeys: [] },
  ),
});

test('compiled rules agree with a slow reference on random rule sets and requests', (t) => {
  fc.assert(
    fc.property(
      fc.array(ruleArb, { maxLength: 8 }),
      fc.option(fc.integer({ min: 0, max: 4 }), { nil: undefined }),
      fc.array(requestArb, { minLength: 1, maxLength: 20 }),
      (rules, fallback, requests) => {
        const classify = compileRules({ default: fallback, rules });
        for (const request of requests) {
          const index = rules.findIndex((rule) => referenceMatches(rule.match, request));
          const expected = index < 0 ? { priority: fallback ?? 2, rule: 'default' } : { priority: rules[index].priority, rule: index };
          const got = classify(request);
          if (got.priority !== expected.priority || got.rule !== expected.rule) return false;
        }
        return true;
      },
    ),
    { numRuns: 2000 },
  );
  t.pass();
});
