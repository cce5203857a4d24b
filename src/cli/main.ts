#!/usr/bin/env node
// The `vigil` command.
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { ConfigError, loadConfig } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { withControl } from '../control/client.js';
import { Engine } from '../engine.js';
import { KubernetesCluster } from '../cluster/kubernetes.js';
import { createLogger } from '../log.js';
import { ProbeSupervisor, type ProbeOptions } from '../probe/supervisor.js';
import { dialTarget } from '../rpc/listen.js';
import { VERSION } from '../version.js';
import { formatStatus } from './format.js';
import { registerRespondCommands } from './respond.js';
import { registerRulesCommands } from './rules.js';
import { registerPolicyCommands } from './policy.js';

/** The probe built in this checkout, used when the config names none. */
export const bundledProbe = fileURLToPath(new URL('../../bpf/build/vigil-probe', import.meta.url));

function configOrExit(file: string | undefined): Config {
  try {
    return loadConfig(file);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`vigil: invalid configuration\n${err.problems.map((p) => `  ${p}`).join('\n')}\n`);
      process.exit(2);
    }
    throw err;
  }
}

/** The probe's side of mutual TLS for a tcp:// engine, from the engine's tls block. */
function probeTls(config: Config): ProbeOptions['tls'] {
  const t = config.engine.tls;
  if (!t || !config.engine.listen.startsWith('tcp://')) return undefined;
  if (!t.clientCert || !t.clientKey) throw new Error('engine.tls: vigil run needs clientCert and clientKey for the probe it starts');
  return { ca: t.ca, cert: t.clientCert, key: t.clientKey, serverName: t.serverName };
}

async function runEngine(config: Config, withProbe: boolean): Promise<void> {
  const log = createLogger(config.log.level);
  const cluster = config.kubernetes.enabled ? new KubernetesCluster(config, log) : null;
  const engine = new Engine(config, log, { resolvers: cluster ? [cluster.resolver] : [], cluster: cluster?.hooks() });
  await cluster?.start(engine.workloads);
  await engine.start();
  let probe: ProbeSupervisor | null = null;
  if (withProbe) {
    const listen = config.engine.listen;
    const target = dialTarget(listen, engine.ingest.boundPort);
    probe = new ProbeSupervisor(
      {
        path: config.probe.path ?? bundledProbe,
        engine: listen.startsWith('unix://') ? listen : `tcp://${target}`,
        nodeName: config.nodeName,
        ringbufBytes: config.probe.ringbufBytes,
        batchMax: config.probe.batchMax,
        flushMs: config.probe.flushMs,
        lossReportMs: config.probe.lossReportMs,
        queueEvents: config.probe.queueEvents,
        dedupWindowMs: config.probe.dedup.enabled ? config.probe.dedup.windowMs : 0,
        excludePids: [process.pid],
        tls: probeTls(config),
      },
      log,
    );
    probe.start();
  }
  log.info({ node: config.nodeName, mode: config.defaultMode, version: VERSION }, 'vigil running');
  let stopping = false;
  const shutdown = async (signal: string): Promise<void> => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'stopping');
    await probe?.stop();
    await engine.stop();
    await cluster?.stop();
    log.flush();
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
  // Reload rules; a set that fails to load is logged and the running one kept.
  process.on('SIGHUP', () => {
    log.info({ signal: 'SIGHUP' }, 'reloading rules');
    engine.rules.reload();
  });
}

const program = new Command()
  .name('vigil')
  .description('Runtime behavioural security monitor for Linux containers and Kubernetes')
  .version(VERSION);

program
  .command('run')
  .description('run the engine with the probe as a supervised child (one node)')
  .option('-c, --config <file>', 'YAML config file (default: built-in config)')
  .action(async (o: { config?: string }) => runEngine(configOrExit(o.config), true));

program
  .command('engine')
  .description('run the engine alone; a probe connects to it (the DaemonSet engine container)')
  .option('-c, --config <file>', 'YAML config file (default: built-in config)')
  .action(async (o: { config?: string }) => runEngine(configOrExit(o.config), false));

program
  .command('status')
  .description('probes, events, losses and workloads of the running engine')
  .option('-c, --config <file>', 'the config the engine runs with (finds its control socket)')
  .option('--json', 'machine-readable output')
  .action(async (o: { config?: string; json?: boolean }) => {
    const config = configOrExit(o.config);
    const s = await withControl(config, (c) => c.status());
    process.stdout.write(o.json ? `${JSON.stringify(s, null, 2)}\n` : formatStatus(s));
  });

registerRespondCommands(program, configOrExit);
registerRulesCommands(program, configOrExit);
registerPolicyCommands(program, configOrExit);

const configCmd = program.command('config').description('configuration files');
configCmd
  .command('check')
  .description('validate a config file')
  .argument('<file>')
  .action((file: string) => {
    configOrExit(file);
    process.stdout.write(`${file}: ok\n`);
  });

program.parseAsync().catch((err: Error) => {
  process.stderr.write(`vigil: ${err.message}\n`);
  process.exit(1);
});
