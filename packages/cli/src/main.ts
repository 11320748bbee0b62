#!/usr/bin/env node
import { Command } from 'commander';
import type { AddressInfo } from 'node:net';
import { formatHostPort } from '@overlay/common';
import { runRole } from './run.js';

const program = new Command('overlay')
  .description('Overlay: front-end and back-end gateways joined by a prioritized tunnel, managers, and a DNS redirector')
  .showHelpAfterError();

const address = (info: AddressInfo) => formatHostPort(info.address, info.port);

program
  .command('back-end')
  .description('back-end gateway near the origins: accepts tunnels, serves streams from pooled origin connections')
  .requiredOption('--config <file>', 'YAML or JSON config file')
  .action(async (options: { config: string }) => {
    await runRole('back-end', async (log) => {
      // Each role loads only its own packages: quick start, and --help stays instant.
      const { loadBackEndConfig, startBackEnd } = await import('@overlay/backend');
      const config = await loadBackEndConfig(options.config);
      const backEnd = await startBackEnd(config, { log });
      return { ready: { id: backEnd.id, tunnel: address(backEnd.tunnel), admin: address(backEnd.admin) }, close: () => backEnd.close() };
    });
  });

program
  .command('front-end')
  .description('front-end gateway at a POP: accepts clients, prioritizes, caches, carries requests over tunnels')
  .requiredOption('--config <file>', 'YAML or JSON config file')
  .action(async (options: { config: string }) => {
    await runRole('front-end', async (log) => {
      const { loadFrontEndConfig, startFrontEnd } = await import('@overlay/frontend');
      const config = await loadFrontEndConfig(options.config);
      const frontEnd = await startFrontEnd(config, { log });
      const tcp = Object.fromEntries(Object.entries(frontEnd.tcp).map(([site, info]) => [site, address(info)]));
      return { ready: { id: frontEnd.id, http: address(frontEnd.http), admin: address(frontEnd.admin), tcp }, close: () => frontEnd.close() };
    });
  });

program
  .command('redirector')
  .description('authoritative DNS redirector: answers site names with the best front-end for the client')
  .requiredOption('--config <file>', 'YAML or JSON config file')
  .action(async (options: { config: string }) => {
    await runRole('redirector', async (log) => {
      const { loadRedirectorConfig, startRedirector } = await import('@overlay/redirector');
      const config = await loadRedirectorConfig(options.config);
      const running = await startRedirector(config, { log });
      const dns = formatHostPort(running.host, running.udpPort);
      return {
        ready: { dns, ...(running.adminPort ? { admin: formatHostPort(running.host, running.adminPort) } : {}) },
        close: () => running.close(),
      };
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
