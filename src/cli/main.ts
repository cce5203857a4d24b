#!/usr/bin/env node
// The `vigil` command. Each command imports what it needs when it runs:
// loading everything up front (the engine, the Kubernetes client) made
// `vigil --version` take 2 s.
import { Command } from 'commander';
import { VERSION } from '../version.js';
import { configOrExit, withEngine } from './config.js';
import { registerPolicyCommands } from './policy.js';
import { registerRespondCommands } from './respond.js';
import { registerRulesCommands } from './rules.js';

const program = new Command()
  .name('vigil')
  .description('Runtime behavioural security monitor for Linux containers and Kubernetes')
  .version(VERSION);

program
  .command('run')
  .description('run the engine with the probe as a supervised child (one node)')
  .option('-c, --config <file>', 'YAML config file (default: built-in config)')
  .action(async (o: { config?: string }) => {
    const config = await configOrExit(o.config);
    await (await import('./run.js')).runEngine(config, true);
  });

program
  .command('engine')
  .description('run the engine alone; a probe connects to it (the DaemonSet engine container)')
  .option('-c, --config <file>', 'YAML config file (default: built-in config)')
  .action(async (o: { config?: string }) => {
    const config = await configOrExit(o.config);
    await (await import('./run.js')).runEngine(config, false);
  });

program
  .command('status')
  .description('probes, events, losses and workloads of the running engine')
  .option('-c, --config <file>', 'the config the engine runs with (finds its control socket)')
  .option('--json', 'machine-readable output')
  .action(async (o: { config?: string; json?: boolean }) => {
    const s = await withEngine(o.config, (c) => c.status());
    process.stdout.write(o.json ? `${JSON.stringify(s, null, 2)}\n` : (await import('./format.js')).formatStatus(s));
  });

registerRespondCommands(program);
registerRulesCommands(program);
registerPolicyCommands(program);

const configCmd = program.command('config').description('configuration files');
configCmd
  .command('check')
  .description('validate a config file')
  .argument('<file>')
  .action(async (file: string) => {
    await configOrExit(file);
    process.stdout.write(`${file}: ok\n`);
  });

program.parseAsync().catch((err: Error) => {
  process.stderr.write(`vigil: ${err.message}\n`);
  process.exit(1);
});
