// Pipeline benchmarks:
//  1. engine throughput: a synthetic probe (own process) replays a realistic
//     mix over real gRPC into the real engine; events/s and per engine core
//  2. decode ceiling: protobuf decode + event build alone, one core;
//     transport ceiling: the same over the real gRPC stream, events only counted
//  3. kernel → engine latency with the real probe (root only)
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import os, { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseConfig } from '../src/config/load.js';
import { Engine } from '../src/engine.js';
import { decodeProbeMessage } from '../src/ingest/probe-message.js';
import { IngestServer } from '../src/ingest/server.js';
import { silentLogger } from '../src/log.js';
import { ProbeSupervisor } from '../src/probe/supervisor.js';
import { messageType } from '../src/rpc/proto.js';
import type { WireProbeMessage } from '../src/probe/wire.js';
import { cgroup2Mount, TestCgroupTree } from '../test/support/cgroup.js';
import { decodeEvent } from '../test/support/reference-decoder.js';
import { batchMessage, eventMix, type MixOptions } from './lib/event-mix.js';
import { fakeCgroupMount } from './lib/fake-cgroups.js';
import { probeBinary, processCpuNs, threadTimes } from './lib/kernel.js';
import type { Row } from './lib/report.js';

const root = fileURLToPath(new URL('..', import.meta.url));

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function waitUntil(pred: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error('benchmark timed out');
    await new Promise((r) => setTimeout(r, 5));
  }
}

export interface ThroughputOptions {
  workloads: number;
  processes: number;
  batchSize: number;
  batches: number;
  /** How many rounds' worth of the mix (seed 1, one long draw) the workloads learn before they switch to monitor mode. */
  learnRounds: number;
  /** Measured rounds of the mix (seed 42: other draws of the same behaviour). */
  rounds: number;
  /** The mixes measured, each its own rows (see MixSetting). */
  settings: MixSetting[];
  /**
   * Runs of each burst setting (a fresh engine each: learning, then the
   * measured rounds), the settings alternating run by run; engineThroughput
   * publishes the median run: single runs of the same code swing from 450K to
   * 650K events/s per core on the 2-vCPU shared VM.
   */
  runs: number;
}

/** Batches as the probe sends them at these rates: full, of its default batchMax. */
const PROBE_BATCH = parseConfig({}).probe.batchMax;

/**
 * One setting of the mix. `burst`: mean events a process makes per turn on a CPU (see event-mix.ts): 8, as a
 * node runs; 1, no locality at all. `openFields` 'probe': the same draws, each open with every field the probe
 * writes for it (its path flags, O_CLOEXEC, the file's inode, device, links and mode), as a node's opens come;
 * default 'bench', the rows' mix of two to four.
 */
export interface MixSetting {
  burst: number;
  openFields?: 'bench' | 'probe';
}

/** A setting's words in its rows' names ('' for the rows' mix with locality) and in profile file names. */
function settingLabel(s: MixSetting): { row: string; tag: string } {
  const parts = [s.burst > 1 ? '' : ', no locality', s.openFields === 'probe' ? ', probe-like opens' : ''];
  return { row: parts.join(''), tag: `burst${s.burst}${s.openFields === 'probe' ? '-probe' : ''}` };
}

export const THROUGHPUT_DEFAULTS: ThroughputOptions = {
  workloads: 300, processes: 5000, batchSize: PROBE_BATCH, batches: Math.round(102_400 / PROBE_BATCH), learnRounds: 5, rounds: 10,
  settings: [{ burst: 8 }, { burst: 1 }, { burst: 8, openFields: 'probe' }], runs: 5,
};

async function startProfiler(): Promise<{ stop(): Promise<object> }> {
  const session = new Session();
  session.connect();
  const post = (method: string, params?: object): Promise<Record<string, unknown>> =>
    new Promise((resolve, reject) => session.post(method, params, (err, r) => (err ? reject(err) : resolve(r as Record<string, unknown>))));
  await post('Profiler.enable');
  await post('Profiler.setSamplingInterval', { interval: 200 });
  await post('Profiler.start');
  return {
    stop: async () => {
      const r = await post('Profiler.stop');
      session.disconnect();
      return r.profile as object;
    },
  };
}

