import test from 'ava';
import fc from 'fast-check';
import { CapacityReactor, type CapacityDecision, type CapacityGateway, type CapacityRules, type CapacitySite, type CapacityView, type GatewayKind } from '@overlay/manager';

const RULES: CapacityRules = { raiseAfterMs: 10_000, releaseAfterMs: 30_000, releaseBelow: 0.5, maxAutoPerSite: 2 };

/** A hand-driven clock and a mutable world the reactor looks at. */
function world(options: { rules?: Partial<CapacityRules>; kinds?: GatewayKind[] } = {}) {
  let now = 0;
  const reactor = new CapacityReactor({ ...RULES, ...options.rules }, () => now);
  const gateways: Record<GatewayKind, Map<string, CapacityGateway>> = { frontEnds: new Map(), backEnds: new Map() };
  const site: CapacitySite & { auto: Record<GatewayKind, string[]> } = {
    name: 'shop',
    qosTarget: { maxLoad: 0.8 },
    configured: { frontEnds: ['fe-1'], backEnds: ['be-1'] },
    auto: { frontEnds: [], backEnds: [] },
  };
  const gateway = (kind: GatewayKind, id: string, load: number, healthy = true, tunnels: CapacityGateway['tunnels'] = []) =>
    gateways[kind].set(id, { load, healthy, tunnels });
  const view = (): CapacityView => ({ sites: [site], gateways, kinds: options.kinds ?? ['frontEnds', 'backEnds'] });
  /** Advances the clock in steps, applying decisions as the manager would; returns them. */
  const run = (ms: number, step = 1000): CapacityDecision[] => {
    const all: CapacityDecision[] = [];
    for (let elapsed = 0; elapsed <= ms; elapsed += step) {
      const decisions = reactor.evaluate(view());
      for (const decision of decisions) {
        const list = site.auto[decision.kind];
        site.auto[decision.kind] = decision.action === 'assign' ? [...list, decision.gateway] : list.filter((id) => id !== decision.gateway);
      }
      all.push(...decisions);
      now += step;
    }
    return all;
  };
  gateway('backEnds', 'be-1', 0.1);
  return { reactor, gateways, site, gateway, run, view, advance: (ms: number) => (now += ms) };
}

test('within target nothing happens', (t) => {
  const w = world();
  w.gateway('frontEnds', 'fe-1', 0.5);
  w.gateway('frontEnds', 'fe-2', 0);
  t.deepEqual(w.run(120_000), []);
});

test('load over target for the sustained period assigns the least-loaded healthy free front-end', (t) => {
  const w = world();
  w.gateway('frontEnds', 'fe-1', 0.95);
  w.gateway('frontEnds', 'fe-2', 0.4);
  w.gateway('frontEnds', 'fe-3', 0.1);
  w.gateway('frontEnds', 'fe-4', 0.0, false); // least loaded but down
  w.gateway('frontEnds', 'fe-5', 0.9); // over the target itself
  t.deepEqual(w.run(8_000), [], 'not before raiseAfterMs');
  const decisions = w.run(3_000);
  t.is(decisions.length, 1);
  t.like(decisions[0], { site: 'shop', kind: 'frontEnds', action: 'assign', gateway: 'fe-3' });
  t.regex(decisions[0]!.reason, /mean load 0\.95 above 0\.8/);
});

test('a short spike assigns nothing: the period restarts when load falls back', (t) => {
  const w = world();
  w.gateway('frontEnds', 'fe-1', 0.95);
  w.gateway('frontEnds', 'fe-2', 0);
  t.deepEqual(w.run(8_000), []);
  w.gateway('frontEnds', 'fe-1', 0.5);
  t.deepEqual(w.run(1_000), []);
  w.gateway('frontEnds', 'fe-1', 0.95);
  t.deepEqual(w.run(8_000), [], 'a new spike starts a new period');
});

test('each further assignment needs another sustained period, and stops at maxAutoPerSite', (t) => {
  const w = world();
  w.gateway('frontEnds', 'fe-1', 1);
  // Each addition leaves the mean over 0.8, so the site keeps asking for more.
  w.gateway('frontEnds', 'fe-2', 0.7);
  w.gateway('frontEnds', 'fe-3', 0.75);
  w.gateway('frontEnds', 'fe-4', 0.79);
  t.deepEqual(w.run(10_000).map((d) => d.gateway), ['fe-2'], 'least loaded first');
  t.deepEqual(w.run(8_000), [], 'the next one only after another sustained period');
  t.deepEqual(w.run(2_000).map((d) => d.gateway), ['fe-3']);
  t.deepEqual(w.run(120_000), [], 'maxAutoPerSite reached');
  t.deepEqual(w.site.auto.frontEnds, ['fe-2', 'fe-3']);
});

