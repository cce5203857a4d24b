// Shared by the kernel benchmarks: why one cannot run here, the C load
// generators (compiled once per run), and small statistics.
import { execFileSync, spawn } from 'node:child_process';
import { accessSync, constants, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cgroup2Mount } from '../../test/support/cgroup.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
/** The probe the benches run; VIGIL_BENCH_PROBE names another build of it (a before/after compare). */
export const probeBinary = process.env.VIGIL_BENCH_PROBE ?? join(root, 'bpf/build/vigil-probe');

/** Why benchmarks with the real probe cannot run here, or null. */
export function probeUnavailable(): string | null {
  if (process.getuid?.() !== 0) return 'needs root';
  if (!existsSync('/sys/kernel/btf/vmlinux')) return 'kernel has no BTF';
  if (!cgroup2Mount()) return 'no cgroup v2';
  try {
    accessSync(probeBinary, constants.X_OK);
  } catch {
    return 'probe not built (npm run build:probe)';
  }
  return null;
}

export function bpftraceUnavailable(): string | null {
  try {
    execFileSync('bpftrace', ['--version'], { stdio: 'ignore' });
    return null;
  } catch {
    return 'bpftrace not installed (scripts/setup.sh installs it)';
  }
}

/** Other Vigil probes on this node: their programs would be timed too. */
export function otherProbes(): number[] {
  const pids: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      if (readFileSync(`/proc/${d}/comm`, 'utf8').trim() === 'vigil-probe') pids.push(Number(d));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

export interface Tools {
  dir: string;
  loadgen: string;
  /** A static binary that only exits: exec cost without a dynamic loader. */
  tiny: string;
}

let tools: Tools | null = null;

/** Compiles bench/lib/loadgen.c and the tiny exec target (once per process). */
export function buildTools(): Tools {
  if (tools) return tools;
  const dir = join(tmpdir(), `vigil-bench-tools-${process.pid}`);
  mkdirSync(dir, { recursive: true });
  const loadgen = join(dir, 'loadgen');
  const tiny = join(dir, 'tiny');
  execFileSync('cc', ['-O2', '-o', loadgen, join(root, 'bench/lib/loadgen.c')]);
  execFileSync('cc', ['-O2', '-static', '-nostdlib', '-o', tiny, '-x', 'c', '-'], {
    input: 'void _start(void) { __asm__ volatile("mov $60, %eax\\n xor %edi, %edi\\n syscall"); }\n',
  });
  tools = { dir, loadgen, tiny };
  return tools;
}

export interface LoadResult {
  n: number;
  ns: number;
  behind_ms?: number;
  /** The generator's own CPU time (wakeup mode). */
  cpu_ns?: number;
}

/** Runs the load generator pinned to `cpu` (when given) and returns what it printed. */
export function runLoad(args: string[], opts: { cpu?: number; cgroupProcs?: string; timeoutMs?: number } = {}): Promise<LoadResult> {
  const { loadgen } = buildTools();
  // A shell joins the cgroup first, then becomes the generator.
  const inner = opts.cgroupProcs ? ['/bin/sh', '-c', 'echo $$ > "$0" && exec "$@"', opts.cgroupProcs, loadgen, ...args] : [loadgen, ...args];
  const cmd = opts.cpu === undefined ? inner : ['taskset', '-c', String(opts.cpu), ...inner];
  return new Promise((resolve, reject) => {
    const child = spawn(cmd[0]!, cmd.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 120_000);
    child.on('error', reject);
    // 'close', not 'exit': a child can exit before its output is read
    // (under load the result line was not there yet: empty JSON).
    child.on('close', (code) => {
      clearTimeout(timer);
      if (code !== 0) return reject(new Error(`loadgen ${args.join(' ')} exited ${code}: ${err.trim()}`));
      try {
        resolve(JSON.parse(out) as LoadResult);
      } catch {
        reject(new Error(`loadgen ${args.join(' ')} printed no result: ${JSON.stringify(out.slice(0, 200))}; stderr ${JSON.stringify(err.trim().slice(0, 200))}`));
      }
    });
  });
}

export async function waitUntil(what: string, pred: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/**
 * Each live thread of a process, by name/tid: its CPU time so far in ns and
 * its context switches (schedstat: exact, where /proc/PID/stat's ticks
 * charge whole ticks to whoever is running).
 */
export function threadTimes(pid: number): Map<string, { ns: number; switches: number }> {
  const out = new Map<string, { ns: number; switches: number }>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const [ns, , switches] = readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ');
      const name = readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim();
      out.set(`${name}/${tid}`, { ns: Number(ns), switches: Number(switches) });
    } catch {
      // exited meanwhile
    }
  }
  return out;
}

