import test from 'ava';
import { backEndStateFrom, frontEndStateFrom, redirectorStateFrom, reportedRingBytes } from '@overlay/control';
import { reportSchema, type ManagerState } from '@overlay/manager';

const gateway = (addresses: Record<string, string>, extra: Partial<ManagerState['frontEnds'][string]> = {}) => ({
  addresses, healthy: true, load: 0.2, lastReport: 1, tunnels: [], ringBytes: [0, 0, 0, 0, 0], ...extra,
});

const state: ManagerState = {
  version: 7,
  role: 'both',
  rings: { weights: [10, 8, 6, 4, 2] },
  zoneRecords: { 'example.test': [{ name: '@', type: 'TXT', data: 'managed' }] },
  sites: {
    shop: {
      domains: ['shop.example.test'], mode: 'http', origins: [{ url: 'http://10.0.0.1:80' }], routes: [],
      frontEnds: ['pop-a', 'pop-b'], backEnds: ['be-1', 'be-ghost'], priorities: { default: 1, rules: [] },
    },
    game: {
      domains: ['game.example.test'], mode: 'tcp', origins: [{ url: 'tcp://10.0.0.2:5000' }], routes: [],
      frontEnds: ['pop-b'], backEnds: ['be-2'], listen: '0.0.0.0:9000', priorities: { default: 2, rules: [] },
    },
    elsewhere: {
      domains: ['www.other.test'], mode: 'http', origins: [{ url: 'http://10.0.0.3:80' }], routes: [],
      frontEnds: ['pop-a'], backEnds: ['be-1'], priorities: { default: 2, rules: [] },
    },
  },
  frontEnds: {
    'pop-a': gateway({ http: '127.0.1.1:8080' }, { pop: 'pop-a' }),
    'pop-b': gateway({ http: '127.0.1.2:8080' }, { pop: 'pop-b', healthy: false, load: 3 }),
    'pop-c': gateway({}, { pop: 'pop-c' }),
  },
  backEnds: {
    'be-1': gateway({ tunnel: '10.9.0.1:7000' }),
    'be-2': gateway({ tunnel: '10.9.0.2:7000' }),
  },
} as ManagerState;

test('a front-end takes only its sites, reachable back-ends with its own key, and TCP listeners on its own host', (t) => {
  const a = frontEndStateFrom(state, { id: 'pop-a', httpHost: '127.0.1.1', key: 'front-end-key-0123456789' });
  t.deepEqual(Object.keys(a.sites ?? {}).sort(), ['elsewhere', 'shop']);
  t.deepEqual(a.sites?.shop.backEnds, ['be-1'], 'a back-end that never registered a tunnel address is left out');
  t.deepEqual(a.backEnds, { 'be-1': { tunnel: '10.9.0.1:7000', key: 'front-end-key-0123456789' } });
  t.deepEqual(a.rings, { weights: [10, 8, 6, 4, 2] });
  const b = frontEndStateFrom(state, { id: 'pop-b', httpHost: '127.0.1.2', key: 'front-end-key-0123456789' });
  t.is(b.sites?.game.listen, '127.0.1.2:9000');
  t.is(b.sites?.game.mode, 'tcp');
});

test('a back-end takes the sites assigned to it, with origins and routes', (t) => {
  const one = backEndStateFrom(state, { id: 'be-1' });
  t.deepEqual(Object.keys(one.sites ?? {}).sort(), ['elsewhere', 'shop']);
  t.deepEqual(one.sites?.shop, { mode: 'http', origins: [{ url: 'http://10.0.0.1:80' }], routes: [] });
  t.deepEqual(Object.keys(backEndStateFrom(state, { id: 'be-3' }).sites ?? {}), []);
});

