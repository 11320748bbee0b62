import test from 'ava';
import { ConfigError, formatPath } from '@overlay/common';
import { compileRules, priorityRulesSchema, type ClassifiedRequest } from '@overlay/classifier';

function request(overrides: Partial<ClassifiedRequest> = {}): ClassifiedRequest {
  return { clientIp: '192.0.2.7', path: '/', method: 'GET', headers: {}, ...overrides };
}

type Row = [title: string, match: Record<string, unknown>, request: ClassifiedRequest, matches: boolean];

const rows: Row[] = [
  ['empty match matches everything', {}, request(), true],
  ['IPv4 CIDR inside', { cidr: '10.1.0.0/16' }, request({ clientIp: '10.1.255.3' }), true],
  ['IPv4 CIDR outside', { cidr: '10.1.0.0/16' }, request({ clientIp: '10.2.0.1' }), false],
  ['IPv4 CIDR with host bits set still matches by prefix', { cidr: '10.1.2.3/16' }, request({ clientIp: '10.1.9.9' }), true],
  ['/0 matches every IPv4 client', { cidr: '0.0.0.0/0' }, request({ clientIp: '203.0.113.9' }), true],
  ['/0 IPv4 does not match an IPv6 client', { cidr: '0.0.0.0/0' }, request({ clientIp: '2001:db8::1' }), false],
  ['bare IPv4 address is a /32', { cidr: '10.1.2.3' }, request({ clientIp: '10.1.2.3' }), true],
  ['bare IPv4 address does not match its neighbour', { cidr: '10.1.2.3' }, request({ clientIp: '10.1.2.4' }), false],
  ['IPv4-mapped client matches an IPv4 CIDR', { cidr: '10.1.0.0/16' }, request({ clientIp: '::ffff:10.1.0.9' }), true],
  ['IPv4-mapped CIDR matches a plain IPv4 client', { cidr: '::ffff:10.1.0.0/112' }, request({ clientIp: '10.1.0.9' }), true],
  ['IPv6 CIDR inside', { cidr: '2001:db8::/32' }, request({ clientIp: '2001:db8:ffff::1' }), true],
  ['IPv6 CIDR outside', { cidr: '2001:db8::/32' }, request({ clientIp: '2001:db9::1' }), false],
  ['IPv6 /127 boundary inside', { cidr: '2001:db8::/127' }, request({ clientIp: '2001:db8::1' }), true],
  ['IPv6 /127 boundary outside', { cidr: '2001:db8::/127' }, request({ clientIp: '2001:db8::2' }), false],
  ['IPv6 CIDR does not match an IPv4 client', { cidr: '::/0' }, request({ clientIp: '10.0.0.1' }), false],
  ['a client address that is not an IP matches no CIDR', { cidr: '0.0.0.0/0' }, request({ clientIp: 'unix:/tmp/s' }), false],
  ['path prefix', { pathPrefix: '/api/' }, request({ path: '/api/v1/cart' }), true],
  ['path prefix is a plain string prefix', { pathPrefix: '/api' }, request({ path: '/apix' }), true],
  ['path prefix miss', { pathPrefix: '/api/' }, request({ path: '/static/a.css' }), false],
  ['method', { method: 'POST' }, request({ method: 'POST' }), true],
  ['method written in lower case in the rule', { method: 'post' }, request({ method: 'POST' }), true],
  ['method miss', { method: 'POST' }, request({ method: 'GET' }), false],
  ['header name is case-insensitive', { header: { name: 'X-Tier', value: 'gold' } }, request({ headers: { 'x-tier': 'gold' } }), true],
  ['header value is exact', { header: { name: 'x-tier', value: 'gold' } }, request({ headers: { 'x-tier': 'Gold' } }), false],
  ['header absent', { header: { name: 'x-tier', value: 'gold' } }, request(), false],
  ['header with repeated values', { header: { name: 'x-tier', value: 'gold' } }, request({ headers: { 'x-tier': ['silver', 'gold'] } }), true],
  ['cookie among others', { cookie: { name: 'plan', value: 'pro' } }, request({ headers: { cookie: 'a=1; plan=pro; b=2' } }), true],
  ['cookie without spaces', { cookie: { name: 'plan', value: 'pro' } }, request({ headers: { cookie: 'a=1;plan=pro' } }), true],
  ['quoted cookie value', { cookie: { name: 'plan', value: 'pro' } }, request({ headers: { cookie: 'plan="pro"' } }), true],
  ['first cookie of a name wins', { cookie: { name: 'plan', value: 'pro' } }, request({ headers: { cookie: 'plan=free; plan=pro' } }), false],
  ['cookie name is not a suffix match', { cookie: { name: 'plan', value: 'pro' } }, request({ headers: { cookie: 'oldplan=pro' } }), false],
  ['cookie value containing =', { cookie: { name: 't', value: 'a=b' } }, request({ headers: { cookie: 't=a=b' } }), true],
  ['no Cookie header', { cookie: { name: 'plan', value: 'pro' } }, request(), false],
  ['every present field must hold (all do)', { cidr: '10.0.0.0/8', method: 'GET', pathPrefix: '/a' }, request({ clientIp: '10.0.0.1', path: '/a/b' }), true],
  ['every present field must hold (one fails)', { cidr: '10.0.0.0/8', method: 'POST', pathPrefix: '/a' }, request({ clientIp: '10.0.0.1', path: '/a/b' }), false],
];