/** A synthetic probe process, its batches built; `go()` starts the sending, `done` resolves when it exits. */
async function startSender(target: string, rounds: number, mix: MixOptions, children: ChildProcess[]): Promise<{ go(): void; done: Promise<void> }> {
  const sender = spawn(process.execPath, ['--import', 'tsx', join(root, 'bench/lib/sender.ts'), target, String(rounds), JSON.stringify(mix)], { stdio: ['pipe', 'pipe', 'inherit'] });
  children.push(sender);
  const done = new Promise<void>((resolve, reject) => sender.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`sender exited with ${code}`)))));
  await new Promise<void>((resolve, reject) => {
    sender.stdout.once('data', () => resolve());
    done.catch(reject);
  });
  return { go: () => sender.stdin.end('go\n'), done };
}

/**
 * The real engine (built-in rules, alert delivery to a file sink, learned
 * profiles in monitor mode) fed by a synthetic probe in its own process
 * over the real gRPC stream. The workloads first learn `learnRounds` of
 * the mix, are then switched to monitor mode as `vigil mode` does,
 * and the measured rounds (other draws of the same behaviour) run the
 * profile check on every profiled event. Timed from the first to the last
 * event of the measured rounds; CPU is the engine process's, all threads.
 * Once with events as a node's CPUs make them (runs of one process), once
 * with a random process per event (no locality: the caches' worst case).
 * Each setting `runs` times, alternating, so that a slow minute on the
 * shared VM hits both; the rows are each setting's median run by events/s
 * per engine core (with an even count, the lower of the middle two), and
 * list every run's value.
 */
export async function engineThroughput(rows: Row[], opts: ThroughputOptions = THROUGHPUT_DEFAULTS): Promise<void> {
  const runs = new Map<MixSetting, Measured[]>(opts.settings.map((s) => [s, []]));
  for (let run = 1; run <= opts.runs; run++) {
    for (const s of opts.settings) runs.get(s)!.push(await measureEngine(opts, s, 1, `${settingLabel(s).tag}-run${run}`));
  }
  const perRound = opts.batchSize * opts.batches;
  const k = (v: number): string => String(Math.round(v / 1000));
  for (const s of opts.settings) {
    const all = runs.get(s)!;
    const { row } = settingLabel(s);
    const perCore = (m: Measured): number => m.events / m.cpuSec;
    const r = [...all].sort((a, b) => perCore(a) - perCore(b))[(all.length - 1) >> 1]!;
    const median = `the run of the median events/s per engine core of ${all.length}, the settings alternating run by run`;
    const mix = (s.burst > 1 ? `16 CPUs, ${s.burst} events per process turn` : 'no locality: a random process per event (worst case)')
      + (s.openFields === 'probe' ? '; each open with every field the probe writes for it (path flags, O_CLOEXEC, the file\'s inode, device, links and mode), not the rows\' mix\'s two to four' : '');
    rows.push(
      {
        bench: 'engine throughput', metric: `events/s (wall)${row}`, value: r.events / r.wall, unit: 'ev/s',
        note: `${opts.workloads} workloads (monitor mode, profiles learned from ${opts.learnRounds * perRound} events), ${opts.processes} processes, ${mix}; built-in rules; gRPC unix socket, ${opts.batchSize} events/batch; ${median} (K ev/s wall, in run order: ${all.map((m) => k(m.events / m.wall)).join(', ')})`,
      },
      {
        bench: 'engine throughput', metric: `events/s per engine core${row}`, value: perCore(r), unit: 'ev/s', target: '≥ 1,000,000 (issue 7)',
        note: `median of ${all.length} runs (K ev/s per core, in run order: ${all.map((m) => k(perCore(m))).join(', ')}); that run: engine CPU ${r.cpuSec.toFixed(2)} s (all threads; ${r.systemSec.toFixed(2)} s of it in the kernel, ${r.mainSec.toFixed(2)} s on the main thread) for ${r.events.toLocaleString('en-US')} events; alerts meanwhile: ${r.alerts}`,
      },
    );
  }
}

