#!/usr/bin/env node
import { Command, Option } from 'commander';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { adminTokenCheck, formatHostPort } from '@overlay/common';
import { CONFIG_ROLES, checkConfigFile, loadRoleConfig, type ConfigRole } from './configs.js';
import { runRole, type Running } from './run.js';

const { version } = createRequire(import.meta.url)('../package.json') as { version: string };

const program = new Command('overlay')
  .description('Overlay: front-end and back-end gateways joined by a prioritized tunnel, managers, and a DNS redirector')
  .version(version, '-V, --version', 'the version of overlay')
  .addHelpText('after', '\nLong-running roles reload their config file on SIGHUP or POST /reload on their admin address.')
  .showHelpAfterError();

const address = (info: AddressInfo) => formatHostPort(info.address, info.port);

/** A started role that may follow a manager: closing stops the subscription first, then the role. */
function followed(ready: Record<string, unknown>, close: () => Promise<void>, attached: { close(): void } | undefined, reload: Running['reload']): Running {
  return {
    ready,
    reload,
    close: async () => {
      attached?.close();
      await close();
    },
  };
}

program
  .command('check')
  .description('validates a config file of any role and prints every problem, one line each naming file and field; exit 0 when valid, 2 otherwise')
  .requiredOption('--config <file>', 'YAML or JSON config file')
  .addOption(new Option('--role <role>', 'the role the file is for (default: told from its fields)').choices(CONFIG_ROLES))
  .action(async (options: { config: string; role?: ConfigRole }) => {
    const { role, problems } = await checkConfigFile(options.config, options.role);
    for (const problem of problems) process.stderr.write(`${problem}\n`);
    if (problems.length === 0) process.stdout.write(`${options.config}: valid ${role} config\n`);
    process.exit(problems.length === 0 ? 0 : 2);
  });

program
  .command('demo')
  .description('the whole system on 127.0.0.1: two origins, a manager, a back-end, two front-ends (pop-a, pop-b) and the DNS redirector')
  .option('--base-port <n>', 'first of the ports the demo uses', '7000')
  .action(async (options: { basePort: string }) => {
    const base = Number(options.basePort);
    if (!Number.isInteger(base) || base < 1024 || base > 65_000) {
      process.stderr.write('overlay demo: --base-port must be an integer from 1024 to 65000\n');
      process.exit(2);
    }
    await runRole('demo', async (log) => (await import('./demo.js')).startDemo(base, log));
  });

