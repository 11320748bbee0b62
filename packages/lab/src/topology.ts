import { OverlayError } from '@overlay/common';
import { DEMO_BACK_END_ID } from './demo-site.js';

/** How many of each role the lab system runs: `overlay lab --pops N --back-ends M --managers K`. */
export interface LabTopologyOptions {
  /** POPs on the near side, one front-end each. Default 2 (pop-a, pop-b). */
  pops?: number;
  /** Back-end gateways on the far side; the demo site uses every one. Default 1. */
  backEnds?: number;
  /** Managers on the far side; more than one run as replicas on an etcd member each. Default 1. */
  managers?: number;
}

export const defaultLabTopology = Object.freeze({ pops: 2, backEnds: 1, managers: 1 });
const LIMITS = Object.freeze({ pops: 26, backEnds: 16, managers: 7 });

/** Where each role runs and listens: every host has its own namespace, hence its own ports. */
export interface LabLayout {
  origins: ReadonlyArray<{ id: string; host: string }>;
  /** The managers; with more than one, `etcd` lists the member beside each. */
  managers: ReadonlyArray<{ host: string; port: number }>;
  etcd: ReadonlyArray<{ name: string; host: string; clientPort: number; peerPort: number }>;
  backEnds: ReadonlyArray<{ id: string; host: string; tunnelPort: number; adminPort: number }>;
  frontEnds: ReadonlyArray<{ id: string; host: string }>;
  redirector: { host: string; port: number; adminPort: number };
  ports: { http: number; origin: number; frontEndAdmin: number };
}

function count(field: keyof typeof LIMITS, value: number): number {
  if (!Number.isInteger(value) || value < 1 || value > LIMITS[field]) {
    throw new OverlayError('ERR_LAB_OPTIONS', `lab option ${field}: must be an integer from 1 to ${LIMITS[field]}, got ${value}`, { origin: 'config' });
  }
  return value;
}

/**
 * The lab system's layout for a topology, and the hosts it needs on each side of the long leg. The
 * default is the demo's: POPs pop-a and pop-b near the clients; one back-end (`back-end`, with the manager
 * beside it) and two origins far away. More back-ends are `back-end-2` …; more than one manager puts each
 * on its own host `manager-1` … beside an etcd member, so the control plane is replicated as in production.
 */
export function planLabTopology(options: LabTopologyOptions = {}): { layout: LabLayout; near: string[]; far: string[] } {
  const pops = count('pops', options.pops ?? defaultLabTopology.pops);
  const backEndCount = count('backEnds', options.backEnds ?? defaultLabTopology.backEnds);
  const managerCount = count('managers', options.managers ?? defaultLabTopology.managers);
  const frontEnds = Array.from({ length: pops }, (_, index) => {
    const id = `pop-${String.fromCharCode(97 + index)}`;
    return { id, host: id };
  });
  const backEnds = Array.from({ length: backEndCount }, (_, index) => ({
    id: index === 0 ? DEMO_BACK_END_ID : `be-${index + 1}`,
    host: index === 0 ? 'back-end' : `back-end-${index + 1}`,
    tunnelPort: 7010,
    adminPort: 9090,
  }));
  const managerHosts = managerCount === 1 ? ['back-end'] : Array.from({ length: managerCount }, (_, index) => `manager-${index + 1}`);
  const layout: LabLayout = {
    origins: [{ id: 'origin-1', host: 'origin-1' }, { id: 'origin-2', host: 'origin-2' }],
    managers: managerHosts.map((host) => ({ host, port: 7000 })),
    etcd: managerCount === 1 ? [] : managerHosts.map((host, index) => ({ name: `etcd-${index + 1}`, host, clientPort: 2379, peerPort: 2380 })),
    backEnds,
    frontEnds,
    redirector: { host: 'pop-a', port: 53, adminPort: 9091 },
    ports: { http: 80, origin: 80, frontEndAdmin: 9090 },
  };
  const far = [...new Set([...backEnds.map((backEnd) => backEnd.host), ...managerHosts, ...layout.origins.map((origin) => origin.host)])];
  return { layout, near: ['client', ...frontEnds.map((frontEnd) => frontEnd.host)], far };
}