/**
 * The same throughput run with detection on the main thread (engine.workers
 * 1) and split over worker threads by workload (2): events/s, and whose CPU
 * it took — the engine's main thread (gRPC, decoding, workloads, its own
 * process tree, routing), its detection workers, and the synthetic probe
 * generating the events, which shares the same cores here.
 */
export async function workersThroughput(rows: Row[], counts = [1, 2], opts: ThroughputOptions = THROUGHPUT_DEFAULTS): Promise<void> {
  const load = loadavg()[0]!.toFixed(2);
  for (const workers of counts) {
    const r = await measureEngine(opts, { burst: 8 }, workers);
    const label = workers === 1 ? '1 (in-thread)' : String(workers);
    const perEvent = (sec: number) => `${Math.round((sec / r.events) * 1e9)} ns`;
    rows.push(
      {
        bench: 'engine workers', metric: `events/s (wall), engine.workers ${label}`, value: r.events / r.wall, unit: 'ev/s',
        note: `one run per setting (not the median of runs the engine throughput rows show); ${os.cpus().length} vCPUs shared with the generator (load ${load} before the runs); ${opts.workloads} workloads in monitor mode, ${opts.processes} processes, 8 events per process turn; wall ${r.wall.toFixed(2)} s for ${r.events.toLocaleString('en-US')} events`,
      },
      {
        bench: 'engine workers', metric: `events/s per engine core, engine.workers ${label}`, value: r.events / r.cpuSec, unit: 'ev/s',
        note: `CPU per event: engine ${perEvent(r.cpuSec)} (main thread ${perEvent(r.mainSec)}, detection workers ${perEvent(r.workerSec)}, the rest GC and libuv), generator ${perEvent(r.generatorSec)}; alerts meanwhile: ${r.alerts}`,
      },
    );
  }
}

interface Measured {
  events: number;
  wall: number;
  /** The engine process, all threads. */
  cpuSec: number;
  systemSec: number;
  /** The engine's main thread alone (the rest: V8's GC helpers, libuv's pool). */
  mainSec: number;
  /** The detection worker threads (engine.workers > 1). */
  workerSec: number;
  /** The synthetic probe's process (the generator), over the same time. */
  generatorSec: number;
  alerts: string;
}

/** CPU time of this process's main thread so far, in seconds. */
function mainThreadCpuSec(): number {
  for (const [k, t] of threadTimes(process.pid)) if (k.endsWith(`/${process.pid}`)) return t.ns / 1e9;
  return NaN;
}

/** CPU time of these threads of this process so far, in seconds. */
function threadsCpuSec(tids: readonly number[]): number {
  let ns = 0;
  for (const [k, t] of threadTimes(process.pid)) if (tids.includes(Number(k.split('/').pop()))) ns += t.ns;
  return ns / 1e9;
}

/** One run: a fresh engine and cgroup tree; `profileTag` names its BENCH_CPU_PROFILE file. */
async function measureEngine(opts: ThroughputOptions, setting: MixSetting, workers = 1, profileTag = settingLabel(setting).tag): Promise<Measured> {
  const cg = fakeCgroupMount(opts.workloads);
  const dir = mkdtempSync(join(tmpdir(), 'vigil-bench-'));
  const children: ChildProcess[] = [];
  let engine: Engine | null = null;
  try {
    return await runEngine(opts, setting, cg, dir, children, (e) => (engine = e), workers, profileTag);
  } finally {
    // Also when a run fails: no sender left sending, no engine left listening, no directories left behind.
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill();
    await (engine as Engine | null)?.stop();
    rmSync(dir, { recursive: true, force: true });
    rmSync(cg.dir, { recursive: true, force: true });
  }
}

