// Fairness: a neighbour's alert latency while another workload floods.
// One test cgroup floods distinct failed opens from two threads (one per
// vCPU, as fast as they go: nothing to de-duplicate) while a marker binary
// runs every 20 ms in a second cgroup and a rule fires on each exec. The
// real probe and engine run as `vigil run` starts them; once with fairness
// on (the default: the flood is held to its share in the kernel,
// bpf/fair.bpf.h) and once with it off, for comparison. Latency = the
// alert handed to the sinks (process.hrtime) − the exec's bpf_ktime_get_ns,
// both CLOCK_MONOTONIC, as in latency.ts.
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TestCgroupTree } from '../test/support/cgroup.js';
import { buildTools, percentile, probeUnavailable, runLoad, sleep } from './lib/kernel.js';
import { skipped, type Row } from './lib/report.js';
import { startVigil } from './lib/vigil-node.js';

export interface FairnessOptions {
  markers: number;
  floodMs: number;
}

export const FAIRNESS_DEFAULTS: FairnessOptions = { markers: 200, floodMs: 10_000 };

interface Run {
  ms: number[];
  floodRate: number;
  shed: number;
  lost: number;
}

export async function fairness(rows: Row[], opts: FairnessOptions = FAIRNESS_DEFAULTS): Promise<void> {
  if (skipped(rows, 'fairness', probeUnavailable())) return;
  const work = mkdtempSync(join(tmpdir(), 'vigil-bench-fairness-'));
  const marker = join(work, 'vigil-fairness-mark');
  copyFileSync(buildTools().tiny, marker);
  const rules = join(work, 'marker.yaml');
  writeFileSync(rules, ['- rule: Fairness marker', '  desc: the benchmark marker binary ran', `  condition: evt.type = execve and proc.exepath = ${marker}`, '  output: marker ran (pid=%proc.pid)', '  priority: NOTICE', '  tags: [bench]', ''].join('\n'));
  const tree = new TestCgroupTree();
  const neighbour = tree.group('neighbour');
  const flood = tree.group('flood');
  const runs: Record<'on' | 'off', Run | null> = { on: null, off: null };
  try {
    for (const mode of ['on', 'off'] as const) {
      const v = await startVigil({ config: { rules: { builtin: true, files: [rules], watch: false } }, probe: mode === 'off' ? { fairEventsPerSec: 0 } : {} });
      try {
        const alertAt = new Map<number, bigint>();
        const ms: number[] = [];
        v.engine.onAlert((a) => {
          if (a.rule === 'Fairness marker' && a.process) alertAt.set(a.process.pid, process.hrtime.bigint());
        });
        v.engine.subscribe((e) => {
          if (e.type !== 'exec' || e.path !== marker) return;
          const at = alertAt.get(e.pid);
          if (at !== undefined) ms.push(Number(at - BigInt(e.ktimeNs)) / 1e6);
          alertAt.delete(e.pid);
        });
        const floods = [0, 1].map((i) => runLoad(['flood', String(opts.floodMs), `/nonexistent/vigil-fairness-${process.pid}-${mode}-${i}`], { cgroupProcs: `${flood.dir}/cgroup.procs`, timeoutMs: opts.floodMs + 60_000 }));
        await sleep(1500);
        await neighbour.run('/bin/sh', ['-c', `for i in $(seq ${opts.markers}); do ${marker}; sleep 0.02; done`], { timeoutMs: 120_000 });
        const done = await Promise.all(floods);
        await sleep(3000); // what the engine still had queued, and the loss report after it
        const floodWorkload = v.engine.status().workloadLosses.find((w) => w.workload === flood.path);
        const l = v.losses();
        runs[mode] = {
          ms: ms.sort((a, b) => a - b),
          floodRate: done.reduce((s, r) => s + r.n, 0) / (Math.max(...done.map((r) => r.ns)) / 1e9),
          shed: floodWorkload?.shed ?? 0,
          lost: l.ringbufFull + l.queueFull + l.inflightFull,
        };
      } finally {
        await v.stop();
      }
    }
  } finally {
    await tree.remove();
    rmSync(work, { recursive: true, force: true });
  }
  for (const mode of ['on', 'off'] as const) {
    const r = runs[mode]!;
    const missing = opts.markers - r.ms.length;
    const label = mode === 'on' ? 'fairness on (default)' : 'fairness off';
    const note = `${opts.markers} marker execs in one cgroup, one every ~20 ms, while another floods ${Math.round(r.floodRate).toLocaleString('en-US')} distinct failed opens/s from two threads; ${r.ms.length} alerts${missing ? ` (${missing} markers without one)` : ''}; the flood's events shed ${r.shed.toLocaleString('en-US')}, lost ${r.lost.toLocaleString('en-US')}`;
    rows.push(
      { bench: 'fairness', metric: `neighbour's kernel → alert under a flood, ${label}: p50`, value: percentile(r.ms, 50), unit: 'ms', note },
      { bench: 'fairness', metric: `neighbour's kernel → alert under a flood, ${label}: p99`, value: percentile(r.ms, 99), unit: 'ms', target: mode === 'on' ? '< 1000 (issue 22: on time)' : undefined },
      { bench: 'fairness', metric: `neighbour's kernel → alert under a flood, ${label}: max`, value: r.ms.at(-1) ?? NaN, unit: 'ms' },
    );
  }
}

// Alone (`node --import tsx bench/fairness.ts [--keep]`): its table, and with
// --keep its result as bench/results/fairness-<date>-<machine>.json.
if (import.meta.url === `file://${process.argv[1]}`) {
  const { printTable, writeResults, machine } = await import('./lib/report.js');
  const rows: Row[] = [];
  await fairness(rows);
  printTable(rows);
  if (process.argv.includes('--keep')) {
    const m = machine() as { cpus: number; cpuModel?: string };
    const model = String(m.cpuModel ?? 'cpu').toLowerCase().replace(/\(r\)|\(tm\)|processor|cpu @.*$/g, '').trim().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '');
    console.log(`kept: ${writeResults(`fairness-${new Date().toISOString().slice(0, 10)}-${model}-${m.cpus}vcpu`, rows)}`);
  }
  process.exit(0);
}
