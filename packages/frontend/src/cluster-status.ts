import type { FrontEndStatus, TunnelStatus } from './gateway.js';

/**
 * One front-end's status from its workers' (each runs its own tunnels and admission): load is the mean
 * (connections are spread evenly, so the mean is the share of the whole front-end's capacity in use),
 * tunnels are merged per back-end (connected when any worker's is; RTT and jitter averaged over the
 * connected ones; throughput and in-flight work summed), ring bytes summed.
 */
export function mergeWorkerStatuses(statuses: readonly FrontEndStatus[], healthy: boolean): FrontEndStatus {
  const ringBytes = [0, 0, 0, 0, 0];
  const byPeer = new Map<string, TunnelStatus[]>();
  let load = 0;
  for (const status of statuses) {
    load += status.load;
    status.ringBytes.forEach((bytes, ring) => (ringBytes[ring] = (ringBytes[ring] ?? 0) + bytes));
    for (const tunnel of status.tunnels) {
      const list = byPeer.get(tunnel.peer) ?? [];
      list.push(tunnel);
      byPeer.set(tunnel.peer, list);
    }
  }
  const tunnels = [...byPeer].map(([peer, list]): TunnelStatus => {
    const connected = list.filter((tunnel) => tunnel.connected);
    const error = connected.length ? undefined : list.find((tunnel) => tunnel.error)?.error;
    const mean = (pick: (tunnel: TunnelStatus) => number) => (connected.length ? connected.reduce((sum, tunnel) => sum + pick(tunnel), 0) / connected.length : 0);
    const measuredLoss = connected.flatMap((tunnel) => (tunnel.lossRate === undefined ? [] : [tunnel.lossRate]));
    return {
      peer,
      connected: connected.length > 0,
      rttMs: mean((tunnel) => tunnel.rttMs),
      jitterMs: mean((tunnel) => tunnel.jitterMs),
      ...(measuredLoss.length ? { lossRate: measuredLoss.reduce((a, b) => a + b, 0) / measuredLoss.length } : {}),
      throughputBps: list.reduce((sum, tunnel) => sum + tunnel.throughputBps, 0),
      inFlight: list.reduce((sum, tunnel) => sum + tunnel.inFlight, 0),
      ...(error ? { error } : {}),
    };
  });
  return { load: statuses.length ? load / statuses.length : 0, healthy, tunnels, ringBytes };
}
