import assert from 'node:assert/strict';
import test from 'ava';
import fc from 'fast-check';
import { ConfigError } from '@overlay/common';
import { HEAD_LIMITS, parseResponseHead, parseStreamHead, type RequestHead, type ResponseHead, type TcpHead } from '@overlay/stream-heads';

function requestHead(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const head: RequestHead = {
    kind: 'http', site: 'shop', method: 'GET', target: '/a?b=c', headers: [['accept', '*/*'], ['x-forwarded-for', '10.0.0.1']],
    client: { ip: '10.0.0.1', port: 40000 }, frontEnd: 'fe-1', priority: 2, hasBody: false,
  };
  return { ...head, ...overrides };
}

function responseHead(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const head: ResponseHead = { status: 200, headers: [['content-length', '2']], backEnd: 'be-1', origin: 'o1' };
  return { ...head, ...overrides };
}

test('well-formed heads come back equal, unknown fields dropped', (t) => {
  const request = requestHead({ upgrade: true });
  t.deepEqual(parseStreamHead({ ...request, future: 'ignored' }), request);
  const tcp: TcpHead = { kind: 'tcp', site: 'db', client: { ip: '::1', port: 1 }, frontEnd: 'fe-1', priority: 0 };
  t.deepEqual(parseStreamHead({ ...tcp, headers: [] }), tcp);
  const answer = responseHead({ error: { code: 'ERR_QUEUE_TIMEOUT', retryable: false } });
  t.deepEqual(parseResponseHead({ ...answer, extra: 1 }), answer);
  t.deepEqual(parseResponseHead({ status: 101, headers: [], backEnd: '' }), { status: 101, headers: [], backEnd: '' });
});

const badRequests: Array<[string, unknown, string]> = [
  ['not an object', 'GET / HTTP/1.1', ''],
  ['null', null, ''],
  ['unknown kind', { kind: 'udp', site: 'shop' }, 'kind'],
  ['empty site', requestHead({ site: '' }), 'site'],
  ['site too long', requestHead({ site: 'a'.repeat(HEAD_LIMITS.siteChars + 1) }), 'site'],
  ['method with a space', requestHead({ method: 'G E T' }), 'method'],
  ['method too long', requestHead({ method: 'A'.repeat(33) }), 'method'],
  ['missing target', requestHead({ target: undefined }), 'target'],
  ['headers not a list', requestHead({ headers: { accept: '*/*' } }), 'headers'],
  ['too many headers', requestHead({ headers: Array.from({ length: HEAD_LIMITS.headers + 1 }, () => ['a', 'b']) }), 'headers'],
  ['a one-element pair', requestHead({ headers: [['accept', '*/*'], ['a']] }), 'headers[1]'],
  ['a three-element pair', requestHead({ headers: [['a', 'b', 'c']] }), 'headers[0]'],
  ['a numeric name', requestHead({ headers: [[1, 'b']] }), 'headers[0][0]'],
  ['a value too long', requestHead({ headers: [['a', 'v'.repeat(HEAD_LIMITS.headerValueChars + 1)]] }), 'headers[0][1]'],
  ['client missing', requestHead({ client: undefined }), 'client'],
  ['client port out of range', requestHead({ client: { ip: '10.0.0.1', port: 65536 } }), 'client.port'],
  ['priority a fraction', requestHead({ priority: 1.5 }), 'priority'],
  ['priority too high', requestHead({ priority: HEAD_LIMITS.maxPriority + 1 }), 'priority'],
  ['hasBody missing', requestHead({ hasBody: undefined }), 'hasBody'],
  ['upgrade not a boolean', requestHead({ upgrade: 'websocket' }), 'upgrade'],
  ['tcp without client', { kind: 'tcp', site: 'db', frontEnd: 'fe', priority: 1 }, 'client'],
];

for (const [what, meta, field] of badRequests) {
  test(`a stream head with ${what} is refused naming ${field}`, (t) => {
    const error = t.throws(() => parseStreamHead(meta), { instanceOf: ConfigError });
    t.is(error?.field, field);
  });
}

const badResponses: Array<[string, unknown, string]> = [
  ['status 600', responseHead({ status: 600 }), 'status'],
  ['status as text', responseHead({ status: '200' }), 'status'],
  ['no backEnd', responseHead({ backEnd: undefined }), 'backEnd'],
  ['origin not text', responseHead({ origin: 7 }), 'origin'],
  ['error without retryable', responseHead({ error: { code: 'ERR_X' } }), 'error.retryable'],
  ['error code too long', responseHead({ error: { code: 'E'.repeat(HEAD_LIMITS.errorCodeChars + 1), retryable: true } }), 'error.code'],
  ['a bad header pair', responseHead({ headers: [['a', 1]] }), 'headers[0][1]'],
];

for (const [what, meta, field] of badResponses) {
  test(`a response head with ${what} is refused naming ${field}`, (t) => {
    const error = t.throws(() => parseResponseHead(meta), { instanceOf: ConfigError });
    t.is(error?.field, field);
  });
}

const token = fc.stringMatching(/^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,32}$/);
const pair = fc.tuple(fc.string({ maxLength: 40 }), fc.string({ maxLength: 80 }));
const arbitraryRequest = fc.record(
  {
    kind: fc.constant('http' as const),
    site: fc.string({ minLength: 1, maxLength: HEAD_LIMITS.siteChars }),
    method: token,
    target: fc.string({ minLength: 1, maxLength: 200 }),
    headers: fc.array(pair, { maxLength: 20 }),
    client: fc.record({ ip: fc.string({ maxLength: HEAD_LIMITS.ipChars }), port: fc.integer({ min: 0, max: 65535 }) }, { noNullPrototype: true }),
    frontEnd: fc.string({ maxLength: HEAD_LIMITS.gatewayIdChars }),
    priority: fc.integer({ min: 0, max: HEAD_LIMITS.maxPriority }),
    upgrade: fc.boolean(),
    hasBody: fc.boolean(),
  },
  { noNullPrototype: true, requiredKeys: ['kind', 'site', 'method', 'target', 'headers', 'client', 'frontEnd', 'priority', 'hasBody'] },
);

test('every head within the limits is accepted as it is', (t) => {
  fc.assert(fc.property(arbitraryRequest, (head) => {
    assert.deepEqual(parseStreamHead(head), head);
  }), { numRuns: 300 });
  t.pass();
});

test('breaking any one field of a good head gets it refused naming that field', (t) => {
  const breakers: Record<string, unknown[]> = {
    site: ['', 5, null], method: ['', 'A B', 'A'.repeat(33)], target: ['', 1], headers: [[['a']], 'x'],
    client: [null, { ip: 'x', port: -1 }], frontEnd: [3, 'f'.repeat(HEAD_LIMITS.gatewayIdChars + 1)],
    priority: [-1, 16, 0.5, '1'], hasBody: ['yes', undefined], upgrade: [1, 'true'],
  };
  fc.assert(fc.property(arbitraryRequest, fc.constantFrom(...Object.keys(breakers)), fc.nat(), (head, field, pick) => {
    const values = breakers[field];
    const broken = { ...head, [field]: values[pick % values.length] };
    assert.throws(() => parseStreamHead(broken), (error) => error instanceof ConfigError && error.field.startsWith(field));
  }), { numRuns: 300 });
  t.pass();
});
