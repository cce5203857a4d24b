// A real engine for tests: its own sockets and state under a temp
// directory, events collected as they pass, and optionally the real probe.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig } from '../../src/config/load.js';
import type { Config, ConfigInput } from '../../src/config/schema.js';
import { Engine, type EngineOptions } from '../../src/engine.js';
import type { Event } from '../../src/model/event.js';
import { createLogger, type Logger } from '../../src/log.js';
import { ProbeSupervisor } from '../../src/probe/supervisor.js';
import pino from 'pino';
import { probeBinary, probeStartMs, waitFor } from './kernel.js';

export interface LogLine {
  level: string;
  msg: string;
  [k: string]: unknown;
}

/** A logger whose lines tests can read (and that prints nothing). */
export function capturingLogger(): { log: Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const log = createLogger('debug', {
    destination: { write: (s: string) => void lines.push(JSON.parse(s) as LogLine) } as pino.DestinationStream,
  });
  return { log, lines };
}

export class TestEngine {
  readonly events: Event[] = [];
  probe: ProbeSupervisor | null = null;

  private constructor(
    readonly engine: Engine,
    readonly config: Config,
    readonly dir: string,
    readonly logLines: LogLine[],
  ) {
    engine.subscribe((e) => this.events.push(e));
  }

  static async start(overrides: Partial<ConfigInput> = {}, opts: EngineOptions & { dir?: string } = {}): Promise<TestEngine> {
    const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'vigil-test-'));
    const config = parseConfig({
      nodeName: 'test-node',
      control: { listen: `unix://${dir}/control.sock` },
      stateDir: join(dir, 'state'),
      metrics: { listen: 'tcp://127.0.0.1:0' },
      ...overrides,
      // VIGIL_TEST_WORKERS=N runs any engine test with N detection worker threads (docs/workers.md).
      engine: { listen: `unix://${dir}/engine.sock`, ...(process.env.VIGIL_TEST_WORKERS ? { workers: Number(process.env.VIGIL_TEST_WORKERS) } : {}), ...overrides.engine },
    });
    const { log, lines } = capturingLogger();
    const engine = new Engine(config, log, opts);
    await engine.start();
    return new TestEngine(engine, config, dir, lines);
  }

  /** Starts the real probe against this engine and waits until it is connected. */
  async startProbe(extra: { ringbufBytes?: number; queueEvents?: number; fairEventsPerSec?: number; pinDir?: string; unpinOnExit?: boolean; path?: string; lossReportMs?: number } = {}): Promise<void> {
    this.probe = new ProbeSupervisor(
      {
        // A test may start it through a wrapper that execs the probe (e.g. in a cgroup of its own).
        path: extra.path ?? probeBinary,
        engine: this.config.engine.listen,
        nodeName: this.config.nodeName,
        ringbufBytes: extra.ringbufBytes ?? this.config.probe.ringbufBytes,
        batchMax: this.config.probe.batchMax,
        flushMs: this.config.probe.flushMs,
        ...(this.config.probe.flushBusyMs !== undefined ? { flushBusyMs: this.config.probe.flushBusyMs } : {}),
        // Also the idle probe's wake-up (bpf/probe/main.cc): a test may set it far off, so no record rides on it.
        lossReportMs: extra.lossReportMs ?? 200,
        queueEvents: extra.queueEvents ?? this.config.probe.queueEvents,
        fairEventsPerSec: extra.fairEventsPerSec ?? this.config.probe.fairEventsPerSec,
        dedupWindowMs: this.config.probe.dedup.enabled ? this.config.probe.dedup.windowMs : 0,
        // Tests share the node name: no pins unless a test gives its own directory.
        pinDir: extra.pinDir ?? '',
        unpinOnExit: extra.unpinOnExit ?? false,
        excludePids: [process.pid],
      },
      this.engine.log,
      (pid, how, restartInMs) => this.engine.probeExited(pid, how, restartInMs),
    );
    this.probe.start();
    await waitFor('the probe to connect and send its snapshot', () => this.engine.ingest.sessions().some((s) => s.snapshotDone), probeStartMs);
  }

  /** Events of one cgroup, optionally of one type. */
  of(cgroupId: string | number, type?: Event['type']): Event[] {
    const id = Number(cgroupId);
    return this.events.filter((e) => e.cgroupId === id && (!type || e.type === type));
  }

  async stop(opts: { keepDir?: boolean } = {}): Promise<void> {
    await this.probe?.stop();
    await this.engine.stop();
    if (!opts.keepDir) rmSync(this.dir, { recursive: true, force: true });
  }
}
