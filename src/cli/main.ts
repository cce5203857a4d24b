#!/usr/bin/env node
// The `vigil` command. Each command imports what it needs when it runs:
// loading everything up front (the engine, the Kubernetes client) made
// `vigil --version` take 2 s. The build bundles this file and what the
// short commands import (scripts/bundle-cli.mjs: one file read instead of
// ~300); the engine stays unbundled in dist/, reached through RUN_MODULE.
import { Command } from 'commander';
import { VERSION } from '../version.js';
import { configOrExit, withEngine } from './config.js';
import { registerPolicyCommands } from './policy.js';
import { registerRespondCommands } from './respond.js';
import { registerRulesCommands } from './rules.js';

/** `vigil run` and `vigil engine`: a specifier the bundler leaves alone, so the engine loads from dist/cli/run.js as compiled. */
const RUN_MODULE = './run.js';
const runEngine = async (...args: Parameters<typeof import('./run.js').runEngine>): Promise<void> =>
  ((await import(RUN_MODULE)) as typeof import('./run.js')).runEngine(...args);

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
    await runEngine(config, true);
  });

program
  .command('engine')
  .description('run the engine alone; a probe connects to it (the DaemonSet engine container)')
  .option('-c, --config <file>', 'YAML config file (default: built-in config)')
  .action(async (o: { config?: string }) => {
    const config = await configOrExit(o.config);
    await runEngine(config, false);
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