/** CPU time of a process's live threads so far, in ns. */
export function processCpuNs(pid: number): number {
  let ns = 0;
  for (const t of threadTimes(pid).values()) ns += t.ns;
  return ns;
}

/** CPU time of every task ever in a cgroup v2 directory, in ns (cpu.stat usage_usec, there without the cpu controller). */
export function cgroupCpuNs(dir: string): number {
  return Number(/^usage_usec (\d+)$/m.exec(readFileSync(`${dir}/cpu.stat`, 'utf8'))![1]) * 1000;
}

/**
 * Run time of the BPF programs a process holds, ns so far, summed, from
 * its prog fds' fdinfo (run_time_ns: counted only while kernel.bpf_stats_enabled
 * is on, and including the two clock reads that counting adds to each run).
 */
export function programRunNs(pid: number): number {
  let ns = 0;
  for (const fd of readdirSync(`/proc/${pid}/fdinfo`)) {
    try {
      const info = readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8');
      if (!info.includes('prog_id:')) continue;
      ns += Number(/^run_time_ns:\s+(\d+)$/m.exec(info)?.[1] ?? 0);
    } catch {
      // closed meanwhile
    }
  }
  return ns;
}

/** `fn` with the kernel counting BPF programs' run time (kernel.bpf_stats_enabled), restored after. */
export async function withBpfStats<T>(fn: () => Promise<T>): Promise<T> {
  const sysctl = '/proc/sys/kernel/bpf_stats_enabled';
  const before = readFileSync(sysctl, 'utf8').trim();
  writeFileSync(sysctl, '1');
  try {
    return await fn();
  } finally {
    writeFileSync(sysctl, before);
  }
}

let tracepoints: string[] | null = null;

/**
 * The tracepoints Vigil's probe attaches on this kernel, as bpftrace probe
 * names: those of the programs the probe's `--check-programs` loads (from
 * the built object, so macro-generated programs count too; programs of
 * tracepoints this kernel lacks are skipped there). The floor attaches a
 * program doing nothing (filtered to pid 1) to each, to measure what the
 * node charges for having them attached at all.
 */
export function vigilTracepoints(): string[] {
  if (tracepoints) return tracepoints;
  let out: string;
  try {
    out = execFileSync(probeBinary, ['--check-programs'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    // Exit 1: some program failed; the lines of those that loaded still count.
    out = String((e as { stdout?: string }).stdout ?? '');
  }
  tracepoints = parseTracepoints(out, tracepointCategory);
  if (!tracepoints.length) throw new Error(`${probeBinary} --check-programs loaded no tracepoint program`);
  return tracepoints;
}

/** The category (events/ directory) of a tracepoint named by its event alone, as tp_btf programs name it. */
function tracepointCategory(event: string): string {
  for (const base of ['/sys/kernel/tracing/events', '/sys/kernel/debug/tracing/events']) {
    if (!existsSync(base)) continue;
    for (const cat of readdirSync(base)) if (existsSync(join(base, cat, event))) return cat;
  }
  throw new Error(`no tracepoint ${event} under /sys/kernel/tracing/events`);
}

/**
 * The tracepoints of the OK lines of `--check-programs` output
 * ("OK   enter_open   tp/syscalls/sys_enter_open", "OK   handle_exec
 * tp_btf/sched_process_exec"), as bpftrace names them; `categoryOf` finds
 * the category of those named by their event alone.
 */
export function parseTracepoints(checkOutput: string, categoryOf: (event: string) => string): string[] {
  const out = new Set<string>();
  for (const m of checkOutput.matchAll(/^OK\s+\S+\s+(?:tp|tracepoint|tp_btf|raw_tp|raw_tracepoint)\/([a-z0-9_]+)(?:\/([a-z0-9_]+))?\s*$/gm)) {
    out.add(m[2] ? `tracepoint:${m[1]}:${m[2]}` : `tracepoint:${categoryOf(m[1]!)}:${m[1]}`);
  }
  return [...out].sort();
}
