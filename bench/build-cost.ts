// Diagnostic (not part of `npm run bench`): where a build's overhead under
// Vigil goes. Alternates untraced builds with builds under Vigil (engine
// warmed by one build first, as the bench's loops warm it) and prints, per
// build, the gRPC batches and events that reached the engine, the CPU ratio
// as the overhead bench counts it (the build cgroup's CPU plus the probe's
// and this process's, against the untraced build's CPU) and the CPU time
// (schedstat, exact) and context switches of each probe thread and of the
// engine's threads (its main thread, `node:main`, apart from V8's and
// libuv's helpers, which share its comm: compiling and collecting), and the run time of the probe's BPF programs during the
// build (bpf_stats, on for that build only: it adds two clock reads to each
// run), the part of the build's own added CPU that is the programs' work
// rather than the traced syscall path.
//   node --initial-old-space-size=64 --import tsx bench/build-cost.ts [ROUNDS] [-- PROBE FLAGS]
//   FLUSH_MS=N sets probe.flushMs. The probe reports losses (and checks itself)
//   at the shipped period, as in the overhead bench's build rows.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { parseConfig } from '../src/config/load.js';
import { TestCgroupTree } from '../test/support/cgroup.js';
import { build, generateProject } from './lib/c-project.js';
import { cgroupCpuNs, median, probeUnavailable, programRunNs, threadTimes, withBpfStats } from './lib/kernel.js';
import { startVigil } from './lib/vigil-node.js';

type Threads = ReturnType<typeof threadTimes>;

/**
 * CPU and context switches per thread between two readings; threads named by comm (several of one name summed).
 * `mainTid`: that thread is shown apart as `<comm>:main` (Node's V8 and libuv helper threads share its comm, `node`).
 */
function delta(before: Threads, after: Threads, mainTid?: number): { ms: number; switches: number; text: string; mainMs: number } {
  const byName = new Map<string, { ms: number; switches: number }>();
  let ms = 0;
  let switches = 0;
  let mainMs = 0;
  for (const [k, v] of after) {
    const b = before.get(k) ?? { ns: 0, switches: 0 };
    const d = { ms: (v.ns - b.ns) / 1e6, switches: v.switches - b.switches };
    ms += d.ms;
    switches += d.switches;
    const slash = k.lastIndexOf('/');
    const main = Number(k.slice(slash + 1)) === mainTid;
    if (main) mainMs = d.ms;
    const name = `${k.slice(0, slash)}${main ? ':main' : ''}`;
    const t = byName.get(name) ?? { ms: 0, switches: 0 };
    byName.set(name, { ms: t.ms + d.ms, switches: t.switches + d.switches });
  }
  const parts = [...byName].filter(([, d]) => d.ms >= 1 || d.switches >= 10).map(([k, d]) => `${k} ${d.ms.toFixed(0)} ms/${d.switches} sw`);
  return { ms, switches, mainMs, text: `${ms.toFixed(0)} ms, ${switches} switches [${parts.join(', ')}]` };
}

/** Run time and count of each BPF program `pid` holds, by name (its fds' fdinfo, names from bpftool; counted while bpf_stats is on). */
function programStats(pid: number): Map<string, { ns: number; runs: number }> {
  const names = new Map<number, string>();
  for (const p of JSON.parse(execFileSync('bpftool', ['-j', 'prog', 'show'], { encoding: 'utf8' })) as { id: number; name?: string }[])
    names.set(p.id, p.name ?? String(p.id));
  const out = new Map<string, { ns: number; runs: number }>();
  for (const fd of readdirSync(`/proc/${pid}/fdinfo`)) {
    let info: string;
    try {
      info = readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8');
    } catch {
      continue; // closed meanwhile
    }
    const id = /^prog_id:\s+(\d+)$/m.exec(info)?.[1];
    if (!id) continue;
    const name = names.get(Number(id)) ?? id;
    const t = out.get(name) ?? { ns: 0, runs: 0 };
    const ns = Number(/^run_time_ns:\s+(\d+)$/m.exec(info)?.[1] ?? 0);
    const runs = Number(/^run_cnt:\s+(\d+)$/m.exec(info)?.[1] ?? 0);
    out.set(name, { ns: t.ns + ns, runs: t.runs + runs });
  }
  return out;
}

