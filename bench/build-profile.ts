// Diagnostic (not part of `npm run bench`): where the engine's CPU goes
// during a real build (make -j2 of 150 C files, as build-cost.ts runs it:
// a fresh engine in this process per round, one build under it first).
// Per round, over the measured build: the CPU of each of this process's
// threads (schedstat; Node's V8 and libuv helpers share the main thread's
// comm, `node`), the garbage collections by kind, the batches and events,
// the rule hits, the events per workload (the node's other activity is
// traced too), and one of:
//   (default) V8's sampling profiler: self time by file and function,
//             inclusive time; each build's .cpuprofile written to --out.
//             Its times are wall-clock gaps between samples: on a loaded
//             host a descheduled thread's wait lands on whatever ran next.
//   --perf    `perf record -g` of the main thread (PERF_ALL=1: every
//             thread) into --out: kernel and native frames, CPU time
//             only. JS names: node --perf-basic-prof (stale entries can
//             misname code), or --perf-prof and `perf inject --jit`.
//   --plain   nothing more.
//   node --initial-old-space-size=64 --import tsx bench/build-profile.ts [ROUNDS] [--monitor] [--perf|--plain] [--last] [--builds N] [--interval US] [--out DIR]
// --last: the profiler in the last round only (the rounds before warm the code).
// --monitor: after the warm-up build (learned), the build's workload goes to
// monitor mode before the measured build: what learning costs is the difference.
import { spawn } from 'node:child_process';
import { writeFileSync, mkdirSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { join } from 'node:path';
import { PerformanceObserver } from 'node:perf_hooks';
import { TestCgroupTree } from '../test/support/cgroup.js';
import { build, generateProject } from './lib/c-project.js';
import { probeUnavailable, threadTimes } from './lib/kernel.js';
import { startVigil } from './lib/vigil-node.js';
import { parseConfig } from '../src/config/load.js';

interface CallFrame { functionName: string; url: string; lineNumber: number }
interface ProfileNode { id: number; callFrame: CallFrame; children?: number[] }
interface CpuProfile { nodes: ProfileNode[]; samples: number[]; timeDeltas: number[]; startTime: number; endTime: number }

const why = probeUnavailable();
if (why) {
  console.log(`skipped: ${why}`);
  process.exit(0);
}
const args = process.argv.slice(2);
const flag = (name: string): string | undefined => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const rounds = Number(args.find((a) => /^\d+$/.test(a)) ?? 2);
const monitor = args.includes('--monitor');
const interval = Number(flag('--interval') ?? 200);
const out = flag('--out') ?? '/tmp/vigil-build-profile';
const profiler = args.includes('--perf') ? 'perf' : args.includes('--plain') ? 'plain' : 'inspector';
// --last: the profiler over the last round only (the rounds before warm the process's code, as a long-running engine's is).
const lastOnly = args.includes('--last');
let how = profiler;
// --builds N: N measured builds under each round's engine (a longer-lived engine: does its code settle?).
const builds = Number(flag('--builds') ?? 1);
mkdirSync(out, { recursive: true });

const short = (url: string): string => url.replace(/^file:\/\/.*?\/(src|node_modules|bench|test)\//, '$1/').replace(/^node:/, 'node:');

/** Self time (µs) by function and by file over a profile; samples taken while idle are (idle). */
function summarise(p: CpuProfile): { byFn: Map<string, number>; byFile: Map<string, number>; total: number } {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  for (let i = 0; i < p.samples.length; i++) self.set(p.samples[i]!, (self.get(p.samples[i]!) ?? 0) + (p.timeDeltas[i + 1] ?? 0));
  const byFn = new Map<string, number>();
  const byFile = new Map<string, number>();
  let total = 0;
  for (const [id, us] of self) {
    const f = byId.get(id)!.callFrame;
    if (f.functionName === '(idle)') continue;
    total += us;
    const file = f.url ? short(f.url) : `(${f.functionName || 'anonymous'})`;
    const fn = `${f.functionName || '(anonymous)'} ${f.url ? `${file}:${f.lineNumber + 1}` : ''}`;
    byFn.set(fn, (byFn.get(fn) ?? 0) + us);
    byFile.set(file, (byFile.get(file) ?? 0) + us);
  }
  return { byFn, byFile, total };
}

/** Inclusive time (µs) of each function name+file over the profile: what a call costs with everything under it. */
function inclusive(p: CpuProfile): Map<string, number> {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const out = new Map<string, number>();
  for (let i = 0; i < p.samples.length; i++) {
    const us = p.timeDeltas[i + 1] ?? 0;
    const seen = new Set<string>();
    for (let id: number | undefined = p.samples[i]; id !== undefined; id = parent.get(id)) {
      const f = byId.get(id)!.callFrame;
      if (f.functionName === '(idle)' || f.functionName === '(root)') continue;
      const k = `${f.functionName || '(anonymous)'} ${f.url ? `${short(f.url)}:${f.lineNumber + 1}` : ''}`;
      if (seen.has(k)) continue;
      seen.add(k);
      out.set(k, (out.get(k) ?? 0) + us);
    }
  }
  return out;
}

const top = (m: Map<string, number>, n: number, total: number): string =>
  [...m].sort((a, b) => b[1] - a[1]).slice(0, n).map(([k, us]) => `    ${(us / 1000).toFixed(1).padStart(6)} ms ${((us / total) * 100).toFixed(1).padStart(5)}%  ${k}`).join('\n');

const gcKinds = new Map<number, string>([[1, 'scavenge'], [2, 'mark-compact'], [4, 'incremental'], [8, 'weak-cb'], [16, 'minor-mc']]);
let gcs = new Map<string, { n: number; ms: number }>();
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) {
    const kind = gcKinds.get((e as unknown as { detail: { kind: number } }).detail.kind) ?? 'other';
    const g = gcs.get(kind) ?? { n: 0, ms: 0 };
    gcs.set(kind, { n: g.n + 1, ms: g.ms + e.duration });
  }
}).observe({ entryTypes: ['gc'] });

