#!/usr/bin/env node
import { Command } from 'commander';
import { formatHostPort } from '@overlay/common';
import { formatTable, runBenchmarks } from '@overlay/bench';
import { loadRedirectorConfig, startRedirector } from '@overlay/redirector';
import { runRole } from './run.js';

const program = new Command('overlay')
  .description('Overlay: front-end and back-end gateways joined by a prioritized tunnel, managers, and a DNS redirector')
  .showHelpAfterError();

program
  .command('redirector')
  .description('authoritative DNS redirector: answers site names with the best front-end for the client')
  .requiredOption('--config <file>', 'YAML or JSON config file')
  .action(async (options: { config: string }) => {
    await runRole('redirector', async (log) => {
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
    const reports = await runBenchmarks({ names, outDir: options.out });
    process.stdout.write(`${formatTable(reports)}\n`);
    process.exit(0);
  });

await program.parseAsync(process.argv);