async function runEngine(
  opts: ThroughputOptions,
  setting: MixSetting,
  cg: { dir: string; ids: number[] },
  dir: string,
  children: ChildProcess[],
  started: (e: Engine) => void,
  workers: number,
  profileTag: string,
): Promise<Measured> {
  const config = parseConfig({
    engine: { listen: `unix://${dir}/engine.sock`, workers },
    control: { listen: `unix://${dir}/control.sock` },
    stateDir: join(dir, 'state'),
    sinks: [{ type: 'file', path: join(dir, 'alerts.jsonl'), format: 'json' }],
  });
  const engine = new Engine(config, silentLogger(), { cgroupMount: cg.dir });
  started(engine);
  await engine.start();
  const target = `unix://${dir}/engine.sock`;
  const mix = (seed: number): MixOptions => ({ workloads: opts.workloads, processes: opts.processes, batchSize: opts.batchSize, batches: opts.batches, cgroupIds: cg.ids, seed, burst: setting.burst, openFields: setting.openFields });
  const perRound = opts.batchSize * opts.batches;

  // Learning.
  let received = 0;
  engine.subscribe(() => received++);
  const learner = await startSender(target, 1, { ...mix(1), batches: opts.batches * opts.learnRounds }, children);
  learner.go();
  await learner.done;
  await waitUntil(() => received >= perRound * opts.learnRounds, 300_000);
  await engine.workers?.settled();
  const workloads = engine.workloads.all().filter((w) => w.kind === 'cgroup');
  for (const w of workloads) {
    const r = await engine.profiles.changeMode(w, 'monitor');
    if (!r.ok) throw new Error(`${w.name}: ${r.error}`);
  }
  // Let the profile store write what changed, so the measured part is only events.
  await new Promise((r) => setTimeout(r, 1500));

  // Measured: timed inside the subscriber, at the first and the last event.
  const expected = perRound * opts.rounds;
  let n = 0;
  let t0 = 0n;
  let t1 = 0n;
  let cpu0 = process.cpuUsage();
  let cpu: NodeJS.CpuUsage | null = null;
  let main0 = 0;
  let mainSec = 0;
  let workers0 = 0;
  let workerSec = 0;
  let gen0 = 0;
  let generatorSec = 0;
  const tids = engine.workers?.threadIds ?? [];
  let senderPid = 0;
  /** The end of the measured part: with workers, once they have detected on the last event too. */
  const finish = (): void => {
    t1 = process.hrtime.bigint();
    cpu = process.cpuUsage(cpu0);
    mainSec = mainThreadCpuSec() - main0;
    workerSec = threadsCpuSec(tids) - workers0;
    generatorSec = processCpuNs(senderPid) / 1e9 - gen0;
  };
  engine.subscribe(() => {
    if (n++ === 0) {
      t0 = process.hrtime.bigint();
      cpu0 = process.cpuUsage();
      main0 = mainThreadCpuSec();
      workers0 = threadsCpuSec(tids);
      gen0 = processCpuNs(senderPid) / 1e9;
    } else if (n === expected) {
      if (engine.workers) void engine.workers.settled().then(finish);
      else finish();
    }
  });
  const alerts = new Map<string, number>();
  engine.onAlert((a) => {
    const k = `${a.source} ${a.rule}`;
    if (n > 0 && cpu === null) alerts.set(k, (alerts.get(k) ?? 0) + 1);
  });
  const sender = await startSender(target, opts.rounds, mix(42), children);
  senderPid = children.at(-1)!.pid!;
  // BENCH_CPU_PROFILE=FILE: V8 CPU profiles of the engine process over the measured rounds only (FILE-burstN[-runK].cpuprofile).
  const profiler = process.env.BENCH_CPU_PROFILE ? await startProfiler() : null;
  sender.go();
  await waitUntil(() => cpu !== null, 120_000).catch((err: Error) => {
    throw new Error(`${err.message}: ${n} of ${expected} measured events arrived`);
  });
  if (profiler) writeFileSync(process.env.BENCH_CPU_PROFILE!.replace(/(\.cpuprofile)?$/, `-${profileTag}.cpuprofile`), JSON.stringify(await profiler.stop()));
  await sender.done;
  const wall = Number(t1 - t0) / 1e9;
  const cpuSec = (cpu!.user + cpu!.system) / 1e6;
  const alertNote = [...alerts].map(([what, k]) => `${k} ${what}`).join(', ') || 'none';
  const malformed = engine.ingest.malformedEvents;
  if (malformed) throw new Error(`${malformed} events rejected as malformed`);
  return { events: n - 1, wall, cpuSec, systemSec: cpu!.system / 1e6, mainSec, workerSec, generatorSec, alerts: alertNote };
}