for (const [title, match, req, matches] of rows) {
  test(`match: ${title}`, (t) => {
    const classify = compileRules({ default: 3, rules: [{ match, priority: 0 }] });
    t.deepEqual(classify(req), matches ? { priority: 0, rule: 0 } : { priority: 3, rule: 'default' });
  });
}

test('the first matching rule wins, later ones are not consulted', (t) => {
  const classify = compileRules({
    rules: [
      { match: { pathPrefix: '/admin' }, priority: 4 },
      { match: { cidr: '10.0.0.0/8' }, priority: 0 },
      { match: {}, priority: 1 },
    ],
  });
  t.deepEqual(classify(request({ clientIp: '10.0.0.1', path: '/admin/x' })), { priority: 4, rule: 0 });
  t.deepEqual(classify(request({ clientIp: '10.0.0.1', path: '/shop' })), { priority: 0, rule: 1 });
  t.deepEqual(classify(request({ clientIp: '192.0.2.1', path: '/shop' })), { priority: 1, rule: 2 });
});

test('no rule matching gives the default, 2 unless the site sets one', (t) => {
  t.deepEqual(compileRules({ rules: [] })(request()), { priority: 2, rule: 'default' });
  t.deepEqual(compileRules({ default: 0, rules: [{ match: { method: 'PUT' }, priority: 4 }] })(request()), { priority: 0, rule: 'default' });
});

type Invalid = [title: string, body: unknown, field: string];

const invalid: Invalid[] = [
  ['rules missing', {}, 'rules'],
  ['bad CIDR in the second rule', { rules: [{ match: {}, priority: 1 }, { match: { cidr: '10.0.0/8' }, priority: 1 }] }, 'rules[1].match.cidr'],
  ['prefix length too long', { rules: [{ match: { cidr: '10.0.0.0/33' }, priority: 1 }] }, 'rules[0].match.cidr'],
  ['IPv4 not in four parts', { rules: [{ match: { cidr: '10/8' }, priority: 1 }] }, 'rules[0].match.cidr'],
  ['priority above 4', { rules: [{ match: {}, priority: 5 }] }, 'rules[0].priority'],
  ['priority not an integer', { rules: [{ match: {}, priority: 1.5 }] }, 'rules[0].priority'],
  ['default out of range', { default: -1, rules: [] }, 'default'],
  ['path prefix without a slash', { rules: [{ match: { pathPrefix: 'api' }, priority: 1 }] }, 'rules[0].match.pathPrefix'],
  ['method with a space', { rules: [{ match: { method: 'GE T' }, priority: 1 }] }, 'rules[0].match.method'],
  ['header without a value', { rules: [{ match: { header: { name: 'x' } }, priority: 1 }] }, 'rules[0].match.header.value'],
  ['cookie name with a space', { rules: [{ match: { cookie: { name: 'a b', value: '1' } }, priority: 1 }] }, 'rules[0].match.cookie.name'],
  ['unknown match field (a typo must not match everything)', { rules: [{ match: { path: '/a' }, priority: 1 }] }, 'rules[0].match'],
];

for (const [title, body, field] of invalid) {
  test(`schema rejects: ${title}`, (t) => {
    const result = priorityRulesSchema.safeParse(body);
    t.false(result.success);
    t.is(formatPath(result.error?.issues[0]?.path ?? []), field);
    const error = t.throws(() => compileRules(body as never), { instanceOf: ConfigError });
    t.is(error?.field, field);
  });
}

test('schema keeps a valid body and spells methods in upper case', (t) => {
  const body = { default: 1, rules: [{ match: { cidr: '2001:db8::/32', method: 'get', header: { name: 'X-A', value: 'b' } }, priority: 0 }] };
  t.deepEqual(priorityRulesSchema.parse(body), { ...body, rules: [{ ...body.rules[0], match: { ...body.rules[0].match, method: 'GET' } }] });
});
