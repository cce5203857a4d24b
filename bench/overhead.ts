// Workload overhead: the same workloads with no probe, with Vigil (the real
// probe and a real engine consuming, de-duplication on as shipped), and
// with bpftrace tracing the same tracepoints and writing the same facts to
// a file (bench/lib/trace.bt) — every event, so Vigil is also measured with
// its de-duplication off on the loop it absorbs, the like-for-like row —,
// in rounds within one run; each traced
// condition is measured right after its own untraced baseline (the loops
// also right after the tracer is gone: the two bracket the traced run).
//   tight loops, pinned to CPU 1: open+close of one file (what
//   de-duplication absorbs), open of a new missing file each time (what it
//   cannot), fork+exec+exit of a static binary, UDP connect to one
//   loopback peer. Reported: time added per call, the median of the
//   rounds, with the rounds' spread.
//   build: make -j2 of a generated C project in a test cgroup; reported
//   as the ratio of wall times to no probe, and as the ratio of CPU (the
//   build cgroup's, which includes the kernel programs run in its
//   syscalls, plus the tracer's user space) to the untraced build's CPU,
//   which also says where the time goes (wall time on a shared 2-vCPU VM
//   swings by a fifth between rounds). Each build is counted alone, from
//   after its `make clean` to its last events handled; this process's own
//   CPU meanwhile (spawning make) is on both sides of the ratio. Each
//   tracer runs warm-up builds uncounted first (opts.warmBuilds), as a
//   node's Vigil has seen many builds before; their cost is reported apart.
// The workload loops run on CPU 1 and every tracer (probe, engine — in
// this process — and bpftrace) on CPU 0, so each side has its own core;
// the build runs on both.
// Also measured: the floor — what programs that do nothing cost on the
// tracepoints Vigil attaches (bpftrace, filtered to pid 1), per open and
// for the build —; how much of Vigil's added time per call is its own
// programs' run time (the kernel's bpf_stats, over one more run of each
// loop, untimed: counting adds two clock reads to every program run) —
// and the build under per-workload de-duplication keys, and with a
// sustained flow read every 16 ms (probe.flushBusyMs), for comparison.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { createSocket } from 'node:dgram';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseConfig } from '../src/config/load.js';
import { TestCgroupTree } from '../test/support/cgroup.js';
import { build, clean, generateProject } from './lib/c-project.js';
import { bpftraceUnavailable, buildTools, vigilTracepoints, cgroupCpuNs, median, otherProbes, probeUnavailable, processCpuNs, programRunNs, runLoad, sleep, withBpfStats } from './lib/kernel.js';
import { skipped, type Row } from './lib/report.js';
import { startVigil, type VigilNode } from './lib/vigil-node.js';

export interface OverheadOptions {
  rounds: number;
  opens: number;
  execs: number;
  connects: number;
  buildFiles: number;
  /** Builds per condition and round, averaged. */
  builds: number;
  /** Builds each tracer runs uncounted after it starts, before those. */
  warmBuilds: number;
}

// Five rounds of four builds: on a host where the 150-file build takes ~2 s
// (2026-12-06; 6 s before), three rounds of two swung the CPU ratio from
// 1.01 to 1.22, wider than the 3-5% the rows are read for.
// Six warm-up builds: a young engine is still compiling its code and
// filling its tables (4,096 exited processes kept) for several builds. A
// build recorded and replayed into a fresh engine (build-count.ts
// --repeat, 2026-12-08) took 331 M instructions in its 3rd build, 288 M in
// its 5th, 208 M in its 7th and 184 M in its 11th, of which V8's compiles
// 132, 94, 24 and 1.5 M: counting from the 2nd build measured a node's
// first minute, not a node's day. Counted from the 7th, some compiling is
// still in (~12% of the engine's work in the replay).
export const OVERHEAD_DEFAULTS: OverheadOptions = { rounds: 5, opens: 200_000, execs: 4000, connects: 200_000, buildFiles: 150, builds: 4, warmBuilds: 6 };

const script = fileURLToPath(new URL('./lib/trace.bt', import.meta.url));

