// Diagnostic (not part of `npm run bench`): what one gRPC message costs the
// engine, whatever it carries. A synthetic probe (own process) sends N
// batches of B events of the mix, one per millisecond, into the real
// engine; printed: the engine main thread's CPU time (schedstat) per batch.
// Compare B=1 with larger B to split the cost per message from the cost
// per event. Also printed: every engine thread's CPU and context switches
// (by name) in that window, and, with IDLE_S=N, over N seconds before it
// with the synthetic probe connected and silent (the engine's idle cost).
// The events' cgroup ids are made up (unknown to the engine, each event
// looks its cgroup up again, backed off) unless CGROUPS=known: then they are
// directories of a scratch cgroup tree the engine is given (bench/lib/fake-cgroups.ts).
//   node --initial-old-space-size=64 --import tsx bench/message-cost.ts [B] [N]
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseConfig } from '../src/config/load.js';
import { Engine } from '../src/engine.js';
import { silentLogger } from '../src/log.js';
import type { MixOptions } from './lib/event-mix.js';
import { fakeCgroupMount } from './lib/fake-cgroups.js';
import { scratchEngineInput } from './lib/scratch-engine.js';
import { threadTimes } from './lib/kernel.js';

const batchSize = Number(process.argv[2] ?? 1);
const batches = Number(process.argv[3] ?? 2000);
const sender = fileURLToPath(new URL('./lib/sender.ts', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'vigil-bench-message-'));
const config = parseConfig(scratchEngineInput(dir));
const cg = process.env.CGROUPS === 'known' ? fakeCgroupMount(10) : null;
const engine = new Engine(config, silentLogger(), cg ? { cgroupMount: cg.dir } : {});
await engine.start();
const mix: MixOptions = { workloads: 10, processes: 100, batchSize, batches, cgroupIds: cg?.ids ?? Array.from({ length: 10 }, (_, i) => i + 100), seed: 1, burst: 8 };
const idleSeconds = Number(process.env.IDLE_S ?? 0);
const mainThreadMs = (): number => [...threadTimes(process.pid)].find(([k]) => k.endsWith(`/${process.pid}`))![1].ns / 1e6;
type Threads = ReturnType<typeof threadTimes>;
/** CPU and context switches of each thread between two readings, threads of one name summed (the main thread is 'main'). */
function perThread(before: Threads, after: Threads): string {
  const byName = new Map<string, { ms: number; switches: number }>();
  for (const [k, v] of after) {
    const b = before.get(k) ?? { ns: 0, switches: 0 };
    const name = k.endsWith(`/${process.pid}`) ? 'main' : k.slice(0, k.lastIndexOf('/'));
    const t = byName.get(name) ?? { ms: 0, switches: 0 };
    byName.set(name, { ms: t.ms + (v.ns - b.ns) / 1e6, switches: t.switches + v.switches - b.switches });
  }
  return [...byName].filter(([, d]) => d.ms >= 0.5 || d.switches > 0).map(([k, d]) => `${k} ${d.ms.toFixed(1)} ms/${d.switches} sw`).join(', ');
}
try {
  // The first round warms the engine (JIT, caches); the second is printed too.
  for (let round = 1; round <= 2; round++) {
    const child = spawn(process.execPath, ['--import', 'tsx', sender, `unix://${dir}/engine.sock`, '1', JSON.stringify(mix)], {
      stdio: ['pipe', 'pipe', 'inherit'],
      env: { ...process.env, BENCH_PACE_MS: '1' },
    });
    await new Promise((r) => child.stdout!.once('data', r));
    if (idleSeconds > 0) {
      await new Promise((r) => setTimeout(r, 2000)); // the snapshot's processes handled first
      const idle0 = threadTimes(process.pid);
      await new Promise((r) => setTimeout(r, idleSeconds * 1000));
      console.log(`round ${round}: idle ${idleSeconds} s with a probe connected: ${perThread(idle0, threadTimes(process.pid))}`);
    }
    const threads0 = threadTimes(process.pid);
    const ms0 = mainThreadMs();
    const t0 = Date.now();
    child.stdin!.end('go\n');
    await new Promise((r) => child.once('exit', r));
    const ms = mainThreadMs() - ms0;
    console.log(`round ${round}: ${batches} batches of ${batchSize} in ${Date.now() - t0} ms: engine main thread ${ms.toFixed(0)} ms, ${((ms * 1000) / batches).toFixed(1)} µs per batch`);
    console.log(`  threads: ${perThread(threads0, threadTimes(process.pid))}`);
  }
} finally {
  await engine.stop();
  rmSync(dir, { recursive: true, force: true });
  if (cg) rmSync(cg.dir, { recursive: true, force: true });
}
process.exit(0);
