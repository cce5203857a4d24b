// Detection cost per event, in process (no gRPC, no sender):
//   node --expose-gc --import tsx bench/detect.ts [ROUNDS] [BURST]
// The real engine (built-in rules, a file sink, profiles learned from the
// mix and switched to monitor mode, as bench/pipeline.ts does) fed the
// mix's batches through the engine's own decoder straight into onEvents.
// Per round, each stage is also timed alone over that round's freshly
// decoded events: decode, enrich, rules, profiles (stage by stage, so a
// stage's number includes its own cache misses on fresh Event objects but
// not the previous stage's). BENCH_CPU_PROFILE=FILE writes a V8 CPU
// profile of the end-to-end part; BENCH_OUT=FILE writes the result with
// the machine and the time (bench/results/ keeps the runs docs quote).
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Event } from '../src/model/event.js';
import { detectEngine } from './lib/detect-engine.js';
import { machine } from './lib/report.js';

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..');
const ROUNDS = Number(process.argv[2] ?? 10);
const BURST = Number(process.argv[3] ?? 8);
/** BENCH_BY_TYPE=1: also each detector's cost by event type (weighted by the type's share of the mix). */
const BY_TYPE = !!process.env.BENCH_BY_TYPE;
/** BENCH_E2E_ONLY=1: only the end-to-end rounds (quicker A/B runs). */
const E2E_ONLY = !!process.env.BENCH_E2E_ONLY;
const BATCH = 256;
const BATCHES = 400;
const LEARN_ROUNDS = 5;
const gc = (globalThis as { gc?: () => void }).gc;

// The engine as detect-count.ts counts it (lib/detect-engine.ts): learned from 2,000 batches, then monitor mode.
const bench = await detectEngine(repoRoot, { learn: BATCHES * LEARN_ROUNDS, batches: BATCHES, burst: BURST });
const { engine, decode, messages, session } = bench;
const perRound = BATCH * BATCHES;
const detectors = (engine as unknown as { detectors: { name: string; onEvent(e: Event, ctx: unknown): void }[] }).detectors;
const ctx = (engine as unknown as { detectContext: unknown }).detectContext;
const rules = detectors.find((d) => d.name === 'rules')!;
const profiles = detectors.find((d) => d.name === 'profiles')!;

function ns(t0: bigint): number {
  return Number(process.hrtime.bigint() - t0);
}

/** CPU time of the process (all threads) since `c0`, in ns. */
function cpuNs(c0: NodeJS.CpuUsage): number {
  const c = process.cpuUsage(c0);
  return (c.user + c.system) * 1000;
}

/** One round stage by stage: ns per event for each, wall and CPU (on a loaded machine the CPU one is the steadier). */
function staged(): Record<string, number> {
  gc?.();
  let t0 = process.hrtime.bigint();
  let c0 = process.cpuUsage();
  const batches = messages.map(decode);
  const dec = ns(t0);
  const decCpu = cpuNs(c0);
  t0 = process.hrtime.bigint();
  c0 = process.cpuUsage();
  for (const events of batches) {
    for (const e of events) {
      e.process = engine.tree.apply(e);
      e.workload = engine.workloads.resolve(e);
    }
  }
  const enrich = ns(t0);
  const enrichCpu = cpuNs(c0);
  t0 = process.hrtime.bigint();
  c0 = process.cpuUsage();
  for (const events of batches) for (const e of events) rules.onEvent(e, ctx);
  const r = ns(t0);
  const rCpu = cpuNs(c0);
  t0 = process.hrtime.bigint();
  c0 = process.cpuUsage();
  for (const events of batches) for (const e of events) profiles.onEvent(e, ctx);
  const p = ns(t0);
  const pCpu = cpuNs(c0);
  const out: Record<string, number> = {
    decode: dec / perRound, enrich: enrich / perRound, rules: r / perRound, profiles: p / perRound,
    'decode, CPU': decCpu / perRound, 'enrich, CPU': enrichCpu / perRound, 'rules, CPU': rCpu / perRound, 'profiles, CPU': pCpu / perRound,
  };
  if (BY_TYPE) {
    // Each detector again over the events of one type (a second pass: warmer than the first).
    const byType = new Map<string, Event[]>();
    for (const events of batches) for (const e of events) (byType.get(e.type) ?? byType.set(e.type, []).get(e.type)!).push(e);
    for (const [t, list] of byType) {
      for (const d of [rules, profiles]) {
        t0 = process.hrtime.bigint();
        for (const e of list) d.onEvent(e, ctx);
        // Weighted: this type's share of the per-event cost over the whole mix.
        out[`${d.name}/${t} (${((100 * list.length) / perRound).toFixed(0)}%)`] = ns(t0) / perRound;
      }
    }
  }
  return out;
}

