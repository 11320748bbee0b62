/**
 * The lab's layout and the `ip` commands that build it, as pure data: names, addresses and command lines
 * are decided here, and nothing here touches the system.
 *
 *   near hosts ─veth─┐                                   ┌─veth─ far hosts
 *   10.X.1.11 …      brnear (10.X.1.1) ─ router ─ brfar (10.X.2.1)      10.X.2.11 …
 *                                   ▲ policy routing ▼
 *                           TUN `longleg` ⇄ delay-link.py (delay, jitter, rate, queue)
 */

export interface LabHost {
  name: string;
  /** e.g. 'ovl9c3a-pop-a' (unique per lab instance, so two labs can coexist) */
  namespace: string;
  /** IPv4 address of the host on its side's subnet, e.g. '10.156.1.12' */
  address: string;
  side: 'near' | 'far';
}

export interface LabSlot {
  /** 4 hex digits: the second address octet in hex, then 2 random ones. */
  id: string;
  /** Second octet of every lab address: 10.<octet>.1.0/24 near, 10.<octet>.2.0/24 far. */
  octet: number;
}

export interface LabPlan {
  id: string;
  router: {
    namespace: string;
    /** The router's own address on each bridge: the hosts' default gateway. */
    nearAddress: string;
    farAddress: string;
  };
  subnets: { near: string; far: string };
  hosts: Record<string, LabHost>;
  /** Every namespace of the lab, router first. */
  namespaces: string[];
}

export const NAMESPACE_PREFIX = 'ovl';
/** Second octets lab instances may take (10.128.0.0/10 … 10.191.255.255): 64 labs at once. */
export const FIRST_OCTET = 128;
export const LAST_OCTET = 191;
export const NEAR_BRIDGE = 'brnear';
export const FAR_BRIDGE = 'brfar';
export const TUN_DEVICE = 'longleg';
/** Interface name of every host's end of its veth, inside the host's namespace. */
export const HOST_INTERFACE = 'eth0';
/** Routing table that sends cross-side traffic into the TUN. */
const LONG_LEG_TABLE = 100;
/** Rule priorities: the TUN lookup, then a prohibit rule so cross traffic never bypasses the delay. */
const RULE_PREF = { lookup: 1000, prohibit: 1010 };
/** First host address on each /24 (.1 is the router). */
const FIRST_HOST = 11;

/** Namespace names of a lab: `ovl<id>-<host>`. */
export function namespaceName(id: string, host: string): string {
  return `${NAMESPACE_PREFIX}${id}-${host}`;
}

/** The lab id a namespace belongs to, or undefined when the namespace is not a lab's. */
export function labIdOf(namespace: string): string | undefined {
  return new RegExp(`^${NAMESPACE_PREFIX}([0-9a-f]{4})-`).exec(namespace)?.[1];
}

export function planLab(slot: LabSlot, near: string[], far: string[]): LabPlan {
  const base = `10.${slot.octet}`;
  const hosts: Record<string, LabHost> = {};
  const place = (names: string[], side: 'near' | 'far', third: number) => {
    names.forEach((name, index) => {
      hosts[name] = { name, namespace: namespaceName(slot.id, name), address: `${base}.${third}.${FIRST_HOST + index}`, side };
    });
  };
  place(near, 'near', 1);
  place(far, 'far', 2);
  const router = namespaceName(slot.id, 'router');
  return {
    id: slot.id,
    router: { namespace: router, nearAddress: `${base}.1.1`, farAddress: `${base}.2.1` },
    subnets: { near: `${base}.1.0/24`, far: `${base}.2.0/24` },
    hosts,
    namespaces: [router, ...Object.values(hosts).map((host) => host.namespace)],
  };
}

/** Router-side veth name of a host: n0, n1 … on the near bridge, f0, f1 … on the far one. */
function routerInterface(plan: LabPlan, host: LabHost): string {
  const sameSide = Object.values(plan.hosts).filter((other) => other.side === host.side);
  return `${host.side === 'near' ? 'n' : 'f'}${sameSide.indexOf(host)}`;
}

/** `ip -batch` lines run in the root namespace: create every namespace. */
export function namespaceBatch(plan: LabPlan): string[] {
  return plan.namespaces.map((namespace) => `netns add ${namespace}`);
}

/**
 * Shell run inside the router namespace before the TUN exists: forward IPv4; no reverse-path filter
 * (packets re-enter from the TUN with near/far sources); no IPv6, so the TUN carries only the lab's IPv4.
 * `default` covers the TUN, which is created later.
 */
export const ROUTER_SYSCTLS = [
  'echo 1 > /proc/sys/net/ipv4/ip_forward',
  'for c in all default; do echo 0 > /proc/sys/net/ipv4/conf/$c/rp_filter; echo 1 > /proc/sys/net/ipv6/conf/$c/disable_ipv6; done',
].join('; ');

/** `ip -batch` lines run in the router namespace: bridges, one veth per host, and the cross-side rules. */
export function routerBatch(plan: LabPlan): string[] {
  const prefix = (address: string) => `${address}/24`;
  const lines = [
    'link set lo up',
    `link add ${NEAR_BRIDGE} type bridge`,
    `link add ${FAR_BRIDGE} type bridge`,
    `addr add ${prefix(plan.router.nearAddress)} dev ${NEAR_BRIDGE}`,
    `addr add ${prefix(plan.router.farAddress)} dev ${FAR_BRIDGE}`,
    `link set ${NEAR_BRIDGE} up`,
    `link set ${FAR_BRIDGE} up`,
  ];
  for (const host of Object.values(plan.hosts)) {
    const veth = routerInterface(plan, host);
    lines.push(
      `link add ${veth} type veth peer name ${HOST_INTERFACE} netns ${host.namespace}`,
      `link set ${veth} master ${host.side === 'near' ? NEAR_BRIDGE : FAR_BRIDGE} up`,
    );
  }
  const crossings: Array<[string, string, number]> = [[NEAR_BRIDGE, plan.subnets.far, 0], [FAR_BRIDGE, plan.subnets.near, 1]];
  for (const [from, to, offset] of crossings) {
    lines.push(
      `rule add pref ${RULE_PREF.lookup + offset} iif ${from} to ${to} lookup ${LONG_LEG_TABLE}`,
      `rule add pref ${RULE_PREF.prohibit + offset} iif ${from} to ${to} prohibit`,
    );
  }
  return lines;
}

/** `ip -batch` lines run in a host's namespace: loopback, its address, and the router as default gateway. */
export function hostBatch(plan: LabPlan, host: LabHost): string[] {
  const gateway = host.side === 'near' ? plan.router.nearAddress : plan.router.farAddress;
  return [
    'link set lo up',
    `addr add ${host.address}/24 dev ${HOST_INTERFACE}`,
    `link set ${HOST_INTERFACE} up`,
    `route add default via ${gateway}`,
  ];
}

/** `ip -batch` lines run in the router namespace once the forwarder has created the TUN. */
export function longLegBatch(): string[] {
  return [`link set ${TUN_DEVICE} up`, `route add default dev ${TUN_DEVICE} table ${LONG_LEG_TABLE}`];
}