/** The programs that ran longest since `before`: name, total ms, runs, ns per run. */
function topPrograms(pid: number, before: Map<string, { ns: number; runs: number }>): string {
  const rows = [...programStats(pid)].map(([name, v]) => {
    const b = before.get(name) ?? { ns: 0, runs: 0 };
    return { name, ns: v.ns - b.ns, runs: v.runs - b.runs };
  });
  rows.sort((a, b) => b.ns - a.ns);
  return rows
    .slice(0, 10)
    .map((r) => `${r.name} ${(r.ns / 1e6).toFixed(0)} ms/${r.runs} runs/${(r.ns / Math.max(1, r.runs)).toFixed(0)} ns`)
    .join(', ');
}

const why = probeUnavailable();
if (why) {
  console.log(`skipped: ${why}`);
  process.exit(0);
}
const rounds = Number(process.argv[2] ?? 3);
const dash = process.argv.indexOf('--');
const probeFlags = dash > 0 ? process.argv.slice(dash + 1) : [];
const flushMs = process.env.FLUSH_MS ? Number(process.env.FLUSH_MS) : undefined;
const shippedLossReportMs = parseConfig({}).probe.lossReportMs;

const project = generateProject(150);
const tree = new TestCgroupTree();
const group = tree.group('build');
const procs = `${group.dir}/cgroup.procs`;
await build(project, 2); // warm the page cache and the compiler
const none: number[] = [];
const traced: number[] = [];
const cpuRatios: number[] = [];
for (let r = 0; r < rounds; r++) {
  const cpuNone0 = cgroupCpuNs(group.dir);
  none.push(await build(project, 2, procs));
  const cpuNone = cgroupCpuNs(group.dir) - cpuNone0;
  // The shipped loss-report period, as the overhead bench's build rows run: each report brings a self-check (bpf/probe/selfcheck.h).
  const v = await startVigil({ probeFlags, probe: { lossReportMs: shippedLossReportMs }, ...(flushMs ? { config: { probe: { flushMs } } as never } : {}) });
  try {
    const pid = v.probe.pid!;
    await build(project, 2, procs);
    const session = (): ReturnType<typeof v.engine.ingest.sessions>[number] => v.engine.ingest.sessions().at(-1)!;
    const seq0 = session().lastSeq;
    const events0 = session().events;
    const probe0 = threadTimes(pid);
    const engine0 = threadTimes(process.pid);
    const programs0 = programStats(pid);
    const cpu0 = cgroupCpuNs(group.dir);
    let runNs = 0;
    traced.push(
      await withBpfStats(async () => {
        const run0 = programRunNs(pid);
        const wall = await build(project, 2, procs);
        runNs = programRunNs(pid) - run0;
        return wall;
      }),
    );
    const cpuBuild = cgroupCpuNs(group.dir) - cpu0;
    console.log(`  programs ${topPrograms(pid, programs0)}`);
    await new Promise((res) => setTimeout(res, 300)); // the build's last events reach the engine
    const probe = delta(probe0, threadTimes(pid));
    // The main thread runs the engine; V8's helper threads (compiling, collecting) and libuv's are the rest.
    const engine = delta(engine0, threadTimes(process.pid), process.pid);
    const ratio = (cpuBuild + (probe.ms + engine.ms) * 1e6) / cpuNone;
    cpuRatios.push(ratio);
    const batches = session().lastSeq - seq0;
    console.log(
      `round ${r + 1}: wall ${(traced.at(-1)! / none.at(-1)!).toFixed(3)}, CPU ${ratio.toFixed(3)} (build ${((cpuBuild / cpuNone - 1) * 100).toFixed(1)}%, ` +
        `of it BPF programs ${((runNs / cpuNone) * 100).toFixed(1)}%, probe ${((probe.ms * 1e6 / cpuNone) * 100).toFixed(1)}%, engine ${((engine.ms * 1e6 / cpuNone) * 100).toFixed(1)}%, ` +
        `of it its main thread ${((engine.mainMs * 1e6 / cpuNone) * 100).toFixed(1)}%); ` +
        `${batches} batches, ${session().events - events0} events; per batch ${(((probe.ms + engine.ms) * 1000) / Math.max(1, batches)).toFixed(0)} µs, ` +
        `${((probe.switches + engine.switches) / Math.max(1, batches)).toFixed(1)} switches`,
    );
    console.log(`  probe  ${probe.text}`);
    console.log(`  engine ${engine.text}`);
  } finally {
    await v.stop();
  }
}
await tree.remove();
const ratios = traced.map((t, i) => t / none[i]!);
console.log(`Vigil / none: wall median ${median(ratios).toFixed(3)} [${ratios.map((x) => x.toFixed(3)).join(' ')}], CPU median ${median(cpuRatios).toFixed(3)} [${cpuRatios.map((x) => x.toFixed(3)).join(' ')}]; untraced ${(median(none) / 1e9).toFixed(2)} s`);
process.exit(0);
