// `vigil mode` and `vigil policy export | apply | diff`: the learn in QA →
// review in git → enforce in production flow, against a running engine.
import { readFileSync, writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { withEngine } from './config.js';

function fail(message: string): void {
  process.stderr.write(`vigil: ${message}\n`);
  process.exitCode = 1;
}

function readPolicy(file: string): string {
  try {
    return readFileSync(file === '-' ? 0 : file, 'utf8');
  } catch (err) {
    throw new Error(`${file}: cannot read: ${(err as Error).message}`, { cause: err });
  }
}

export function registerPolicyCommands(program: Command): void {
  program
    .command('mode')
    .description("change a workload's mode on the running engine: learn, monitor or enforce")
    .argument('<workload>', 'workload name as `vigil status` lists it')
    .argument('<mode>', 'learn | monitor | enforce')
    .option('-c, --config <file>', 'the config the engine runs with')
    .action(async (workload: string, mode: string, o: { config?: string }) => {
      const r = await withEngine(o.config, (c) => c.setMode(workload, mode));
      if (!r.ok) return fail(r.error);
      process.stdout.write(`${workload}: ${r.from} → ${mode}\n`);
      for (const w of r.warnings) process.stdout.write(`  not enforced in the kernel: ${w}\n`);
    });

  const policy = program.command('policy').description('learned profiles as reviewable WorkloadProfile YAML');
  policy
    .command('export')
    .description('write the learned profile(s) as YAML (all workloads when none is named)')
    .argument('[workload]')
    .option('-c, --config <file>', 'the config the engine runs with')
    .option('-o, --output <file>', 'write to a file instead of stdout')
    .option('--network-policy', 'the network part as a Kubernetes NetworkPolicy (names as the addresses seen)')
    .option('--cilium', 'the network part as a CiliumNetworkPolicy (names as toFQDNs)')
    .action(async (workload: string | undefined, o: { config?: string; output?: string; networkPolicy?: boolean; cilium?: boolean }) => {
      const format = o.cilium ? 'ciliumnetworkpolicy' : o.networkPolicy ? 'networkpolicy' : 'yaml';
      const r = await withEngine(o.config, (c) => c.exportPolicy(workload ?? '', format));
      if (!r.ok) return fail(r.error);
      if (o.output) writeFileSync(o.output, r.text);
      else process.stdout.write(r.text);
    });

  policy
    .command('apply')
    .description('load reviewed WorkloadProfile YAML into the running engine (validated before anything changes)')
    .argument('<file>', "a YAML file, or '-' for stdin")
    .option('-c, --config <file>', 'the config the engine runs with')
    .action(async (file: string, o: { config?: string }) => {
      const r = await withEngine(o.config, (c) => c.applyPolicy(readPolicy(file), file));
      if (!r.ok) return fail(`policy not applied:\n${r.error}`);
      for (const a of r.applied) process.stdout.write(`applied ${a}\n`);
      for (const w of r.warnings) process.stdout.write(`  not enforced in the kernel: ${w}\n`);
    });

  policy
    .command('diff')
    .description('what a YAML file has that the learned profile lacks (+) and the reverse (-)')
    .argument('<file>')
    .option('-c, --config <file>', 'the config the engine runs with')
    .action(async (file: string, o: { config?: string }) => {
      const r = await withEngine(o.config, (c) => c.diffPolicy(readPolicy(file), file));
      if (!r.ok) return fail(r.error);
      process.stdout.write(r.text);
    });
}
