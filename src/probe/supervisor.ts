// `vigil run` keeps the native probe running as a child: starts it pointed
// at the engine, forwards its log lines, restarts it with backoff when it
// dies, and stops it with SIGTERM (it detaches its programs on the way out);
// killed itself, the kernel sends the probe that SIGTERM (--parent-pid).
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { createInterface } from 'node:readline';
import type { Logger } from '../log.js';

// How long after the probe's exit its stderr may still be read to the end.
const STDERR_GRACE_MS = 1000;

export interface ProbeOptions {
  path: string;
  engine: string; // unix:///… or tcp://host:port, as the probe dials it
  nodeName: string;
  ringbufBytes: number;
  batchMax: number;
  flushMs: number;
  /** How often a sustained flow of small batches is read; undefined: the probe's default (4 × flushMs). */
  flushBusyMs?: number;
  lossReportMs: number;
  queueEvents: number;
  /** In-kernel de-duplication window; 0 turns it off, undefined leaves the probe's default. */
  dedupWindowMs?: number;
  /** Fairness budget (events/s toward the engine, split among workloads); 0 off, undefined the probe's default. */
  fairEventsPerSec?: number;
  /** Where the probe pins its enforcement (bpf/probe/pinning.h); '' off, undefined the probe's default (/sys/fs/bpf/vigil/NODE). */
  pinDir?: string;
  /** Unpin on a clean stop even while a workload is enforced. */
  unpinOnExit?: boolean;
  /** Processes whose own activity is not reported (the engine). */
  excludePids: number[];
  /** Mutual TLS for a tcp:// engine: the CA that signed the engine's certificate, the probe's own certificate and key. */
  tls?: { ca: string; cert: string; key: string; serverName: string };
}

export function probeArgs(o: ProbeOptions): string[] {
  const args = [
    '--engine', o.engine, '--node', o.nodeName,
    '--ringbuf-bytes', String(o.ringbufBytes), '--batch-max', String(o.batchMax), '--flush-ms', String(o.flushMs),
    '--loss-report-ms', String(o.lossReportMs), '--queue-events', String(o.queueEvents),
  ];
  if (o.flushBusyMs !== undefined) args.push('--flush-busy-ms', String(o.flushBusyMs));
  if (o.dedupWindowMs !== undefined) args.push('--dedup-window-ms', String(o.dedupWindowMs));
  if (o.fairEventsPerSec !== undefined) args.push('--fair-events-per-sec', String(o.fairEventsPerSec));
  if (o.pinDir !== undefined) args.push('--pin-dir', o.pinDir);
  if (o.unpinOnExit) args.push('--unpin-on-exit');
  for (const pid of o.excludePids) args.push('--exclude-pid', String(pid));
  if (o.tls) args.push('--tls-ca', o.tls.ca, '--tls-cert', o.tls.cert, '--tls-key', o.tls.key, '--tls-server-name', o.tls.serverName);
  return args;
}

export class ProbeSupervisor {
  private child: ChildProcess | null = null;
  private stopping = false;
  private stderrDone: Promise<void> = Promise.resolve();
  private restartTimer: NodeJS.Timeout | null = null;
  private backoffMs = 500;
  restarts = 0;

  constructor(
    private readonly opts: ProbeOptions,
    private readonly log: Logger,
    /** Called when the probe exits unasked: its pid, how it ended, when it starts again. */
    private readonly onExit: (pid: number, how: string, restartInMs: number) => void = () => {},
  ) {}

  get pid(): number | undefined {
    return this.child?.pid;
  }

  start(): void {
    try {
      accessSync(this.opts.path, constants.X_OK);
    } catch {
      throw new Error(`probe binary ${this.opts.path} is missing or not executable (npm run build:probe builds it)`);
    }
    this.spawnOnce();
  }

  private spawnOnce(): void {
    const startedAt = Date.now();
    // --parent-pid: the kernel stops the probe (SIGTERM) if this process dies
    // without stopping it (SIGKILL, the OOM killer), instead of leaving it
    // orphaned with its programs attached and nobody reading.
    const child = spawn(this.opts.path, [...probeArgs(this.opts), '--parent-pid', String(process.pid)], { stdio: ['ignore', 'ignore', 'pipe'] });
    this.child = child;
    const lines = createInterface({ input: child.stderr! });
    lines.on('line', (line) => {
      const sp = line.indexOf(' ');
      const level = sp > 0 ? line.slice(0, sp) : 'info';
      const msg = sp > 0 ? line.slice(sp + 1) : line;
      const log = this.log.child({ component: 'probe', pid: child.pid });
      if (level === 'error') log.error(msg);
      else if (level === 'warn') log.warn(msg);
      else log.info(msg);
    });
    child.on('error', (err) => this.log.error({ err: err.message }, 'cannot start the probe'));
    // Its last lines (the stop's delivery summary) may still be unread at
    // 'exit': stop() and the exit line wait for the pipe's end, briefly, as a
    // child the probe started could hold it open.
    this.stderrDone = new Promise<void>((resolve) => {
      lines.once('close', resolve);
      child.once('exit', () => setTimeout(resolve, STDERR_GRACE_MS).unref());
    });
    const stderrDone = this.stderrDone;
    child.on('exit', (code, signal) => {
      if (this.child === child) this.child = null;
      if (this.stopping) {
        void stderrDone.then(() => this.log.info({ code, signal }, 'probe exited'));
        return;
      }
      // Up for a while: it was a crash, not a start-up failure; retry quickly.
      if (Date.now() - startedAt > 10_000) this.backoffMs = 500;
      this.log.error({ code, signal, retryInMs: this.backoffMs }, 'probe exited; restarting');
      this.restarts++;
      this.onExit(child.pid ?? 0, signal ? `killed by ${signal}` : `exit code ${code}`, this.backoffMs);
      this.restartTimer = setTimeout(() => this.spawnOnce(), this.backoffMs);
      this.backoffMs = Math.min(this.backoffMs * 2, 30_000);
    });
  }

  /** SIGTERM, then SIGKILL if it has not exited within `graceMs`. */
  async stop(graceMs = 5000): Promise<void> {
    this.stopping = true;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.log.warn('probe did not stop in time; killing it');
        child.kill('SIGKILL');
      }, graceMs);
      child.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
      child.kill('SIGTERM');
    });
    await this.stderrDone;
  }
}