type Loop = 'open' | 'open-new' | 'exec' | 'connect';
type Traced = 'vigil' | 'vigil-no-dedup' | 'bpftrace' | 'floor' | 'vigil-workload-keys' | 'vigil-busy-16';

/** What one condition measured, a value per round. */
interface Results {
  perCall: Record<Loop, number[]>;
  buildNs: number[];
  /** The build cgroup's CPU (the kernel programs run in the build's own syscalls, so they are in it) and the tracer's user space. */
  buildCpu: { build: number; tracer: number }[];
  /** The tracer's user-space CPU in each build of a round, in order, ns: a young engine's first builds also pay for V8 compiling its code. */
  tracerPerBuild: number[][];
  buildEvents: number[];
}

const noResults = (): Results => ({ perCall: { open: [], 'open-new': [], exec: [], connect: [] }, buildNs: [], buildCpu: [], tracerPerBuild: [], buildEvents: [] });

interface Tracer {
  stop(): Promise<void>;
  /** CPU the tracer's own processes have used so far, ns (for Vigil: the probe; its engine runs in this process, counted with it: see measure). */
  cpuNs(): number;
  /** Events of the build cgroup that reached the engine (Vigil only). */
  buildEvents?: () => number;
  /** Run time of the tracer's BPF programs so far, ns, while bpf_stats is on (Vigil only). */
  programNs?: () => number;
}

/** The perf events and BPF links a process holds: one per attached probe. */
function attachments(pid: number): number {
  let n = 0;
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      if (/perf_event|bpf_link/.test(readlinkSync(`/proc/${pid}/fd/${fd}`))) n++;
    } catch {
      // closed meanwhile
    }
  }
  return n;
}

/** bpftrace running `program`, once attached: its attachments stopped growing for a second. */
async function startBpftrace(program: string, out: string): Promise<Tracer> {
  const child: ChildProcess = spawn('taskset', ['-c', '0', 'bpftrace', '-o', out, '-e', program], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (d) => (err += d));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const cpuNs = (): number => (child.exitCode === null ? processCpuNs(child.pid!) : 0);
  const stop = async (): Promise<void> => {
    if (child.exitCode === null) child.kill('SIGINT');
    // bpftrace 0.17 here once sat in epoll_wait for minutes after a SIGINT
    // (the floor's 99 probes, 2026-12-07): the run would wait for ever.
    const late = setTimeout(() => {
      console.warn(`bpftrace (pid ${child.pid}) still running 10 s after SIGINT: killed`);
      child.kill('SIGKILL');
    }, 10_000);
    await exited;
    clearTimeout(late);
    rmSync(out, { force: true });
  };
  const deadline = Date.now() + 60_000;
  let seen = 0;
  let since = Date.now();
  for (;;) {
    if (child.exitCode !== null || Date.now() > deadline) {
      await stop();
      throw new Error(`bpftrace did not attach: ${err.trim() || 'not within 60 s'}`);
    }
    const n = attachments(child.pid!);
    if (n !== seen) {
      seen = n;
      since = Date.now();
    } else if (n > 0 && Date.now() - since >= 1000) {
      return { stop, cpuNs };
    }
    await sleep(100);
  }
}

async function startTracer(c: Traced, work: string, buildCgroupId: number): Promise<Tracer> {
  if (c === 'bpftrace') return startBpftrace(readFileSync(script, 'utf8'), join(work, 'bpftrace.out'));
  if (c === 'floor') return startBpftrace(`${vigilTracepoints().join(',\n')}\n/pid == 1/ { @n = count(); }`, join(work, 'floor.out'));
  // The shipped settings (the bench node's default reports losses every 200 ms, which loss.ts wants).
  const shipped = { lossReportMs: parseConfig({}).probe.lossReportMs };
  const v: VigilNode = await startVigil(
    c === 'vigil-workload-keys'
      ? { probeFlags: ['--dedup-scope', 'workload'], probe: shipped }
      : c === 'vigil-no-dedup' ? { probe: { ...shipped, dedupWindowMs: 0 } }
      : c === 'vigil-busy-16' ? { probe: { ...shipped, flushBusyMs: 16 } } : { probe: shipped },
  );
  await sleep(1000); // the start-up snapshot handled
  let n = 0;
  v.engine.subscribe((e) => {
    if (e.cgroupId === buildCgroupId) n++;
  });
  const pid = v.probe.pid!;
  return { stop: () => v.stop(), buildEvents: () => n, cpuNs: () => processCpuNs(pid), programNs: () => programRunNs(pid) };
}

