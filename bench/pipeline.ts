// Pipeline benchmarks:
//  1. engine throughput: a synthetic probe (own process) replays a realistic
//     mix over real gRPC into the real engine; events/s and per engine core
//  2. decode ceiling: protobuf decode + event build alone, one core
//  3. kernel → engine latency with the real probe (root only)
import { spawn } from 'node:child_process';
import { accessSync, constants, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseConfig } from '../src/config/load.js';
import { Engine } from '../src/engine.js';
import { decodeEvent } from '../src/ingest/decode.js';
import { silentLogger } from '../src/log.js';
import { ProbeSupervisor } from '../src/probe/supervisor.js';
import { messageType } from '../src/rpc/proto.js';
import type { WireProbeMessage } from '../src/rpc/wire.js';
import { cgroup2Mount, TestCgroupTree } from '../test/support/cgroup.js';
import { eventMix, type MixOptions } from './lib/event-mix.js';
import type { Row } from './lib/report.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const probeBinary = join(root, 'bpf/build/vigil-probe');

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

function fakeCgroupMount(workloads: number): { dir: string; ids: number[] } {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-bench-cg-'));
  const ids: number[] = [];
  for (let i = 0; i < workloads; i++) {
    const d = join(dir, `kubepods/pod-${i}/app`);
    mkdirSync(d, { recursive: true });
    ids.push(statSync(d).ino);
  }
  return { dir, ids };
}

export async function engineThroughput(rows: Row[], opts = { workloads: 300, processes: 5000, batchSize: 256, batches: 400, rounds: 10 }): Promise<void> {
  const cg = fakeCgroupMount(opts.workloads);
  const dir = mkdtempSync(join(tmpdir(), 'vigil-bench-'));
  const config = parseConfig({ engine: { listen: `unix://${dir}/engine.sock` }, control: { listen: `unix://${dir}/control.sock` }, stateDir: join(dir, 'state') });
  const engine = new Engine(config, silentLogger(), { cgroupMount: cg.dir });
  await engine.start();
  let received = 0;
  engine.subscribe(() => received++);
  const mix: MixOptions = { ...opts, cgroupIds: cg.ids };
  const expected = opts.batchSize * opts.batches * opts.rounds;
  const sender = spawn(process.execPath, ['--import', 'tsx', join(root, 'bench/lib/sender.ts'), `unix://${dir}/engine.sock`, String(opts.rounds), JSON.stringify(mix)], { stdio: ['ignore', 'inherit', 'inherit'] });
  // Time from the first event, so the sender's start-up (building its batches) is not counted.
  await waitUntil(() => received > 0, 60_000);
  const t0 = process.hrtime.bigint();
  const cpu0 = process.cpuUsage();
  const first = received;
  await waitUntil(() => received >= expected, 300_000);
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = process.cpuUsage(cpu0);
  const cpuSec = (cpu.user + cpu.system) / 1e6;
  const n = received - first;
  await new Promise((r) => sender.once('exit', r));
  await engine.stop();
  rmSync(dir, { recursive: true, force: true });
  rmSync(cg.dir, { recursive: true, force: true });
  rows.push(
    { bench: 'engine throughput', metric: 'events/s (wall)', value: n / wall, unit: 'ev/s', note: `${opts.workloads} workloads, ${opts.processes} processes, gRPC unix socket` },
    { bench: 'engine throughput', metric: 'events/s per engine core', value: n / cpuSec, unit: 'ev/s', target: '≥ 1,000,000 (issue 7)', note: `engine CPU ${cpuSec.toFixed(2)} s for ${n.toLocaleString('en-US')} events` },
  );
}

export function decodeCeiling(rows: Row[]): void {
  const ProbeMessage = messageType('ProbeMessage');
  const batches = eventMix({ workloads: 300, processes: 5000, batchSize: 256, batches: 200, cgroupIds: Array.from({ length: 300 }, (_, i) => i + 100) });
  let n = 0;
  const run = (): void => {
    for (const b of batches) {
      const m = ProbeMessage.decode(b) as unknown as WireProbeMessage;
      for (const w of m.batch!.events) {
        decodeEvent(w, 0, 'bench');
        n++;
      }
    }
  };
  run(); // warm up
  n = 0;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < 10; i++) run();
  const sec = Number(process.hrtime.bigint() - t0) / 1e9;
  rows.push({ bench: 'decode ceiling', metric: 'protobuf decode + event build', value: n / sec, unit: 'ev/s', note: 'one core, no gRPC, no enrich' });
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
  const config = parseConfig({ engine: { listen: `unix://${dir}/engine.sock` }, control: { listen: `unix://${dir}/control.sock` }, stateDir: join(dir, 'state') });
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
  const probe = new ProbeSupervisor(
    { path: probeBinary, engine: config.engine.listen, nodeName: 'bench', ringbufBytes: 1 << 24, batchMax: 256, flushMs: 2, lossReportMs: 1000, queueEvents: 1 << 18, excludePids: [process.pid] },
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
  const note = `${sorted.length} events at idle; flushMs 2`;
  rows.push(
    { bench: 'kernel → engine latency', metric: 'p50', value: percentile(sorted, 50), unit: 'ms', note },
    { bench: 'kernel → engine latency', metric: 'p99', value: percentile(sorted, 99), unit: 'ms', target: '< 5 (issue 7, to alert)' },
    { bench: 'kernel → engine latency', metric: 'max', value: sorted.at(-1) ?? NaN, unit: 'ms' },
  );
}
