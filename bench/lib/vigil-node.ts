// A Vigil node for the kernel benchmarks: the real engine in this process
// (built-in rules, alerts to a file, a silent logger) and the real probe as
// its supervised child, as `vigil run` starts them.
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig } from '../../src/config/load.js';
import type { ConfigInput } from '../../src/config/schema.js';
import { Engine } from '../../src/engine.js';
import { type Logger, silentLogger } from '../../src/log.js';
import { ProbeSupervisor, type ProbeOptions } from '../../src/probe/supervisor.js';
import type { WireLossReport } from '../../src/probe/wire.js';
import { probeBinary, waitUntil } from './kernel.js';
import { scratchEngineInput } from './scratch-engine.js';

export interface VigilNode {
  engine: Engine;
  probe: ProbeSupervisor;
  dir: string;
  /** The probe's latest cumulative loss report (zeros before the first). */
  losses(): WireLossReport;
  /** Resident memory of the probe process, in bytes. */
  probeRss(): number;
  stop(): Promise<void>;
}

export interface VigilNodeOptions {
  config?: Partial<ConfigInput>;
  probe?: Partial<ProbeOptions>;
  /** Probe flags the config has no key for (e.g. --dedup-scope workload). */
  probeFlags?: string[];
  /** The engine's and the probe's log (default: silent). */
  log?: Logger;
}

export async function startVigil(opts: VigilNodeOptions = {}): Promise<VigilNode> {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-bench-'));
  let path = probeBinary;
  if (opts.probeFlags?.length) {
    // The supervisor runs this, which becomes the probe with the extra flags.
    path = join(dir, 'probe.sh');
    writeFileSync(path, `#!/bin/sh\nexec ${probeBinary} ${opts.probeFlags.join(' ')} "$@"\n`);
    chmodSync(path, 0o755);
  }
  const config = parseConfig({ nodeName: 'bench', ...scratchEngineInput(dir), ...opts.config });
  const log = opts.log ?? silentLogger();
  const engine = new Engine(config, log);
  await engine.start();
  const p = config.probe;
  const probe = new ProbeSupervisor(
    {
      path, engine: config.engine.listen, nodeName: config.nodeName,
      ringbufBytes: p.ringbufBytes, batchMax: p.batchMax, flushMs: p.flushMs, lossReportMs: 200, queueEvents: p.queueEvents,
      dedupWindowMs: p.dedup.enabled ? p.dedup.windowMs : 0,
      fairEventsPerSec: p.fairEventsPerSec,
      excludePids: [process.pid],
      ...opts.probe,
    },
    log,
  );
  probe.start();
  try {
    await waitUntil('the probe to connect', () => engine.ingest.sessions().some((s) => s.snapshotDone), 30_000);
  } catch (e) {
    // Not left running (and tracing the node) after a bench that gave up on it.
    await probe.stop();
    await engine.stop();
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  const session = (): ReturnType<Engine['ingest']['sessions']>[number] | undefined => engine.ingest.sessions().at(-1);
  return {
    engine,
    probe,
    dir,
    losses: () => session()!.losses,
    probeRss: () => rssOf(probe.pid!),
    async stop() {
      await probe.stop();
      await engine.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export function rssOf(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : NaN;
}
