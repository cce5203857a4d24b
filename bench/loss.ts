// Loss: bursts of events that must all reach the engine, at stepped rates.
// A generator in a test cgroup opens distinct missing files (so nothing
// can be de-duplicated) at a paced rate for a few seconds while the real
// probe and the real engine (built-in rules, learn mode) share the two
// cores with it. Every step counts what the generator made, what reached
// the engine, and what the probe and engine counted as lost; a step with
// a hole that no counter explains would be a silent loss, and fails.
// A last step overloads a deliberately tiny ring buffer to show that the
// losses it causes are counted, one for one.
import { TestCgroupTree } from '../test/support/cgroup.js';
import { probeUnavailable, runLoad, sleep } from './lib/kernel.js';
import { skipped, type Row } from './lib/report.js';
import { startVigil, type VigilNode } from './lib/vigil-node.js';

export interface LossOptions {
  rates: number[];
  stepMs: number;
  /** Default: the config's (probe.ringbufBytes). */
  ringbufBytes?: number;
}

export const LOSS_DEFAULTS: LossOptions = { rates: [50_000, 100_000, 200_000, 300_000, 400_000], stepMs: 3000 };

interface Step {
  rate: number;
  generated: number;
  achieved: number;
  received: number;
  counted: number;
  drainMs: number;
}

/** The probe's and engine's loss counters, summed. */
function countedLosses(v: VigilNode): number {
  const l = v.losses();
  const s = v.engine.ingest.sessions().at(-1)!;
  return l.ringbufFull + l.queueFull + l.inflightFull + l.decodeErrors + s.batchGaps + v.engine.ingest.malformedEvents;
}

async function step(v: VigilNode, cgroupProcs: string, cgroupId: number, rate: number, ms: number, tag: string): Promise<Step> {
  const dir = `/nonexistent/vigil-loss-${process.pid}-${tag}`;
  let received = 0;
  let lastAt = Date.now();
  const off = v.engine.subscribe((e) => {
    if (e.cgroupId === cgroupId && e.type === 'open' && e.path.startsWith(dir)) {
      received++;
      lastAt = Date.now();
    }
  });
  await sleep(300); // a loss report covering everything before this step
  const counted0 = countedLosses(v);
  const r = await runLoad(['rate', String(rate), String(ms), dir], { cgroupProcs });
  const ended = Date.now();
  // Drain: until everything arrived, or nothing more for 2 s.
  while (received < r.n && Date.now() - lastAt < 2000) await sleep(5);
  const drainMs = received >= r.n ? Math.max(0, lastAt - ended) : NaN;
  await sleep(500); // the loss report that covers this step
  off();
  return { rate, generated: r.n, achieved: r.n / (r.ns / 1e9), received, counted: countedLosses(v) - counted0, drainMs };
}

export async function loss(rows: Row[], opts: LossOptions = LOSS_DEFAULTS): Promise<void> {
  if (skipped(rows, 'loss', probeUnavailable())) return;
  const tree = new TestCgroupTree();
  const gen = tree.group('loadgen');
  const procs = `${gen.dir}/cgroup.procs`;
  const steps: Step[] = [];
  let overload: Step;
  let ringbuf: number;
  try {
    // Fairness off: one workload alone at these rates would be held to its share (bench/fairness.ts measures that).
    const v = await startVigil({ probe: { fairEventsPerSec: 0, ...(opts.ringbufBytes ? { ringbufBytes: opts.ringbufBytes } : {}) } });
    ringbuf = opts.ringbufBytes ?? v.engine.config.probe.ringbufBytes;
    try {
      for (const rate of opts.rates) steps.push(await step(v, procs, Number(gen.id), rate, opts.stepMs, String(rate)));
    } finally {
      await v.stop();
    }
    // Proof that losses are counted: a 64 KiB ring buffer cannot keep up.
    const small = await startVigil({ probe: { ringbufBytes: 1 << 16, fairEventsPerSec: 0 } });
    try {
      overload = await step(small, procs, Number(gen.id), opts.rates.at(-1)!, 1000, 'overload');
    } finally {
      await small.stop();
    }
  } finally {
    await tree.remove();
  }

  for (const s of steps) {
    const lost = s.generated - s.received;
    if (lost > s.counted) throw new Error(`loss at ${s.rate}/s: ${lost} events missing but only ${s.counted} counted`);
  }
  const firstLossy = steps.find((s) => s.received < s.generated);
  const note = `distinct failed opens from one process in a test cgroup, ${opts.stepMs / 1000} s per step, probe (fairness off) + engine (built-in rules) + generator on ${2} cores, ring buffer ${ringbuf / 2 ** 20} MiB`;
  for (const s of steps) {
    const lost = s.generated - s.received;
    const short = s.achieved < s.rate * 0.97 ? ` (the generator reached only ${Math.round(s.achieved / 1000)}K/s on the shared cores)` : '';
    rows.push({
      bench: 'loss',
      metric: `${s.rate / 1000}K/s: lost`,
      value: lost,
      unit: 'events',
      target: s.rate === 300_000 ? '0 (issue 7)' : undefined,
      note: `generated ${s.generated.toLocaleString('en-US')} at ${Math.round(s.achieved).toLocaleString('en-US')}/s${short}; counted as lost ${s.counted}; ${Number.isNaN(s.drainMs) ? 'some never arrived' : `the last arrived ${s.drainMs} ms after the generator stopped`}`,
    });
  }
  rows.push({ bench: 'loss', metric: 'first lossy rate', value: firstLossy?.rate ?? NaN, unit: 'ev/s', note: firstLossy ? note : `none up to ${opts.rates.at(-1)! / 1000}K/s; ${note}` });
  if (overload) {
    const lost = overload.generated - overload.received;
    rows.push({
      bench: 'loss',
      metric: 'losses counted (64 KiB ring)',
      value: overload.counted,
      unit: 'events',
      note: `${lost} of ${overload.generated.toLocaleString('en-US')} missing, ${overload.counted} counted by the probe: ${lost === overload.counted ? 'every loss counted' : lost <= overload.counted ? 'every loss counted (some counted events were the probe’s own noise)' : 'SILENT LOSS'}`,
    });
    if (lost > overload.counted) throw new Error(`overload: ${lost} missing, ${overload.counted} counted`);
  }
}