/** Events per second of `decode` over `batches`, on this thread (best of three runs after a warm-up). */
function decodeRate(batches: Buffer[], decode: (b: Buffer) => number): number {
  let best = 0;
  for (let run = 0; run < 4; run++) {
    let n = 0;
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < 5; i++) for (const b of batches) n += decode(b);
    const rate = n / (Number(process.hrtime.bigint() - t0) / 1e9);
    if (run > 0) best = Math.max(best, rate);
  }
  return best;
}

/** Decoding alone, one core, no gRPC, no enrichment: the engine's decoder, and protobufjs + decodeEvent for comparison. */
export function decodeCeiling(rows: Row[]): void {
  const ProbeMessage = messageType('ProbeMessage');
  const batches = eventMix({ workloads: 300, processes: 5000, batchSize: 256, batches: 200, cgroupIds: Array.from({ length: 300 }, (_, i) => i + 100) }).map((b, i) => batchMessage(i + 1, b));
  const hand = decodeRate(batches, (b) => decodeProbeMessage(b).batch!.events.length);
  const generic = decodeRate(batches, (b) => {
    const m = ProbeMessage.decode(b) as unknown as WireProbeMessage;
    for (const w of m.batch!.events) decodeEvent(w, 0, 'bench');
    return m.batch!.events.length;
  });
  rows.push(
    { bench: 'decode ceiling', metric: 'ProbeMessage → Events (engine decoder)', value: hand, unit: 'ev/s', note: 'one core, no gRPC, no enrichment; 256-event batches of the mix' },
    { bench: 'decode ceiling', metric: 'protobufjs decode + decodeEvent', value: generic, unit: 'ev/s', note: 'the generic path, for comparison' },
  );
}

/**
 * The ingest server alone (gRPC stream, flow control, the engine's
 * decoder) fed by the synthetic probe, with a handler that only counts the
 * events: what the transport costs per event before any detection, beside
 * the decode ceiling (the same decoder without the transport). CPU is this
 * process's, all threads, from the first event after the warm-up rounds to
 * the last. `batchSize` varies the events per message (the same events per
 * round), to split the cost per message from the cost per event.
 */
export async function transportCeiling(rows: Row[], rounds = 10, warmupRounds = 5, batchSize = THROUGHPUT_DEFAULTS.batchSize): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-bench-transport-'));
  const children: ChildProcess[] = [];
  const { workloads, processes } = THROUGHPUT_DEFAULTS;
  const batches = Math.round((THROUGHPUT_DEFAULTS.batchSize * THROUGHPUT_DEFAULTS.batches) / batchSize);
  // The first rounds only warm up (JIT, buffers): measured cold, the
  // same rounds cost a fifth to a half more per event.
  let warmup = batchSize * batches * warmupRounds;
  const expected = batchSize * batches * rounds;
  let n = 0;
  let t0 = 0n;
  let cpu0 = process.cpuUsage();
  let result: { wall: number; cpu: NodeJS.CpuUsage } | null = null;
  const server = new IngestServer(
    {
      onEvents: (_s, events) => {
        if (warmup > 0) {
          warmup -= events.length;
          return;
        }
        if (n === 0) {
          t0 = process.hrtime.bigint();
          cpu0 = process.cpuUsage();
        }
        n += events.length;
        if (n >= expected && !result) result = { wall: Number(process.hrtime.bigint() - t0) / 1e9, cpu: process.cpuUsage(cpu0) };
      },
      onSnapshot: () => {},
      onLoss: () => {},
      onSelfCheck: () => {},
      onPackets: () => {},
      onConnect: () => {},
      onDisconnect: () => {},
      onBatchGap: () => {},
    },
    silentLogger(),
  );
  try {
    await server.listen(`unix://${dir}/engine.sock`);
    const cgroupIds = Array.from({ length: workloads }, (_, i) => i + 100);
    const sender = await startSender(`unix://${dir}/engine.sock`, warmupRounds + rounds, { workloads, processes, batchSize, batches, cgroupIds, seed: 42, burst: 8 }, children);
    sender.go();
    await waitUntil(() => result !== null, 120_000);
    await sender.done;
  } finally {
    for (const c of children) c.kill();
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  const { wall, cpu } = result!;
  const cpuSec = (cpu.user + cpu.system) / 1e6;
  rows.push({
    bench: 'transport ceiling',
    metric: 'gRPC stream + decoder, events only counted',
    value: n / cpuSec,
    unit: 'ev/s',
    note: `per core: ${Math.round((cpuSec / n) * 1e9)} ns of CPU per event (all threads; ${(cpu.system / 1e6).toFixed(2)} s of ${cpuSec.toFixed(2)} s in the kernel), ${Math.round((cpuSec / (n / batchSize)) * 1e6)} µs per ${batchSize}-event message; wall ${Math.round(n / wall).toLocaleString('en-US')} ev/s`,
  });
}

