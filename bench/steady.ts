// What Vigil costs a node with a steady flow of events, between the idle
// row and the throughput rows: most nodes spend their day here. A
// generator in a test cgroup opens distinct missing files (nothing to
// de-duplicate) at a paced rate, 1 ms at a time, while the real probe and
// the real engine (built-in rules, learn mode, the shipped settings) run;
// measured: the CPU of every probe thread and every engine thread, and the
// gRPC messages between them. At these rates the cost is set by the
// messages (each wakes the probe's reader and sender and the engine), not
// by the events: a record that finds the probe idle goes out at once, in a
// batch of its own; while records keep coming the probe reads once per
// flush period.
import { TestCgroupTree } from '../test/support/cgroup.js';
import { parseConfig } from '../src/config/load.js';
import { probeUnavailable, processCpuNs, runLoad, sleep } from './lib/kernel.js';
import { skipped, type Row } from './lib/report.js';
import { startVigil } from './lib/vigil-node.js';

export interface SteadyOptions {
  rates: number[];
  seconds: number;
  /** Default: the config's (probe.flushMs). */
  flushMs?: number;
}

export const STEADY_DEFAULTS: SteadyOptions = { rates: [100, 1_000, 10_000], seconds: 5 };

export async function steady(rows: Row[], opts: SteadyOptions = STEADY_DEFAULTS): Promise<void> {
  if (skipped(rows, 'steady', probeUnavailable())) return;
  const tree = new TestCgroupTree();
  const gen = tree.group('steady');
  try {
    const v = await startVigil({ probe: { lossReportMs: parseConfig({}).probe.lossReportMs, ...(opts.flushMs ? { flushMs: opts.flushMs } : {}) } });
    try {
      await sleep(2000); // past the start-up snapshot
      // The engine's code paths run for the first time (compiled, optimised
      // on V8's worker threads) before anything is measured.
      await runLoad(['rate', '1000', '3000', `/nonexistent/vigil-steady-${process.pid}-warm`], { cgroupProcs: `${gen.dir}/cgroup.procs` });
      await sleep(500);
      for (const rate of opts.rates) {
        const dir = `/nonexistent/vigil-steady-${process.pid}-${rate}`;
        const session = v.engine.ingest.sessions().at(-1)!;
        const [p0, e0, b0] = [processCpuNs(v.probe.pid!), processCpuNs(process.pid), session.batches];
        const t0 = process.hrtime.bigint();
        const r = await runLoad(['rate', String(rate), String(opts.seconds * 1000), dir], { cgroupProcs: `${gen.dir}/cgroup.procs` });
        await sleep(50); // the last batch
        const s = Number(process.hrtime.bigint() - t0) / 1e9;
        const probeMs = (processCpuNs(v.probe.pid!) - p0) / 1e6 / s;
        const engineMs = (processCpuNs(process.pid) - e0) / 1e6 / s;
        const messages = (session.batches - b0) / s;
        const achieved = r.n / (r.ns / 1e9);
        rows.push({
          bench: 'steady',
          metric: `CPU at a steady ${rate.toLocaleString('en-US')} events/s: probe + engine`,
          value: probeMs + engineMs,
          unit: 'ms/s',
          note: `probe ${probeMs.toFixed(1)} ms/s, engine ${engineMs.toFixed(1)} ms/s (all threads of each); ${Math.round(messages)} batches/s (${(achieved / messages).toFixed(1)} events each), ${Math.round(((probeMs + engineMs) * 1000) / Math.max(1, messages))} µs of CPU per batch; distinct failed opens at ${Math.round(achieved).toLocaleString('en-US')}/s for ${opts.seconds} s, the shipped settings`,
        });
      }
    } finally {
      await v.stop();
    }
  } finally {
    await tree.remove();
  }
}
