// `vigil run` and `vigil engine`: the engine, and for `run` the probe as a
// supervised child. Loaded only by these two commands (the engine, and the
// Kubernetes client when the config enables it, take seconds to load).
import { join } from 'node:path';
import type { Config } from '../config/schema.js';
import { Engine } from '../engine.js';
import { createLogger } from '../log.js';
import { ProbeSupervisor, type ProbeOptions } from '../probe/supervisor.js';
import { installRoot } from '../install.js';
import { dialTarget } from '../rpc/listen.js';
import { VERSION } from '../version.js';

/** The probe built in this checkout, used when the config names none. */
export const bundledProbe = join(installRoot(import.meta.url), 'bpf/build/vigil-probe');

/** The probe's side of mutual TLS for a tcp:// engine, from the engine's tls block. */
function probeTls(config: Config): ProbeOptions['tls'] {
  const t = config.engine.tls;
  if (!t || !config.engine.listen.startsWith('tcp://')) return undefined;
  if (!t.clientCert || !t.clientKey) throw new Error('engine.tls: vigil run needs clientCert and clientKey for the probe it starts');
  return { ca: t.ca, cert: t.clientCert, key: t.clientKey, serverName: t.serverName };
}

export async function runEngine(config: Config, withProbe: boolean): Promise<void> {
  const log = createLogger(config.log.level);
  const cluster = config.kubernetes.enabled ? new (await import('../cluster/kubernetes.js')).KubernetesCluster(config, log) : null;
  const engine = new Engine(config, log, { resolvers: cluster ? [cluster.resolver] : [], cluster: cluster?.hooks() });
  await cluster?.start(engine.workloads);
  await engine.start();
  if (cluster) {
    const { reportSource } = await import('../cluster/policy-reports.js');
    cluster.startReports(reportSource({ onAlert: (fn) => engine.onAlert(fn), registry: engine.workloads, quarantines: engine.quarantines, probe: () => engine.probes.current(), sessions: () => engine.ingest.sessions() }));
  }
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
        ...(config.probe.flushBusyMs !== undefined ? { flushBusyMs: config.probe.flushBusyMs } : {}),
        lossReportMs: config.probe.lossReportMs,
        queueEvents: config.probe.queueEvents,
        fairEventsPerSec: config.probe.fairEventsPerSec,
        dedupWindowMs: config.probe.dedup.enabled ? config.probe.dedup.windowMs : 0,
        ...(config.probe.pinning.dir !== undefined ? { pinDir: config.probe.pinning.dir } : {}),
        unpinOnExit: config.probe.pinning.onExit === 'unpin',
        excludePids: [process.pid],
        tls: probeTls(config),
      },
      log,
      (pid, how, restartInMs) => engine.probeExited(pid, how, restartInMs),
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
    engine.reloadRules();
  });
}