export async function overhead(rows: Row[], opts: OverheadOptions = OVERHEAD_DEFAULTS): Promise<void> {
  if (skipped(rows, 'overhead', probeUnavailable() ?? bpftraceUnavailable())) return;
  const others = otherProbes();
  const { tiny } = buildTools();
  const work = mkdtempSync(join(tmpdir(), 'vigil-bench-overhead-'));
  const missing = join(work, 'missing');
  const target = join(work, 'target.txt');
  writeFileSync(target, 'x\n');
  const project = generateProject(opts.buildFiles);
  const tree = new TestCgroupTree();
  const builder = tree.group('build');
  const buildProcs = `${builder.dir}/cgroup.procs`;
  // A UDP port nothing answers on: connect() on UDP only sets the peer.
  const sink = createSocket('udp4');
  await new Promise<void>((r) => sink.bind(0, '127.0.0.1', r));
  const port = String(sink.address().port);

  const loops: Record<Loop, { args: string[]; n: number }> = {
    open: { args: ['open', String(opts.opens), target], n: opts.opens },
    'open-new': { args: ['open-new', String(opts.opens), missing], n: opts.opens },
    exec: { args: ['exec', String(opts.execs), tiny], n: opts.execs },
    connect: { args: ['connect', String(opts.connects), port], n: opts.connects },
  };
  // Each traced condition against an untraced baseline measured just
  // before its tracer starts: the VM's speed drifts within a round, so a
  // baseline from the start of the round biased the later conditions.
  const conditions: Traced[] = ['vigil', 'vigil-no-dedup', 'bpftrace', 'floor', 'vigil-workload-keys', 'vigil-busy-16'];
  const traced = {} as Record<Traced, Results>;
  const untraced = {} as Record<Traced, Results>;
  /** The loops untraced again once the tracer is gone: with the baseline before, they bracket the traced run (the VM drifts). */
  const after = {} as Record<Traced, Results>;
  for (const c of conditions) [traced[c], untraced[c], after[c]] = [noResults(), noResults(), noResults()];
  /** The tracer's (and this process's) CPU in each uncounted warm-up build after it started, in order, per round. */
  const warmBuild = Object.fromEntries(conditions.map((c) => [c, [] as number[][]])) as Record<Traced, number[][]>;
  /** Vigil's own programs' run time per call of each loop (bpf_stats), per round. */
  const programs: Record<Loop, number[]> = { open: [], 'open-new': [], exec: [], connect: [] };
  /** CPU one timer wakeup of an idle thread costs here (a VM pays for each in exits). */
  const wakeupCpu: number[] = [];
  const loopsOf = (c: Traced): Loop[] => (c === 'floor' || c === 'vigil-no-dedup' ? ['open'] : c === 'vigil-workload-keys' || c === 'vigil-busy-16' ? [] : ['open', 'open-new', 'exec', 'connect']);
  /** The conditions that run the build (de-duplication off: the open loop only, the row bpftrace is compared with). */
  const builds = (c: Traced): boolean => c !== 'vigil-no-dedup';
  const loopsOnly = async (which: Loop[], into: Results): Promise<void> => {
    for (const l of which) {
      const r = await runLoad(loops[l].args, { cpu: 1 });
      into.perCall[l].push(r.ns / r.n);
    }
  };
  const measure = async (which: Loop[], tracer: Tracer | null, into: Results, build_ = true): Promise<void> => {
    await loopsOnly(which, into);
    if (!build_) return;
    // Each build counted alone, its `make clean` before and outside the
    // count: the clean runs outside the build's cgroup, so its CPU is in
    // no baseline, and a tracer's work on its events is not the build's.
    // This process's CPU (spawning make, and Vigil's engine when it runs
    // here) is counted on both sides, so the harness's own share cancels.
    let ns = 0;
    const sum = { build: 0, tracer: 0 };
    const perBuild: number[] = [];
    for (let b = 0; b < opts.builds; b++) {
      await clean(project);
      await sleep(300); // the clean's events handled (and the same pause untraced)
      const cpu0 = { build: cgroupCpuNs(builder.dir), tracer: (tracer?.cpuNs() ?? 0) + processCpuNs(process.pid) };
      ns += await build(project, 2, buildProcs, true);
      await sleep(300); // the build's last events reach the engine
      const used = (tracer?.cpuNs() ?? 0) + processCpuNs(process.pid) - cpu0.tracer;
      sum.build += cgroupCpuNs(builder.dir) - cpu0.build;
      sum.tracer += used;
      perBuild.push(used);
    }
    into.tracerPerBuild.push(perBuild);
    into.buildNs.push(ns / opts.builds);
    if (tracer?.buildEvents) into.buildEvents.push(tracer.buildEvents() / opts.builds);
    into.buildCpu.push({ build: sum.build / opts.builds, tracer: sum.tracer / opts.builds });
  };

  // This process (the engine) and what it starts (the probe) on CPU 0.
  const pin = (cpus: string): void => void execFileSync('taskset', ['-a', '-p', '-c', cpus, String(process.pid)], { stdio: 'ignore' });
  pin('0');
  try {
    vigilTracepoints(); // loads each program once: before any timing
    await build(project, 2); // warm the page cache and the compiler
    for (let i = 0; i < 3; i++) {
      const r = await runLoad(['wakeup', '500', '2000'], { cpu: 1 });
      wakeupCpu.push(r.cpu_ns! / r.n);
    }
    for (let round = 0; round < opts.rounds; round++) {
      for (const c of conditions) {
        await measure(loopsOf(c), null, untraced[c], builds(c));
        const tracer = await startTracer(c, work, Number(builder.id));
        try {
          // Warm-up builds first, not counted: a node's Vigil has been
          // running for many builds, so the counted builds are a warm
          // engine's; what a just-started one's first builds cost more (V8
          // compiling the engine's code, its tables filling) is kept apart,
          // in the note. Every tracer alike, though only Vigil's engine warms.
          if (builds(c)) {
            const perBuild: number[] = [];
            for (let b = 0; b < opts.warmBuilds; b++) {
              await clean(project);
              await sleep(300);
              const t0 = (tracer.cpuNs() ?? 0) + processCpuNs(process.pid);
              await build(project, 2, buildProcs, true);
              await sleep(300);
              perBuild.push((tracer.cpuNs() ?? 0) + processCpuNs(process.pid) - t0);
            }
            warmBuild[c].push(perBuild);
          }
          await measure(loopsOf(c), tracer, traced[c], builds(c));
          if (tracer.programNs && c === 'vigil') {
            await withBpfStats(async () => {
              for (const l of loopsOf(c)) {
                const ns0 = tracer.programNs!();
                await runLoad(loops[l].args, { cpu: 1 });
                programs[l].push((tracer.programNs!() - ns0) / loops[l].n);
              }
            });
          }
        } finally {
          await tracer.stop();
        }
        // Detaching dozens of programs leaves the kernel work to finish
        // (RCU callbacks, freeing): the next baseline waits it out.
        await sleep(3000);
        await loopsOnly(loopsOf(c), after[c]);
      }
    }
  } finally {
    pin('0,1');
    sink.close();
    await tree.remove();
    rmSync(work, { recursive: true, force: true });
    rmSync(project, { recursive: true, force: true });
  }

  // Added time per call, per round: each traced run against the mean of the untraced runs just before and after it.
  const baseline = (c: Traced, l: Loop): number[] => untraced[c].perCall[l].map((v, i) => (v + after[c].perCall[l][i]!) / 2);
  const added = (c: Traced, l: Loop): number[] => traced[c].perCall[l].map((v, i) => v - baseline(c, l)[i]!);
  const spread = (xs: number[]): string => `rounds ${xs.map((x) => Math.round(x)).join(', ')}`;
  const noise = others.length ? `; other probes were running (pids ${others.join(', ')})` : '';
  /** What each loop does, and what its time is counted per. */
  const loopNames: Record<Loop, { what: string; per: string }> = {
    open: { what: 'open+close, same file', per: 'open' },
    'open-new': { what: 'open, a new missing file each', per: 'open' },
    exec: { what: 'fork+exec+exit of a static binary', per: 'exec' },
    connect: { what: 'UDP connect to one loopback peer', per: 'connect' },
  };
  const labels = Object.fromEntries(Object.entries(loopNames).map(([l, n]) => [l, `${n.what} (ns added per ${n.per})`])) as Record<Loop, string>;
  for (const l of ['open', 'open-new', 'exec', 'connect'] as Loop[]) {
    const bt = median(added('bpftrace', l));
    /** Vigil's row for condition `c`; bpftrace writes every event, so the open loop also has the row with de-duplication off. */
    const vigilRow = (c: 'vigil' | 'vigil-no-dedup', label: string, target: string): void => {
      const v = median(added(c, l));
      rows.push({
        bench: 'overhead',
        metric: `${labels[l]}: ${label}`,
        value: v,
        unit: 'ns',
        target,
        note: `${(v / bt * 100).toFixed(0)}% of bpftrace's (which writes every event); untraced ${Math.round(median(baseline(c, l)))} ns per call (before and after); ${spread(added(c, l))}${noise}`,
      });
    };
    if (l === 'open') {
      vigilRow('vigil', 'Vigil, de-duplicated (as shipped)', '< 300 and < 1/3 of bpftrace');
      vigilRow('vigil-no-dedup', 'Vigil, de-duplication off (every event sent)', '< 1/3 of bpftrace');
    } else {
      vigilRow('vigil', 'Vigil', '< 1/3 of bpftrace');
    }
    rows.push({ bench: 'overhead', metric: `${labels[l]}: bpftrace`, value: bt, unit: 'ns', note: spread(added('bpftrace', l)) });
    rows.push({
      bench: 'overhead',
      metric: `${loopNames[l].what}: Vigil's programs alone (ns per ${loopNames[l].per})`,
      value: median(programs[l]),
      unit: 'ns',
      note: `run time of the probe's BPF programs per call, by the kernel's bpf_stats (which adds two clock reads to each run), over one more untimed run of the loop; the rest of the time added is the traced syscall path; ${spread(programs[l])}`,
    });
  }
  const floor = added('floor', 'open');
  rows.push({
    bench: 'overhead',
    metric: 'floor: enter+exit programs that do nothing (ns added per open)',
    value: median(floor),
    unit: 'ns',
    note: `bpftrace programs that count nothing (filtered to pid 1) on the ${vigilTracepoints().length} tracepoints Vigil attaches here (its --check-programs): the cost of syscall tracepoints on this node before any work; ${spread(floor)}`,
  });
  rows.push({
    bench: 'overhead',
    metric: 'wakeup floor: CPU of one timer wakeup of an idle thread',
    value: median(wakeupCpu) / 1000,
    unit: 'µs',
    note: `clock_nanosleep of 2 ms, 500 times, thread CPU time per wakeup, no tracer (${wakeupCpu.map((x) => (x / 1000).toFixed(1)).join(', ')}): what this node charges per wakeup before any work; a gRPC message wakes the probe's sender and the engine at least once each`,
  });
  const ratio = (c: Traced): number[] => traced[c].buildNs.map((v, i) => v / untraced[c].buildNs[i]!);
  const buildNote = (c: Traced): string =>
    `${spread(ratio(c).map((r) => r * 1000)).replace('rounds', 'rounds (‰)')}; untraced ${(median(untraced[c].buildNs) / 1e9).toFixed(2)} s` +
    (traced[c].buildEvents.length ? `; ${Math.round(median(traced[c].buildEvents)).toLocaleString('en-US')} events reached the engine` : '');
  rows.push({ bench: 'overhead', metric: `make -j2, ${opts.buildFiles} C files: Vigil / none`, value: median(ratio('vigil')), unit: 'ratio', target: '≤ 1.03', note: buildNote('vigil') });
  rows.push({ bench: 'overhead', metric: `make -j2: Vigil, per-workload keys / none`, value: median(ratio('vigil-workload-keys')), unit: 'ratio', note: `de-duplication keyed per cgroup instead of per process (--dedup-scope workload), for comparison; ${buildNote('vigil-workload-keys')}` });
  rows.push({ bench: 'overhead', metric: `make -j2: Vigil, probe.flushBusyMs 16 / none`, value: median(ratio('vigil-busy-16')), unit: 'ratio', note: `a sustained flow read every 16 ms instead of 8 (the operator's choice: fewer batches, its events' p50 ~10 ms; bench/README.md), for comparison; ${buildNote('vigil-busy-16')}` });
  rows.push({ bench: 'overhead', metric: `make -j2: bpftrace / none`, value: median(ratio('bpftrace')), unit: 'ratio', note: buildNote('bpftrace') });
  rows.push({
    bench: 'overhead',
    metric: 'make -j2: floor / none',
    value: median(ratio('floor')),
    unit: 'ratio',
    note: `programs that do nothing on the same ${vigilTracepoints().length} tracepoints: what attaching them costs the build before any work (bench/attach-floor.ts prices it per call); ${buildNote('floor')}`,
  });
  // CPU, steadier than wall time on a shared VM: what the build and its
  // tracer used together, against the untraced build of the same round.
  // (The harness's own CPU, this process's while nothing traces, is on both sides: see measure.)
  const cpuRatio = (c: Traced): number[] => traced[c].buildCpu.map((v, i) => (v.build + v.tracer) / (untraced[c].buildCpu[i]!.build + untraced[c].buildCpu[i]!.tracer));
  const cpuNote = (c: Traced): string => {
    const base = untraced[c].buildCpu;
    const inBuild = median(traced[c].buildCpu.map((v, i) => v.build / base[i]!.build - 1)) * 100;
    const tracer = median(traced[c].buildCpu.map((v, i) => (v.tracer - base[i]!.tracer) / base[i]!.build)) * 100;
    const harness = median(base.map((v) => v.tracer)) / 1e6;
    // The tracer's (and harness's) CPU by the build's place in its round (medians over rounds): a tracer starts each round, so a young engine's first build shows its warm-up.
    const inOrder = traced[c].tracerPerBuild[0]?.map((_, b) => median(traced[c].tracerPerBuild.map((r) => r[b]!)) / 1e6) ?? [];
    const warm = warmBuild[c][0]?.map((_, b) => Math.round(median(warmBuild[c].map((r) => r[b]!)) / 1e6)) ?? [];
    const order = `; the tracer's CPU per build (medians): ${warm.join(', ')} ms in the ${warm.length} after it started (not counted), then ${inOrder.map((ms) => Math.round(ms)).join(', ')} ms`;
    return `of it in the build's own syscalls (kernel programs, traced path) ${inBuild.toFixed(1)}%, in the tracer's user space ${tracer.toFixed(1)}%; ${spread(cpuRatio(c).map((r) => r * 1000)).replace('rounds', 'rounds (‰)')}; untraced build CPU ${(median(base.map((v) => v.build)) / 1e9).toFixed(2)} s, the harness's ${harness.toFixed(0)} ms${order}`;
  };
  for (const [c, label] of [['vigil', 'Vigil'], ['vigil-workload-keys', 'Vigil, per-workload keys'], ['vigil-busy-16', 'Vigil, probe.flushBusyMs 16'], ['bpftrace', 'bpftrace'], ['floor', 'floor']] as const) {
    rows.push({
      bench: 'overhead',
      metric: `make -j2, CPU of build + tracer: ${label} / none`,
      value: median(cpuRatio(c)),
      unit: 'ratio',
      ...(c === 'vigil' ? { target: '≤ 1.05 (issue 25)' } : {}),
      note: cpuNote(c),
    });
  }
}
