// Latency from the kernel's timestamp to the alert handed to the sinks.
// A rule fires on the exec of one marker binary in the measured test
// cgroup; the marker runs every 10 ms, at idle and while a generator in
// another cgroup makes 100K events/s (distinct failed opens, so nothing is
// de-duplicated): in the load's first seconds and once it is steady. The
// real probe and the real engine (built-in rules plus the marker rule) run
// in this process. The idle markers follow a warm-up run of them (an
// engine meets most alerts long after it started); the very first alert
// after the start, cold code and all, is reported on its own row.
//
// Method: the engine calls onAlert subscribers when it hands an alert to
// delivery, synchronously within the detector pass of the event; the
// subscriber stamps that moment with process.hrtime (CLOCK_MONOTONIC) by
// pid. The exec event's ktimeNs is bpf_ktime_get_ns() at the exec
// tracepoint, also CLOCK_MONOTONIC. Latency = stamp − ktime, per marker.
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { join } from 'node:path';
import { TestCgroupTree } from '../test/support/cgroup.js';
import { buildTools, percentile, probeUnavailable, runLoad, sleep } from './lib/kernel.js';
import { skipped, type Row } from './lib/report.js';
import { startVigil } from './lib/vigil-node.js';

export interface LatencyOptions {
  markers: number;
  backgroundRate: number;
  /** Extra probe flags, to compare settings (e.g. --dedup-window-ms 0). */
  probeFlags?: string[];
  flushMs?: number;
}

/** Idle markers run before the measured ones, the engine's code warming up. */
const WARMUP_MARKERS = 50;

/** How long the background load runs before the steady-state markers. */
const WARM_S = 8;

export const LATENCY_DEFAULTS: LatencyOptions = { markers: 300, backgroundRate: 100_000 };

export async function latency(rows: Row[], opts: LatencyOptions = LATENCY_DEFAULTS): Promise<void> {
  if (skipped(rows, 'latency', probeUnavailable())) return;
  const work = mkdtempSync(join(tmpdir(), 'vigil-bench-latency-'));
  const marker = join(work, 'vigil-latency-mark');
  copyFileSync(buildTools().tiny, marker);
  const rules = join(work, 'marker.yaml');
  writeFileSync(
    rules,
    [
      '- rule: Latency marker',
      '  desc: the benchmark marker binary ran',
      `  condition: evt.type = execve and proc.exepath = ${marker}`,
      '  output: marker ran (pid=%proc.pid)',
      '  priority: NOTICE',
      '  tags: [bench]',
      '',
    ].join('\n'),
  );
  const tree = new TestCgroupTree();
  const measured = tree.group('measured');
  const busy = tree.group('background');
  const results: { label: string; ms: number[]; note: string; target: boolean }[] = [];
  /** The first alert after the engine started. */
  let first: number;
  try {
    const v = await startVigil({ config: { rules: { builtin: true, files: [rules], watch: false } }, probe: opts.flushMs ? { flushMs: opts.flushMs } : {}, probeFlags: opts.probeFlags });
    try {
      const alertAt = new Map<number, bigint>();
      const latencies: number[] = [];
      v.engine.onAlert((a) => {
        if (a.rule === 'Latency marker' && a.process) alertAt.set(a.process.pid, process.hrtime.bigint());
      });
      v.engine.subscribe((e) => {
        if (e.type !== 'exec' || e.path !== marker) return;
        const at = alertAt.get(e.pid);
        if (at !== undefined) latencies.push(Number(at - BigInt(e.ktimeNs)) / 1e6);
        alertAt.delete(e.pid);
      });
      // The engine's event loop is this process's: how long it stalled tells
      // the engine's share of a long tail from the probe's.
      const loop = monitorEventLoopDelay({ resolution: 1 });
      const stalls = (): string => {
        const ms = loop.max / 1e6;
        loop.reset();
        return `the engine's event loop stalled up to ${ms.toFixed(0)} ms`;
      };
      loop.enable();
      const markers = (n = opts.markers): Promise<unknown> =>
        measured.run('/bin/sh', ['-c', `for i in $(seq ${n}); do ${marker}; sleep 0.01; done`], { timeoutMs: 120_000 });

      await markers(WARMUP_MARKERS);
      await sleep(200);
      const warmup = latencies.splice(0);
      loop.reset();
      await markers();
      await sleep(200);
      results.push({ label: 'idle', ms: latencies.splice(0), note: `${opts.markers} marker execs, one every ~10 ms, nothing else running, after ${WARMUP_MARKERS} to warm up; ${stalls()}`, target: true });
      first = warmup[0] ?? NaN;

      // The background: long enough for two marker runs, one in its first
      // seconds (while the engine's heap grows to the load and the busy
      // workload's profile learns and collapses its paths: collector
      // pauses), one after WARM_S seconds of it (the steady state a node
      // under that load is in).
      let generated = 0;
      const phase = Math.ceil((opts.markers * 15) / 1000);
      const seconds = WARM_S + phase + 3;
      const background = runLoad(['rate', String(opts.backgroundRate), String(seconds * 1000), `/nonexistent/vigil-latency-${process.pid}`], {
        cgroupProcs: `${busy.dir}/cgroup.procs`,
        timeoutMs: (seconds + 30) * 1000,
      }).then((r) => (generated = r.n / (r.ns / 1e9)));
      const loadStart = Date.now();
      await sleep(1000);
      loop.reset();
      await markers();
      const early = { ms: latencies.splice(0), stalled: stalls() };
      await sleep(Math.max(0, loadStart + WARM_S * 1000 - Date.now()));
      loop.reset();
      await markers();
      const steady = { ms: latencies.splice(0), stalled: stalls() };
      await background;
      await sleep(500);
      loop.disable();
      const rate = `${Math.round(generated).toLocaleString('en-US')} events/s`;
      results.push({
        label: `${opts.backgroundRate / 1000}K ev/s`,
        ms: steady.ms,
        note: `the same markers while another cgroup makes ${rate}, from ${WARM_S} s after that load began; ${steady.stalled}`,
        target: true,
      });
      results.push({
        label: `${opts.backgroundRate / 1000}K ev/s, its first seconds`,
        ms: early.ms,
        note: `the same, from 1 s after the load began: the engine's heap is still growing to it and the busy workload's profile learning; ${early.stalled}`,
        target: false,
      });
    } finally {
      await v.stop();
    }
  } finally {
    await tree.remove();
    rmSync(work, { recursive: true, force: true });
  }
  rows.push({
    bench: 'latency',
    metric: 'kernel → alert, the first after the engine started',
    value: first,
    unit: 'ms',
    note: `the first warm-up marker: code paths (rule output, alert delivery) run for the first time`,
  });
  for (const r of results) {
    const s = r.ms.sort((a, b) => a - b);
    const missing = opts.markers - s.length;
    const note = `${r.note}; ${s.length} alerts${missing ? ` (${missing} markers without one)` : ''}`;
    rows.push(
      { bench: 'latency', metric: `kernel → alert, ${r.label}: p50`, value: percentile(s, 50), unit: 'ms', note },
      { bench: 'latency', metric: `kernel → alert, ${r.label}: p99`, value: percentile(s, 99), unit: 'ms', target: r.target ? '< 5' : undefined },
      { bench: 'latency', metric: `kernel → alert, ${r.label}: max`, value: s.at(-1) ?? NaN, unit: 'ms' },
    );
  }
}
