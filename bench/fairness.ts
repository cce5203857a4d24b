// Fairness: a neighbour's alert latency while another workload floods.
// One test cgroup floods distinct failed opens from two threads (one per
// vCPU, as fast as they go: nothing to de-duplicate) while a marker binary
// runs every 20 ms in a second cgroup and a rule fires on each exec. The
// real probe and engine run as `vigil run` starts them; once with fairness
// on (the default: the flood is held to its share in the kernel,
// bpf/fair.bpf.h) and once with it off, for comparison. Latency = the
// alert handed to the sinks (process.hrtime) − the exec's bpf_ktime_get_ns,
// both CLOCK_MONOTONIC, as in latency.ts. The onset rows: three floods in
// turn, the markers starting with each flood (its first seconds, while the
// probe's queue backs up: where a neighbour's events used to wait 1-2.6 s
// behind the flood's backlog), each flood released before the next. Each
// row's note says how the node's budget went (the probe's log: cut to what,
// how often); the onset markers later than 50 ms are printed with their
// time from the flood's start.
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TestCgroupTree } from '../test/support/cgroup.js';
import { buildTools, percentile, probeUnavailable, runLoad, sleep } from './lib/kernel.js';
import { skipped, type Row } from './lib/report.js';
import { startVigil } from './lib/vigil-node.js';
import type { DestinationStream } from 'pino';
import { createLogger, type Logger } from '../src/log.js';

export interface FairnessOptions {
  markers: number;
  floodMs: number;
  /** Onsets, and markers in each (one every ~20 ms from the flood's start). */
  onsets: number;
  onsetMarkers: number;
}

export const FAIRNESS_DEFAULTS: FairnessOptions = { markers: 200, floodMs: 10_000, onsets: 3, onsetMarkers: 60 };

interface Run {
  ms: number[];
  floodRate: number;
  shed: number;
  lost: number;
  /** The probe's budget cuts (events/s each fell to), and whether it came back whole. */
  cuts: number[];
  /** Onset: markers later than 50 ms, as [ms from their flood's start, kernel → alert ms]. */
  late: [number, number][];
}

/** The probe's budget lines (bpf/probe/fairness.cc), from the node's log. */
function budgetLog(): { log: Logger; lines: string[] } {
  const lines: string[] = [];
  const log = createLogger('info', {
    destination: {
      write: (s: string) => {
        if (s.includes('fairness: budget')) lines.push(String((JSON.parse(s) as { msg: string }).msg));
      },
    } as DestinationStream,
  });
  return { log, lines };
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
  const runs: Record<'on' | 'off' | 'onset', Run | null> = { on: null, off: null, onset: null };
  try {
    for (const mode of ['on', 'off', 'onset'] as const) {
      const budget = budgetLog();
      const v = await startVigil({ config: { rules: { builtin: true, files: [rules], watch: false } }, probe: mode === 'off' ? { fairEventsPerSec: 0 } : {}, log: budget.log });
      try {
        const alertAt = new Map<number, bigint>();
        const ms: number[] = [];
        v.engine.onAlert((a) => {
          if (a.rule === 'Fairness marker' && a.process) alertAt.set(a.process.pid, process.hrtime.bigint());
        });
        let floodStart = 0n;  // CLOCK_MONOTONIC, as the events' kernel times
        const late: [number, number][] = [];
        v.engine.subscribe((e) => {
          if (e.type !== 'exec' || e.path !== marker) return;
          const at = alertAt.get(e.pid);
          if (at !== undefined) {
            const m = Number(at - BigInt(e.ktimeNs)) / 1e6;
            ms.push(m);
            if (mode === 'onset' && m > 50) late.push([Math.round((e.ktimeNs - Number(floodStart)) / 1e6), Math.round(m)]);
          }
          alertAt.delete(e.pid);
        });
        const startFloods = (ms: number, tag: string): Promise<{ n: number; ns: number }>[] =>
          [0, 1].map((i) => runLoad(['flood', String(ms), `/nonexistent/vigil-fairness-${process.pid}-${tag}-${i}`], { cgroupProcs: `${flood.dir}/cgroup.procs`, timeoutMs: ms + 60_000 }));
        const markers = (n: number): Promise<unknown> => neighbour.run('/bin/sh', ['-c', `for i in $(seq ${n}); do ${marker}; sleep 0.02; done`], { timeoutMs: 120_000 });
        const done: { n: number; ns: number }[] = [];
        if (mode === 'onset') {
          for (let round = 0; round < opts.onsets; round++) {
            floodStart = process.hrtime.bigint();
            const floods = startFloods(3000, `onset-${round}`);
            await markers(opts.onsetMarkers);
            done.push(...(await Promise.all(floods)));
            await sleep(5000); // the flood released (2 s quiet) and the budget grown back
          }
        } else {
          const floods = startFloods(opts.floodMs, mode);
          await sleep(1500);
          await markers(opts.markers);
          done.push(...(await Promise.all(floods)));
        }
        await sleep(3000); // what the engine still had queued, and the loss report after it
        const floodWorkload = v.engine.status().workloadLosses.find((w) => w.workload === flood.path);
        const l = v.losses();
        runs[mode] = {
          ms: ms.sort((a, b) => a - b),
          // Two threads per flood: the slower's time, summed over the floods.
          floodRate: (2 * done.reduce((s, r) => s + r.n, 0)) / (done.reduce((s, r) => s + r.ns, 0) / 1e9),
          shed: floodWorkload?.shed ?? 0,
          lost: l.ringbufFull + l.queueFull + l.inflightFull,
          cuts: budget.lines.map((m) => Number(/^fairness: budget (\d+) events\/s \(was/.exec(m)?.[1])).filter((n) => n > 0),
          late,
        };
        if (mode !== 'off') console.log(`fairness ${mode}: budget ${budget.lines.join(' | ') || 'whole throughout'}`);
        if (late.length) console.log(`fairness onset: markers over 50 ms [ms from the flood's start, kernel → alert ms]: ${JSON.stringify(late)}`);
      } finally {
        await v.stop();
      }
    }
  } finally {
    await tree.remove();
    rmSync(work, { recursive: true, force: true });
  }
  for (const mode of ['on', 'off', 'onset'] as const) {
    const r = runs[mode]!;
    const markers = mode === 'onset' ? opts.onsets * opts.onsetMarkers : opts.markers;
    const missing = markers - r.ms.length;
    const label = mode === 'on' ? 'fairness on (default)' : mode === 'off' ? 'fairness off' : `fairness on, markers from each of ${opts.onsets} floods' start`;
    const note = `${markers} marker execs in one cgroup, one every ~20 ms, while another floods ${Math.round(r.floodRate).toLocaleString('en-US')} distinct failed opens/s from two threads; ${r.ms.length} alerts${missing ? ` (${missing} markers without one)` : ''}; the flood's events shed ${r.shed.toLocaleString('en-US')}, lost ${r.lost.toLocaleString('en-US')}${mode === 'off' ? '' : r.cuts.length ? `; the node's budget cut ${r.cuts.length} times, lowest ${Math.min(...r.cuts).toLocaleString('en-US')} events/s` : "; the node's budget whole throughout"}`;
    rows.push(
      { bench: 'fairness', metric: `neighbour's kernel → alert under a flood, ${label}: p50`, value: percentile(r.ms, 50), unit: 'ms', note },
      { bench: 'fairness', metric: `neighbour's kernel → alert under a flood, ${label}: p99`, value: percentile(r.ms, 99), unit: 'ms', target: mode !== 'off' ? '< 1000 (issue 22: on time)' : undefined },
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