program
  .command('lab')
  .description('the demo system on a WAN lab (needs root): client and POPs in network namespaces on one side of a long leg with added delay, back-end, managers and origins on the other')
  .option('--delay-ms <ms>', 'one-way delay of the long leg', '40')
  .option('--rate-mbit <mbit>', 'long-leg rate each way, 0 = no cap', '0')
  .option('--jitter-ms <ms>', 'extra one-way delay, uniform 0..jitter, order kept', '0')
  .option('--loss-pct <pct>', 'random loss each way on the long leg, percent of packets', '0')
  .option('--pops <n>', 'POPs near the clients, a front-end in each', '2')
  .option('--back-ends <n>', 'back-end gateways far away, all serving the demo site', '1')
  .option('--managers <n>', 'managers far away; more than one run as replicas on an etcd member each', '1')
  .action(async (options: { delayMs: string; rateMbit: string; jitterMs: string; lossPct: string; pops: string; backEnds: string; managers: string }) => {
    const { planLabTopology, resolveLabOptions } = await import('@overlay/lab');
    let labOptions;
    let topology;
    try {
      topology = planLabTopology({ pops: Number(options.pops), backEnds: Number(options.backEnds), managers: Number(options.managers) });
      labOptions = resolveLabOptions({ delayMs: Number(options.delayMs), rateMbit: Number(options.rateMbit), jitterMs: Number(options.jitterMs), lossPct: Number(options.lossPct), near: topology.near, far: topology.far });
    } catch (err) {
      process.stderr.write(`overlay lab: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(2);
    }
    const layout = topology.layout;
    await runRole('lab', async () => (await import('@overlay/lab')).startLabDemo(labOptions, { layout, onStderr: (line) => process.stderr.write(`${line}\n`) }));
  });

program
  .command('manager')
  .description('front-end manager, back-end manager, or both (role: in the file): HTTP API, live feed, dashboard')
  .requiredOption('--config <file>', 'YAML or JSON config file')
  .action(async (options: { config: string }) => {
    await runRole('manager', async (log, hooks) => {
      const { startManager } = await import('@overlay/manager');
      const config = await loadRoleConfig.manager(options.config);
      const manager = await startManager(config, { log, adminRoutes: (mayWrite) => [hooks.reloadRoute(mayWrite)] });
      return {
        ready: { url: manager.url, managerRole: config.role, ...(manager.adminAddress ? { admin: address(manager.adminAddress) } : {}) },
        reload: async () => manager.reload(await loadRoleConfig.manager(options.config)),
        close: () => manager.close(),
      };
    });
  });

program
  .command('back-end')
  .description('back-end gateway near the origins: accepts tunnels, serves streams from pooled origin connections')
  .requiredOption('--config <file>', 'YAML or JSON config file')
  .action(async (options: { config: string }) => {
    await runRole('back-end', async (log, hooks) => {
      // Each role loads only its own packages: quick start, and --help stays instant.
      const { startBackEnd } = await import('@overlay/backend');
      const config = await loadRoleConfig['back-end'](options.config);
      const backEnd = await startBackEnd(config, { log, adminRoutes: [hooks.reloadRoute(adminTokenCheck(config.adminToken))] });
      const ready = { id: backEnd.id, tunnel: address(backEnd.tunnel), admin: address(backEnd.admin) };
      const attached = config.manager
        ? (await import('@overlay/control')).attachBackEnd(backEnd, {
            manager: config.manager, addresses: { tunnel: config.advertise.tunnel ?? ready.tunnel, admin: ready.admin }, tunnelTls: config.tunnel.tls !== undefined, log,
          })
        : undefined;
      return followed(ready, () => backEnd.close(), attached, async () => backEnd.reload(await loadRoleConfig['back-end'](options.config)));
    });
  });

program
  .command('front-end')
  .description('front-end gateway at a POP: accepts clients, prioritizes, caches, carries requests over tunnels')
  .requiredOption('--config <file>', 'YAML or JSON config file')
  .action(async (options: { config: string }) => {
    await runRole('front-end', async (log, hooks) => {
      const { startFrontEnd } = await import('@overlay/frontend');
      const config = await loadRoleConfig['front-end'](options.config);
      const frontEnd = await startFrontEnd(config, { log, adminRoutes: [hooks.reloadRoute(adminTokenCheck(config.adminToken))] });
      const ready = { id: frontEnd.id, http: address(frontEnd.http), ...(frontEnd.https ? { https: address(frontEnd.https) } : {}), admin: address(frontEnd.admin) };
      const attached = config.manager
        ? (await import('@overlay/control')).attachFrontEnd(frontEnd, {
            manager: config.manager, tunnelKey: config.manager.tunnelKey, tunnelTls: config.manager.tunnelTls, pop: config.pop,
            addresses: { http: config.advertise.http ?? ready.http, admin: ready.admin }, httpHost: frontEnd.http.address, log,
          })
        : undefined;
      const tcp = Object.fromEntries(Object.entries(frontEnd.tcp).map(([site, info]) => [site, address(info)]));
      return followed({ ...ready, tcp }, () => frontEnd.close(), attached, async () => frontEnd.reload(await loadRoleConfig['front-end'](options.config)));
    });
  });

program
  .command('redirector')
  .description('authoritative DNS redirector: answers site names with the best front-end for the client')
  .requiredOption('--config <file>', 'YAML or JSON config file')
  .action(async (options: { config: string }) => {
    await runRole('redirector', async (log, hooks) => {
      const { startRedirector } = await import('@overlay/redirector');
      type RedirectorConfig = Awaited<ReturnType<(typeof loadRoleConfig)['redirector']>>;
      const config = await loadRoleConfig.redirector(options.config);
      const running = await startRedirector(config, { log, adminRoutes: [hooks.reloadRoute(adminTokenCheck(config.adminToken))] });
      const dns = formatHostPort(running.host, running.udpPort);
      const ready = {
        dns,
        ...(running.listeners.length > 1 ? { dnsAll: running.listeners.map((bound) => formatHostPort(bound.host, bound.udpPort)) } : {}),
        ...(running.admin ? { admin: formatHostPort(running.admin.host, running.admin.port) } : {}),
      };
      // What the redirector keeps of its own file beside the feed: its zones, POP table and answer tuning.
      const baseOf = (from: RedirectorConfig) => ({
        base: { zones: from.zones, popPreferences: from.popPreferences, answerTtl: from.answerTtl, answerCount: from.answerCount, overloadThreshold: from.overloadThreshold },
        isInZones: (name: string) => Object.keys(from.zones).some((apex) => name === apex || name.endsWith(`.${apex}`)),
      });
      const attached = config.manager
        ? (await import('@overlay/control')).attachRedirector(running, { manager: config.manager, id: config.id, ...baseOf(config), addresses: ready, log })
        : undefined;
      const reload = async () => {
        const next = await loadRoleConfig.redirector(options.config);
        const outcome = running.reload(next);
        if (!attached || !next.manager) return outcome;
        const { base, isInZones } = baseOf(next);
        await attached.rebase(base, isInZones);
        return { ...outcome, applied: [...outcome.applied, 'zones', 'popPreferences', 'answerTtl', 'answerCount', 'overloadThreshold'] };
      };
      return followed(ready, () => running.close(), attached, reload);
    });
  });

program
  .command('bench')
  .description('benchmark scenarios, each beside its baseline measured in the same run; JSON in bench-results/')
  .argument('[scenario...]', 'scenarios to run (default: all)')
  .option('--out <dir>', 'where to write JSON results', 'bench-results')
  .action(async (names: string[], options: { out: string }) => {
    const { formatTable, runBenchmarks } = await import('@overlay/bench');
    const reports = await runBenchmarks({ names, outDir: options.out });
    process.stdout.write(`${formatTable(reports)}\n`);
    process.exit(0);
  });

await program.parseAsync(process.argv);