const project = generateProject(150);
const tree = new TestCgroupTree();
const group = tree.group('build');
const procs = `${group.dir}/cgroup.procs`;
await build(project, 2);
const session = new Session();
session.connect();
await session.post('Profiler.enable');
await session.post('Profiler.setSamplingInterval', { interval });
/** The measured build under one of the profilers; what it wrote, or '' (--plain). */
async function profiledBuild(name: string): Promise<string> {
  const done = async (): Promise<void> => {
    await build(project, 2, procs);
    await new Promise((res) => setTimeout(res, 300)); // the build's last events reach the engine
  };
  if (how === 'plain') {
    await done();
    return '';
  }
  if (how === 'perf') {
    const data = join(out, `${name}.perf.data`);
    const rec = spawn('perf', ['record', '-q', '-k', 'mono', '-F', '1999', '-g', process.env.PERF_ALL ? '-p' : '-t', String(process.pid), '-o', data], { stdio: 'ignore' });
    await new Promise((res) => setTimeout(res, 500)); // perf attached
    await done();
    rec.kill('SIGINT');
    await new Promise((res) => rec.on('exit', res));
    return data;
  }
  await session.post('Profiler.start');
  await done();
  const { profile } = (await session.post('Profiler.stop')) as unknown as { profile: CpuProfile };
  const file = join(out, `${name}.cpuprofile`);
  writeFileSync(file, JSON.stringify(profile));
  const { byFn, byFile, total } = summarise(profile);
  console.log(`  profiled ${(total / 1000).toFixed(0)} ms; self time by file:`);
  console.log(top(byFile, 25, total));
  console.log('  self time by function:');
  console.log(top(byFn, 40, total));
  console.log('  inclusive time:');
  console.log(top(inclusive(profile), 40, total));
  return file;
}

for (let r = 0; r < rounds; r++) {
  how = lastOnly && r < rounds - 1 ? 'plain' : profiler;
  const v = await startVigil({ probe: { lossReportMs: parseConfig({}).probe.lossReportMs } });
  try {
    await build(project, 2, procs);
    await new Promise((res) => setTimeout(res, 300));
    if (monitor) {
      const w = v.engine.workloads.all().filter((x) => x.events > 0).sort((a, b) => b.events - a.events)[0]!;
      const c = await v.engine.profiles.changeMode(w, 'monitor');
      console.log(`  ${w.name} to monitor: ${c.ok ? 'ok' : c.error}`);
    }
    for (let b = 0; b < builds; b++) {
      const s = v.engine.ingest.sessions().at(-1)!;
      const seq0 = s.lastSeq;
      const ev0 = s.events;
      const alerts0 = v.engine.alertsRaised;
      const hits = async (): Promise<Map<string, number>> =>
        new Map((await v.engine.metrics.registry.getSingleMetric('vigil_rule_hits_total')!.get()).values.map((x) => [String(x.labels.rule), x.value]));
      const hits0 = await hits();
      const workloads0 = new Map(v.engine.workloads.all().map((w) => [w.name, w.events]));
      gcs = new Map();
      const threads0 = threadTimes(process.pid);
      const name = `build-${monitor ? 'monitor' : 'learn'}-${r + 1}${builds > 1 ? `-${b + 1}` : ''}`;
      console.log(`round ${r + 1}${builds > 1 ? `, build ${b + 1}` : ''} (${monitor ? 'monitor' : 'learn'}):`);
      const file = await profiledBuild(name);
      const threads1 = threadTimes(process.pid);
      const main = `node/${process.pid}`;
      const perThread = [...threads1]
        .map(([k, t]) => [k, (t.ns - (threads0.get(k)?.ns ?? 0)) / 1e6, t.switches - (threads0.get(k)?.switches ?? 0)] as const)
        .filter(([, ms]) => ms >= 0.5);
      const helpers = perThread.filter(([k]) => k !== main).reduce((a, [, ms]) => a + ms, 0);
      const hits1 = await hits();
      console.log(
        `  main thread ${perThread.find(([k]) => k === main)?.[1].toFixed(0)} ms, helper threads ${helpers.toFixed(0)} ms; ` +
          `${s.lastSeq - seq0} batches, ${s.events - ev0} events, ${v.engine.alertsRaised - alerts0} alerts; ` +
          `GC: ${[...gcs].map(([k, g]) => `${k} ${g.n}× ${g.ms.toFixed(1)} ms`).join(', ') || 'none'}${file ? `; ${file}` : ''}`,
      );
      console.log(`  threads: ${perThread.map(([k, ms, sw]) => `${k === main ? 'main' : k} ${ms.toFixed(1)} ms/${sw} sw`).join(', ')}`);
      console.log(`  rule hits: ${[...hits1].filter(([k, n]) => n > (hits0.get(k) ?? 0)).map(([k, n]) => `${k} ${n - (hits0.get(k) ?? 0)}`).join(', ') || 'none'}`);
      const byWorkload = v.engine.workloads.all().map((w) => [w.name, w.events - (workloads0.get(w.name) ?? 0)] as const).filter(([, n]) => n > 0);
      console.log(`  events by workload: ${byWorkload.sort((a, b) => b[1] - a[1]).slice(0, 6).map(([k, n]) => `${k} ${n}`).join(', ')}`);
    }
  } finally {
    await v.stop();
  }
}
session.disconnect();
await tree.remove();
process.exit(0);
