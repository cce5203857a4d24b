// Diagnostic (not part of `npm run bench`): how the probe batches a build.
// Per make -j2 of 150 files, one Vigil start per build: the batches that
// carried the build cgroup's events (distinct batch numbers, whatever else
// the node's other work sent), those events' latency from the kernel's
// stamp to the engine's handling, and the probe's and the engine's CPU
// (all their threads; machine-wide work included). Each VARIANT names a
// probe binary or a wrapper script that adds flags; the variants alternate
// within each round.
//   node --import tsx bench/build-batches.ts ROUNDS NAME=PROBE_PATH...
import { readFileSync } from 'node:fs';
import { parseConfig } from '../src/config/load.js';
import { TestCgroupTree } from '../test/support/cgroup.js';
import { build, generateProject } from './lib/c-project.js';
import { percentile, probeUnavailable, threadTimes } from './lib/kernel.js';
import { startVigil } from './lib/vigil-node.js';

const rounds = Number(process.argv[2]);
const variants = process.argv.slice(3).map((a) => a.split('=') as [string, string]);
if (!(rounds > 0) || !variants.length || variants.some((v) => v.length !== 2)) {
  console.error('usage: build-batches.ts ROUNDS NAME=PROBE_PATH...');
  process.exit(2);
}
const why = probeUnavailable();
if (why) {
  console.log(`skipped: ${why}`);
  process.exit(0);
}
const project = generateProject(150);
const tree = new TestCgroupTree();
const g = tree.group('build');
const procs = `${g.dir}/cgroup.procs`;
const cg = Number(g.id);
/** CPU (ns) and context switches of all of a process's threads so far. */
const cpu = (pid: number): { ns: number; sw: number } => {
  let ns = 0;
  let sw = 0;
  for (const v of threadTimes(pid).values()) {
    ns += v.ns;
    sw += v.switches;
  }
  return { ns, sw };
};
/** Per probe thread (by name, its tids summed): timeslices and CPU (ms) between two reads. */
const perThread = (a: Map<string, { ns: number; switches: number }>, b: Map<string, { ns: number; switches: number }>, batches: number): string => {
  const by = new Map<string, { ns: number; sw: number }>();
  for (const [k, x] of b) {
    const y = a.get(k) ?? { ns: 0, switches: 0 };
    const name = k.slice(0, k.lastIndexOf('/'));
    const t = by.get(name) ?? { ns: 0, sw: 0 };
    t.ns += x.ns - y.ns;
    t.sw += x.switches - y.switches;
    by.set(name, t);
  }
  return [...by].filter(([, t]) => t.sw > 0).map(([n, t]) => `${n} ${(t.sw / Math.max(1, batches)).toFixed(2)} runs/batch ${(t.ns / 1e6).toFixed(0)} ms`).join(', ');
};
await build(project, 2);
try {
  for (let r = 0; r < rounds; r++) {
    for (const [name, path] of variants) {
      const v = await startVigil({ probe: { path, lossReportMs: parseConfig({}).probe.lossReportMs } });
      try {
        const sess = () => v.engine.ingest.sessions().at(-1)!;
        const seqs = new Set<number>();
        const lat: number[] = [];
        let n = 0;
        let on = false;
        v.engine.subscribe((e) => {
          if (!on || e.cgroupId !== cg) return;
          n++;
          seqs.add(sess().lastSeq);
          lat.push((Number(process.hrtime.bigint()) - e.ktimeNs) / 1e6);
        });
        await new Promise((res) => setTimeout(res, 1000)); // the start-up snapshot handled
        const pid = v.probe.pid!;
        const b0 = sess().lastSeq, ev0 = sess().events, p0 = cpu(pid), e0 = cpu(process.pid), t0 = threadTimes(pid);
        on = true;
        const wall = await build(project, 2, procs);
        await new Promise((res) => setTimeout(res, 300));
        on = false;
        const p1 = cpu(pid), e1 = cpu(process.pid), t1 = threadTimes(pid);
        const batches = sess().lastSeq - b0, events = sess().events - ev0;
        lat.sort((a, b) => a - b);
        const ms = (p1.ns - p0.ns + e1.ns - e0.ns) / 1e6;
        console.log(`${name} r${r} ${new Date().toISOString().slice(11, 19)} load ${readFileSync('/proc/loadavg', 'utf8').split(' ')[0]}: build ${(wall / 1e9).toFixed(1)} s; build events ${n} in ${seqs.size} batches (${(n / seqs.size).toFixed(1)}/batch); ` +
          `latency ms p50 ${percentile(lat, 50).toFixed(2)} p99 ${percentile(lat, 99).toFixed(2)} max ${lat.at(-1)!.toFixed(2)}; all: ${batches} batches ${events} events; ` +
          `probe ${((p1.ns - p0.ns) / 1e6).toFixed(0)} ms/${p1.sw - p0.sw} sw, engine ${((e1.ns - e0.ns) / 1e6).toFixed(0)} ms/${e1.sw - e0.sw} sw; per batch ${(ms * 1000 / Math.max(1, batches)).toFixed(0)} µs; probe threads: ${perThread(t0, t1, batches)}`);
      } finally {
        await v.stop();
      }
    }
  }
} finally {
  await tree.remove();
}
process.exit(0);
