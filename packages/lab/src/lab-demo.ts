import { startLab, type Lab } from './lab.js';
import type { LabOptions } from './options.js';
import { startLabSystem, type LabSystem, type LabSystemOptions } from './system.js';

/** What `overlay lab` prints and how it stops: the shape of the CLI's `Running`. */
export interface LabDemo {
  lab: Lab;
  ready: Record<string, unknown>;
  hints: string[];
  close(): Promise<void>;
}

/** `overlay lab`: a lab, the demo system inside it, a ready line and hints a person can paste. */
export async function startLabDemo(options: LabOptions = {}, systemOptions: LabSystemOptions = {}): Promise<LabDemo> {
  const lab = await startLab(options);
  let system;
  try {
    system = await startLabSystem(lab, systemOptions);
  } catch (err) {
    await lab.close();
    throw err;
  }
  const { delayMs, jitterMs, rateMbit } = lab.options;
  const ns = (host: string) => lab.host(host).namespace;
  const hosts = Object.values(lab.hosts);
  const [popA] = system.frontEnds as [LabSystem['frontEnds'][number]];
  const [origin] = system.origins;
  const dnsAddress = system.dns.split(':')[0];
  const link = `${delayMs} ms one way${jitterMs ? ` (+0..${jitterMs} ms jitter)` : ''}${rateMbit ? `, ${rateMbit} Mbit/s each way` : ''}`;
  const side = (which: 'near' | 'far') => hosts.filter((host) => host.side === which).map((host) => `${host.name} ${host.address}`).join(', ');
  return {
    lab,
    ready: {
      lab: lab.id,
      link: { delayMs, jitterMs, rateMbit, queueBytes: lab.options.queueBytes },
      hosts: Object.fromEntries(hosts.map((host) => [host.name, { namespace: host.namespace, address: host.address, side: host.side }])),
      manager: system.manager,
      managers: system.managers,
      token: system.token,
      frontEnds: system.frontEnds,
      backEnds: system.backEnds,
      dns: system.dns,
      origins: system.origins.map((o) => o.url),
      sites: [system.site],
    },
    hints: [
      '',
      `Overlay lab ${lab.id} is up. Long leg: ${link}.`,
      `  near side ${lab.subnets.near}: ${side('near')}`,
      `  far side  ${lab.subnets.far}: ${side('far')}`,
      `${system.site} is served by front-ends ${system.frontEnds.map((frontEnd) => `${frontEnd.id} (${frontEnd.http})`).join(', ')} through back-ends ${system.backEnds.map((backEnd) => `${backEnd.id} on ${backEnd.host}`).join(', ')}; ${system.managers.length} manager${system.managers.length > 1 ? ' replicas on etcd' : ''} at ${system.managers.join(', ')}.`,
      'Try (as root):',
      `  ip netns exec ${ns('client')} curl -si -H 'Host: ${system.site}' http://${popA.http}/`,
      `  ip netns exec ${ns('client')} curl -s -o /dev/null -w 'overlay ttfb %{time_starttransfer}s\\n' -H 'Host: ${system.site}' http://${popA.http}/slow/0`,
      `  ip netns exec ${ns('client')} curl -s -o /dev/null -w 'direct  ttfb %{time_starttransfer}s\\n' ${origin.url}/slow/0`,
      `  ip netns exec ${ns('client')} dig @${dnsAddress} ${system.site} A`,
      `  ip netns exec ${ns(systemOptions.layout?.managers[0]?.host ?? 'back-end')} curl -s -H 'Authorization: Bearer ${system.token}' ${system.manager}/v1/front-ends`,
      `  ip netns exec ${ns('client')} bash      # a shell on the client host`,
      'Ctrl-C stops everything and removes the namespaces.',
    ],
    close: async () => {
      await system.close();
      await lab.close();
    },
  };
}
