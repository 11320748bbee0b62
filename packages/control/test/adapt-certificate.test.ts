import test from 'ava';
import { frontEndStateFrom } from '@overlay/control';
import type { ManagerState } from '@overlay/manager';

const certificate = { cert: '-----BEGIN CERTIFICATE-----\nA\n-----END CERTIFICATE-----\n', key: '-----BEGIN PRIVATE KEY-----\nB\n-----END PRIVATE KEY-----\n' };

test('an HTTP site\'s certificate reaches its front-ends with the site', (t) => {
  const gateway = { addresses: { tunnel: '10.9.0.1:7000' }, healthy: true, load: 0, lastReport: 1, tunnels: [], ringBytes: [0, 0, 0, 0, 0] };
  const state = {
    version: 1,
    role: 'both',
    rings: { weights: [10, 8, 6, 4, 2] },
    sites: {
      shop: { domains: ['shop.test'], mode: 'http', origins: [{ url: 'http://10.0.0.1:80' }], routes: [], frontEnds: ['pop-a'], backEnds: ['be-1'], certificate, priorities: { default: 2, rules: [] } },
      plain: { domains: ['plain.test'], mode: 'http', origins: [{ url: 'http://10.0.0.1:80' }], routes: [], frontEnds: ['pop-a'], backEnds: ['be-1'], priorities: { default: 2, rules: [] } },
    },
    frontEnds: {},
    backEnds: { 'be-1': gateway },
  } as unknown as ManagerState;
  const selected = frontEndStateFrom(state, { id: 'pop-a', httpHost: '127.0.1.1', key: 'front-end-key-0123456789' });
  t.deepEqual(selected.sites?.shop?.certificate, certificate);
  t.is(selected.sites?.plain?.certificate, undefined);
});