/** One round as the engine runs it: decode a batch, onEvents, next batch. Wall and CPU (all threads: GC helpers too) ns per event. */
function endToEnd(): { wall: number; cpu: number } {
  if (!process.env.BENCH_CPU_PROFILE) gc?.();
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  for (const m of messages) engine.onEvents(session, decode(m));
  const wall = ns(t0) / perRound;
  const c = process.cpuUsage(cpu0);
  return { wall, cpu: ((c.user + c.system) * 1000) / perRound };
}

interface HeapNode {
  selfSize: number;
  children: HeapNode[];
}

/** BENCH_CPU_PROFILE=FILE: a CPU profile of the end-to-end rounds; BENCH_HEAP_PROFILE=FILE: where they allocate (sampling heap profile). */
async function profiler(): Promise<{ stop(file: string): Promise<void> } | null> {
  const heap = !!process.env.BENCH_HEAP_PROFILE;
  if (!process.env.BENCH_CPU_PROFILE && !heap) return null;
  const s = new Session();
  s.connect();
  const post = (method: string, params?: object): Promise<Record<string, unknown>> =>
    new Promise((res, rej) => s.post(method, params, (err, r) => (err ? rej(err) : res(r as Record<string, unknown>))));
  if (heap) {
    await post('HeapProfiler.enable');
    await post('HeapProfiler.startSampling', { samplingInterval: 4096, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
    return {
      stop: async (file) => {
        const profile = (await post('HeapProfiler.stopSampling')).profile as { head: HeapNode };
        writeFileSync(file, JSON.stringify(profile));
        // Sampled, so an estimate: every allocation of the measured rounds, whether collected since or not.
        const sum = (n: HeapNode): number => n.selfSize + n.children.reduce((t, c) => t + sum(c), 0);
        console.log(`allocated: ~${Math.round(sum(profile.head) / (ROUNDS * perRound))} bytes per event`);
      },
    };
  }
  await post('Profiler.enable');
  await post('Profiler.setSamplingInterval', { interval: 100 });
  await post('Profiler.start');
  return { stop: async (file) => writeFileSync(file, JSON.stringify((await post('Profiler.stop')).profile)) };
}

// Warm-up, then alternate the two measurements.
staged();
endToEnd();
const stages: Record<string, number[]> = {};
const e2e: number[] = [];
const e2eCpu: number[] = [];
const prof = await profiler();
const alertsBefore = bench.alerts();
// With --trace-gc: markers around the measured part, so its collections can be counted (allocation, without the machine's noise).
const traceGc = process.execArgv.includes('--trace-gc');
if (traceGc) console.log('MEASURED-START');
for (let r = 0; r < ROUNDS; r++) {
  if (!prof && !E2E_ONLY) for (const [k, v] of Object.entries(staged())) (stages[k] ??= []).push(v);
  const r2 = endToEnd();
  e2e.push(r2.wall);
  e2eCpu.push(r2.cpu);
}
if (prof) await prof.stop((process.env.BENCH_CPU_PROFILE ?? process.env.BENCH_HEAP_PROFILE)!);
if (traceGc) console.log('MEASURED-END');
const median = (a: number[]): number => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)] ?? NaN;
const range = (a: number[]): string => `${Math.min(...a).toFixed(0)}–${Math.max(...a).toFixed(0)}`;
const best = (a: number[]): string => `${Math.min(...a).toFixed(0)} ns`;
const out: Record<string, string> = {};
// Medians and ranges; the best round is the least disturbed by whatever else the machine runs.
for (const [k, v] of Object.entries(stages)) if (v.length) out[k] = `${median(v).toFixed(0)} ns (${range(v)})`;
out['end to end (decode + onEvents)'] = `${median(e2e).toFixed(0)} ns (${range(e2e)}) = ${Math.round(1e9 / median(e2e)).toLocaleString('en-US')} ev/s`;
out['end to end, best round'] = best(e2e);
out['end to end, CPU'] = `${median(e2eCpu).toFixed(0)} ns (${range(e2eCpu)}) = ${Math.round(1e9 / median(e2eCpu)).toLocaleString('en-US')} ev/s per core`;
const result = { burst: BURST, rounds: ROUNDS, eventsPerRound: perRound, alertsPerRound: Math.round((bench.alerts() - alertsBefore) / ROUNDS / (prof || E2E_ONLY ? 1 : 2)), perEvent: out };
console.log(JSON.stringify(result, null, 1));
if (process.env.BENCH_OUT) writeFileSync(process.env.BENCH_OUT, `${JSON.stringify({ when: new Date().toISOString(), machine: machine(), label: process.env.BENCH_LABEL ?? '', ...result }, null, 1)}\n`);
await bench.stop();
process.exit(0);