test('release waits for the projected load to stay under the lower threshold (hysteresis), newest first', (t) => {
  const w = world();
  w.gateway('frontEnds', 'fe-1', 0.95);
  w.gateway('frontEnds', 'fe-2', 0.1);
  t.is(w.run(11_000).length, 1);
  // Two gateways at 0.3: with one fewer the load would be 0.6, above 0.4: keep both.
  w.gateway('frontEnds', 'fe-1', 0.3);
  w.gateway('frontEnds', 'fe-2', 0.3);
  t.deepEqual(w.run(120_000), []);
  // At 0.15 each, one fewer gives 0.3 < 0.4: release after releaseAfterMs.
  w.gateway('frontEnds', 'fe-1', 0.15);
  w.gateway('frontEnds', 'fe-2', 0.15);
  t.deepEqual(w.run(28_000), []);
  const released = w.run(3_000);
  t.is(released.length, 1);
  t.like(released[0], { action: 'release', gateway: 'fe-2' });
  t.regex(released[0]!.reason, /load would be 0\.3 with one fewer, below 0\.4/);
  t.deepEqual(w.site.auto.frontEnds, []);
  t.deepEqual(w.run(120_000), [], 'configured gateways are never released');
});

test('an added gateway that goes down is released at once; with no target every added one is', (t) => {
  const w = world();
  w.gateway('frontEnds', 'fe-1', 0.95);
  w.gateway('frontEnds', 'fe-2', 0.1);
  w.gateway('frontEnds', 'fe-3', 0.2);
  w.run(11_000);
  t.deepEqual(w.site.auto.frontEnds, ['fe-2']);
  w.gateway('frontEnds', 'fe-2', 0.1, false);
  const down = w.run(0);
  t.like(down[0], { action: 'release', gateway: 'fe-2', reason: 'front-end fe-2 is down' });
  w.run(11_000);
  t.deepEqual(w.site.auto.frontEnds, ['fe-3'], 'still overloaded: the next candidate is added');
  w.site.qosTarget = undefined;
  t.like(w.run(0)[0], { action: 'release', gateway: 'fe-3', reason: 'the site has no QoS target' });
});

test('tunnel RTT over target towards the site\'s back-ends counts; tunnels to other peers do not', (t) => {
  const w = world();
  w.site.qosTarget = { maxRttMs: 50 };
  w.gateway('frontEnds', 'fe-1', 0.1, true, [
    { peer: 'be-1', rttMs: 80, connected: true },
    { peer: 'be-elsewhere', rttMs: 5, connected: true },
    { peer: 'be-1', rttMs: 1, connected: false },
  ]);
  w.gateway('frontEnds', 'fe-2', 0.1);
  const decisions = w.run(11_000);
  t.is(decisions.length, 1);
  t.like(decisions[0], { kind: 'frontEnds', action: 'assign', gateway: 'fe-2' });
  t.regex(decisions[0]!.reason, /RTT 80 ms above 50 ms/);
});

test('a site with no healthy gateway of a kind gets one; only the kinds the role owns are decided', (t) => {
  const w = world({ kinds: ['backEnds'] });
  w.gateway('frontEnds', 'fe-1', 0.1, false);
  w.gateway('frontEnds', 'fe-2', 0.1);
  w.gateway('backEnds', 'be-1', 0.1, false);
  w.gateway('backEnds', 'be-2', 0.2);
  const decisions = w.run(11_000);
  t.deepEqual(decisions.map((d) => [d.kind, d.gateway, d.reason]), [['backEnds', 'be-2', 'no healthy back-end assigned']]);
});

test('sites that disappear are forgotten', (t) => {
  const w = world();
  w.gateway('frontEnds', 'fe-1', 0.95);
  w.gateway('frontEnds', 'fe-2', 0.1);
  w.run(8_000);
  const sites = [w.site];
  const reactor = w.reactor;
  // Remove the site for one evaluation: its sustained period must start again.
  reactor.evaluate({ ...w.view(), sites: [] });
  t.deepEqual(reactor.evaluate({ ...w.view(), sites }), []);
  t.deepEqual(w.run(8_000), []);
});

test('with load that spreads over the assigned gateways, decisions never flap', (t) => {
  fc.assert(
    fc.property(fc.double({ min: 0, max: 3, noNaN: true }), fc.double({ min: 0.3, max: 1, noNaN: true }), (siteLoad, maxLoad) => {
      const w = world();
      w.site.qosTarget = { maxLoad };
      for (const id of ['fe-1', 'fe-2', 'fe-3', 'fe-4']) w.gateway('frontEnds', id, 0);
      const decisions: CapacityDecision[] = [];
      for (let minute = 0; minute < 10; minute++) {
        const members = [...w.site.configured.frontEnds, ...w.site.auto.frontEnds];
        for (const id of ['fe-1', 'fe-2', 'fe-3', 'fe-4']) w.gateway('frontEnds', id, members.includes(id) ? Math.min(1, siteLoad / members.length) : 0);
        decisions.push(...w.run(60_000, 5_000).filter((d) => d.kind === 'frontEnds'));
      }
      const actions = new Set(decisions.map((d) => d.action));
      t.true(actions.size <= 1, `load ${siteLoad}, target ${maxLoad}: ${decisions.map((d) => d.action).join(',')}`);
      t.true(decisions.length <= RULES.maxAutoPerSite);
    }),
    { numRuns: 200 },
  );
});