test('the redirector takes names inside its zones and front-ends with an HTTP address, health and capped load', (t) => {
  const base = { zones: { 'example.test': { ns: [{ name: 'ns1.example.test', addresses: ['127.0.0.1'] }] } } };
  const dns = redirectorStateFrom(state, base, (name) => name === 'example.test' || name.endsWith('.example.test'));
  t.deepEqual(Object.keys(dns.sites ?? {}).sort(), ['game', 'shop'], 'www.other.test lies outside the zones');
  t.deepEqual(dns.frontEnds?.['pop-b'], { addresses: ['127.0.1.2'], pop: 'pop-b', healthy: false, load: 1 });
  t.false('pop-c' in (dns.frontEnds ?? {}), 'a front-end with no HTTP address cannot be answered');
  t.deepEqual(dns.sites?.shop.frontEnds, ['pop-a', 'pop-b']);
  t.deepEqual(dns.sites?.shop.backEnds, [{ id: 'be-1', tunnel: '10.9.0.1:7000' }, { id: 'be-ghost', tunnel: undefined }], 'answered at _backend.<domain>');
  t.deepEqual(dns.zones?.['example.test']?.records, [{ name: '@', type: 'TXT', data: 'managed' }], "the manager's static records join the zone");
  const clash = redirectorStateFrom({ ...state, zoneRecords: { 'example.test': [{ name: 'shop', type: 'A', data: '192.0.2.1' }] } }, base, (name) => name.endsWith('.example.test'));
  t.is(clash.zones, base.zones, 'records that clash with a steered name are left out rather than the whole feed refused');
});

test('reports carry one byte count per priority ring, zeros before any traffic, as the manager accepts them', (t) => {
  for (const bytes of [[], [10, 20], [1, 2, 3, 4, 5, 6]]) {
    const ringBytes = reportedRingBytes(bytes);
    t.is(ringBytes.length, 5);
    t.deepEqual(ringBytes.slice(0, Math.min(bytes.length, 5)), bytes.slice(0, 5));
    t.true(reportSchema.safeParse({ type: 'report', load: 0, healthy: true, tunnels: [], ringBytes }).success);
  }
  t.false(reportSchema.safeParse({ type: 'report', load: 0, healthy: true, tunnels: [], ringBytes: [] }).success, 'the manager refuses an empty list');
});

test('a back-end registered with a TLS tunnel is dialled with the front-end\'s own TLS settings; plain ones stay plain', (t) => {
  const withTls = { ...state, backEnds: { ...state.backEnds, 'be-1': { ...state.backEnds['be-1'], tunnelTls: true } } } as ManagerState;
  const tls = { ca: '/etc/overlay/ca.pem', cert: '/etc/overlay/pop-b.pem', key: '/etc/overlay/pop-b.key' };
  const b = frontEndStateFrom(withTls, { id: 'pop-b', httpHost: '127.0.1.2', key: 'front-end-key-0123456789', tunnelTls: tls });
  t.deepEqual(b.backEnds?.['be-1']?.tls, tls);
  t.is(b.backEnds?.['be-2']?.tls, undefined);
  // Without settings of its own the front-end still speaks TLS to it (system CAs), rather than plain TCP it would refuse.
  t.deepEqual(frontEndStateFrom(withTls, { id: 'pop-a', httpHost: '127.0.1.1', key: 'front-end-key-0123456789' }).backEnds?.['be-1']?.tls, {});
});

test('a back-end takes a site\'s originHost and healthCheck', (t) => {
  const site = { ...state.sites.shop, originHost: 'internal.shop:8080', healthCheck: { path: '/status', expectStatus: [204], intervalMs: 500, freshness: { header: 'last-modified', maxLagS: 30 } } } as ManagerState['sites'][string];
  const taken = backEndStateFrom({ ...state, sites: { shop: site } } as ManagerState, { id: 'be-1' });
  t.like(taken.sites?.shop, { originHost: 'internal.shop:8080', healthCheck: { path: '/status', expectStatus: [204], intervalMs: 500, freshness: { header: 'last-modified', maxLagS: 30 } } });
});
