import type { RedirectorStateInput } from '@overlay/redirector';

/** Two POPs, three front-ends, one site: the shape of the demo (10.1/16 → pop-a, 10.2/16 → pop-b). */
export function demoState(): RedirectorStateInput {
  return {
    zones: {
      'demo.test': {
        ns: [
          { name: 'ns1.demo.test', addresses: ['127.0.0.1', '::1'] },
          { name: 'ns.elsewhere.example' },
        ],
        soa: { rname: 'dns-admin.demo.test', serial: 2024010101 },
      },
    },
    sites: {
      shop: { domains: ['shop.demo.test', 'deep.api.demo.test'], frontEnds: ['pop-a-1', 'pop-a-2', 'pop-b-1'] },
    },
    frontEnds: {
      'pop-a-1': { addresses: ['127.0.1.1', '2001:db8:a::1'], pop: 'pop-a' },
      'pop-a-2': { addresses: ['127.0.1.3'], pop: 'pop-a' },
      'pop-b-1': { addresses: ['127.0.1.2', '2001:db8:b::1'], pop: 'pop-b' },
    },
    popPreferences: {
      '10.1.0.0/16': ['pop-a', 'pop-b'],
      '10.2.0.0/16': ['pop-b', 'pop-a'],
    },
  };
}

export const popAAddresses = ['127.0.1.1', '127.0.1.3'];
export const popBAddresses = ['127.0.1.2'];

/** The demo zone with `frontEndCount` front-ends (IPv4 and IPv6 each), all of them in every answer. */
export function crowdedState(frontEndCount: number): RedirectorStateInput {
  const state = demoState();
  const frontEnds: NonNullable<RedirectorStateInput['frontEnds']> = {};
  for (let i = 0; i < frontEndCount; i++) {
    frontEnds[`fe-${i}`] = { addresses: [`127.0.2.${i + 1}`, `2001:db8:2::${(i + 1).toString(16)}`], pop: 'pop-a' };
  }
  return { ...state, frontEnds, sites: { shop: { domains: ['shop.demo.test'], frontEnds: Object.keys(frontEnds) } }, answerCount: frontEndCount };
}