export function kernelAvailable(): string | null {
  if (process.getuid?.() !== 0) return 'needs root';
  if (!cgroup2Mount()) return 'no cgroup v2';
  try {
    accessSync(probeBinary, constants.X_OK);
  } catch {
    return 'probe not built';
  }
  return null;
}

export async function kernelLatency(rows: Row[]): Promise<void> {
  const why = kernelAvailable();
  if (why) {
    rows.push({ bench: 'kernel → engine latency', metric: 'skipped', value: NaN, unit: '', note: why });
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'vigil-bench-'));
  const config = parseConfig({ engine: { listen: `unix://${dir}/engine.sock` }, control: { listen: `unix://${dir}/control.sock` }, stateDir: join(dir, 'state'), sinks: [] });
  const log = silentLogger();
  const engine = new Engine(config, log);
  await engine.start();
  const tree = new TestCgroupTree();
  const app = tree.group('app');
  const id = Number(app.id);
  const latencies: number[] = [];
  engine.subscribe((e) => {
    if (e.cgroupId === id) latencies.push(Number(process.hrtime.bigint()) - e.ktimeNs);
  });
  // The probe as shipped: the config's defaults.
  const p = config.probe;
  const probe = new ProbeSupervisor(
    {
      path: probeBinary, engine: config.engine.listen, nodeName: 'bench',
      ringbufBytes: p.ringbufBytes, batchMax: p.batchMax, flushMs: p.flushMs, lossReportMs: p.lossReportMs, queueEvents: p.queueEvents,
      dedupWindowMs: p.dedup.enabled ? p.dedup.windowMs : 0, excludePids: [process.pid],
    },
    log,
  );
  probe.start();
  await waitUntil(() => engine.ingest.sessions().some((s) => s.snapshotDone), 20_000);
  // An idle node: a process now and then, each exec, open and exit measured.
  await app.run('/bin/sh', ['-c', 'for i in $(seq 300); do cat /etc/hostname > /dev/null; sleep 0.005; done'], { timeoutMs: 60_000 });
  await new Promise((r) => setTimeout(r, 200));
  await probe.stop();
  await engine.stop();
  await tree.remove();
  rmSync(dir, { recursive: true, force: true });
  const sorted = latencies.map((ns) => ns / 1e6).sort((a, b) => a - b);
  const note = `${sorted.length} events at idle; the probe's default settings (flushMs ${p.flushMs}, de-duplication on)`;
  rows.push(
    { bench: 'kernel → engine latency', metric: 'p50', value: percentile(sorted, 50), unit: 'ms', note },
    { bench: 'kernel → engine latency', metric: 'p99', value: percentile(sorted, 99), unit: 'ms', target: '< 5 (issue 7, to alert)' },
    { bench: 'kernel → engine latency', metric: 'max', value: sorted.at(-1) ?? NaN, unit: 'ms' },
  );
}
