// Memory.
//   engine: the real engine in its own process, fed by a synthetic probe
//   over the real gRPC stream: a start-up snapshot of 10,000 processes and
//   then 10,000 forks+execs, with file and network activity, across 500
//   workloads (500 cgroup directories in a stand-in cgroup mount), so the
//   process tree holds 20,000 processes and 500 workloads learn profiles.
//   RSS after a full GC, next to an idle engine's.
//   probe: the real probe with its maps, on a node where a few thousand
//   real sleeping processes sit in a few hundred test cgroups (its
//   start-up snapshot covers them all), with a real engine consuming.
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { WireProcessInfo } from '../src/probe/wire.js';
import { TestCgroupTree } from '../test/support/cgroup.js';
import { ktimeNow, SyntheticProbe, type SyntheticEvent } from '../test/support/synthetic-probe.js';
import { parseConfig } from '../src/config/load.js';
import { probeUnavailable, sleep, threadTimes, waitUntil } from './lib/kernel.js';
import { skipped, type Row } from './lib/report.js';
import { startVigil } from './lib/vigil-node.js';

/**
 * The engine's Node flags as shipped (package.json start, daemonset/Dockerfile.engine).
 * Not --max-semi-space-size=8: it took 14 MiB off this row but a quarter of the engine's
 * throughput (bench/README.md, "Memory, found over the limits again").
 */
const ENGINE_NODE_FLAGS = ['--initial-old-space-size=64', '--no-allocation-site-pretenuring'];
/** And its malloc settings as shipped: glibc's fixed thresholds (bench/README.md, "The engine's memory, second look"). */
const ENGINE_ENV = { MALLOC_TRIM_THRESHOLD_: '131072', MALLOC_MMAP_THRESHOLD_: '131072' };

export interface MemoryOptions {
  workloads: number;
  snapshotProcesses: number;
  forkedProcesses: number;
  sleepers: number;
  sleeperCgroups: number;
}

export const MEMORY_DEFAULTS: MemoryOptions = { workloads: 500, snapshotProcesses: 10_000, forkedProcesses: 10_000, sleepers: 3000, sleeperCgroups: 300 };

const MiB = 2 ** 20;
const root = fileURLToPath(new URL('..', import.meta.url));

/**
 * The engine child compiled to JavaScript, as `vigil engine` runs from
 * dist/ (a TypeScript loader would add its own memory). Built under
 * bench/results/ (ignored by git) so node_modules resolve.
 */
function compileEngineChild(): string {
  const out = join(root, 'bench/results/engine-build');
  rmSync(out, { recursive: true, force: true });
  mkdirSync(out, { recursive: true });
  const tsconfig = join(out, 'tsconfig.json');
  writeFileSync(tsconfig, JSON.stringify({
    extends: join(root, 'tsconfig.json'),
    compilerOptions: { rootDir: root, outDir: out, sourceMap: false },
    include: [],
    files: [join(root, 'bench/lib/engine-child.ts')],
  }));
  // node_modules/.bin/tsc: the compiler npm run build uses (TypeScript 7; the `typescript` package is 6, for typescript-eslint).
  execFileSync(process.execPath, [join(root, 'node_modules/.bin/tsc'), '-p', tsconfig], { stdio: 'inherit' });
  // What the compiled modules find next to themselves in the repository.
  symlinkSync(join(root, 'proto'), join(out, 'proto'));
  symlinkSync(join(root, 'src/detect/rules/builtin'), join(out, 'src/detect/rules/builtin'));
  return join(out, 'bench/lib/engine-child.js');
}

interface Measure {
  /** The RSS once V8 has freed the pages its full GC emptied; rssAtGc: as gc() returned. */
  rss: number;
  rssAtGc: number;
  heapUsed: number;
  processes: number;
  workloads: number;
  events: number;
}

async function engineMemory(opts: MemoryOptions): Promise<{ idle: Measure; loaded: Measure }> {
  const mount = mkdtempSync(join(tmpdir(), 'vigil-bench-cg-'));
  const dir = mkdtempSync(join(tmpdir(), 'vigil-bench-mem-'));
  const cgroups: number[] = [];
  for (let i = 0; i < opts.workloads; i++) {
    const d = join(mount, `kubepods/pod-${i}/app`);
    mkdirSync(d, { recursive: true });
    cgroups.push(statSync(d).ino);
  }
  const child = spawn(process.execPath, ['--expose-gc', ...ENGINE_NODE_FLAGS, compileEngineChild(), JSON.stringify({ dir, cgroupMount: mount })], {
    stdio: ['pipe', 'pipe', 'inherit'],
    env: { ...process.env, ...ENGINE_ENV },
  });
  const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
  const next = async (): Promise<string> => {
    const r = await lines.next();
    if (r.done) throw new Error('the engine process ended');
    return r.value;
  };
  const measure = async (): Promise<Measure> => {
    child.stdin!.write('measure\n');
    return JSON.parse(await next()) as Measure;
  };
  try {
    if ((await next()) !== 'ready') throw new Error('the engine process did not start');
    await sleep(500);
    const idle = await measure();
    const probe = SyntheticProbe.connect(`unix://${dir}/engine.sock`);
    const perWorkload = Math.ceil(opts.snapshotProcesses / opts.workloads);
    // The start-up snapshot: a shell and its children in every workload.
    const snapshot: WireProcessInfo[] = [];
    for (let i = 0; i < opts.snapshotProcesses; i++) {
      const w = i % opts.workloads;
      const pid = 10_000 + i;
      const first = i < opts.workloads;
      snapshot.push({
        pid, ppid: first ? 1 : 10_000 + w, uid: 1000, gid: 1000, comm: first ? 'sh' : 'worker', exe: first ? '/bin/sh' : `/app/bin/worker-${w % 20}`,
        argv: first ? ['/bin/sh', '-c', 'start'] : [`/app/bin/worker-${w % 20}`, '--id', String(i)], cwd: '/app', cgroupId: cgroups[w]!, startKtimeNs: ktimeNow(), tty: 0,
        capEffective: 0, capPermitted: 0, loginuid: 4294967295, vpid: pid,
      });
    }
    for (let i = 0; i < snapshot.length; i += 1000) {
      if (!probe.send({ snapshot: { processes: snapshot.slice(i, i + 1000), last: i + 1000 >= snapshot.length } })) await probe.drained();
    }
    // Then forks and execs, each new process opening files and connecting.
    let batch: SyntheticEvent[] = [];
    const flush = async (): Promise<void> => {
      if (!probe.sendBatch(batch)) await probe.drained();
      batch = [];
    };
    for (let i = 0; i < opts.forkedProcesses; i++) {
      const w = i % opts.workloads;
      const parent = 10_000 + w;
      const pid = 100_000 + i;
      const cgroupId = cgroups[w]!;
      batch.push(
        { pid: parent, ppid: 1, cgroupId, fork: { childPid: pid } },
        { pid, ppid: parent, cgroupId, exec: { filename: `/app/bin/job-${i % 50}`, exe: `/app/bin/job-${i % 50}`, argv: [`job-${i % 50}`, '--run', String(i)], cwd: '/app' } },
        { pid, ppid: parent, cgroupId, open: { path: `/app/data/${w}/file-${i % perWorkload}.dat`, flags: 0, mode: 0, result: 3 } },
        { pid, ppid: parent, cgroupId, open: { path: `/etc/app/${i % 10}.conf`, flags: 0, mode: 0, result: 4 } },
        { pid, ppid: parent, cgroupId, connect: { remote: { family: 2, address: Buffer.from([10, 1, w % 250, i % 20]), port: 5432 + (i % 3) }, protocol: 6, result: -115 } },
      );
      if (batch.length >= 500) await flush();
    }
    if (batch.length) await flush();
    const want = opts.snapshotProcesses + opts.forkedProcesses;
    let loaded = await measure();
    const deadline = Date.now() + 120_000;
    while (loaded.processes < want || loaded.events < opts.forkedProcesses * 5) {
      if (Date.now() > deadline) throw new Error(`engine holds ${loaded.processes} processes, ${loaded.events} events; expected ${want}`);
      await sleep(500);
      loaded = await measure();
    }
    await sleep(2000); // profile stores write what they learned
    loaded = await measure();
    await probe.close();
    return { idle, loaded };
  } finally {
    child.stdin!.write('stop\n');
    await new Promise((r) => child.once('exit', r));
    rmSync(dir, { recursive: true, force: true });
    rmSync(mount, { recursive: true, force: true });
  }
}

/**
 * RSS of a process and its parts: the kernel's BPF maps (the ring buffers),
 * private memory, and the pages of the binary and its libraries (file-backed,
 * the maps left out).
 */
function rssParts(pid: number): { rss: number; maps: number; anon: number; files: number } {
  let maps = 0;
  let name = '';
  for (const line of readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n')) {
    const head = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \S+(?:\s+(.*))?$/.exec(line);
    if (head) name = head[1] ?? '';
    else if (line.startsWith('Rss:') && name.includes('bpf-map')) maps += Number(line.split(/\s+/)[1]) * 1024;
  }
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (k: string): number => Number(new RegExp(`${k}:\\s+(\\d+) kB`).exec(status)?.[1] ?? NaN) * 1024;
  return { rss: kb('VmRSS'), maps, anon: kb('RssAnon'), files: kb('RssFile') - maps };
}

/** CPU per second of the whole probe and of the engine's main thread, and their wakeups (context switches) per second. */
interface IdleCost {
  probeMs: number;
  probeWakeups: number;
  engineMs: number;
  engineWakeups: number;
}

async function probeMemory(opts: MemoryOptions): Promise<{ parts: ReturnType<typeof rssParts>; processes: number; idle: IdleCost }> {
  const tree = new TestCgroupTree();
  const groups = Array.from({ length: opts.sleeperCgroups }, (_, i) => tree.group(`sleepers-${i}`));
  const each = Math.ceil(opts.sleepers / opts.sleeperCgroups);
  try {
    for (const g of groups) g.spawn('/bin/sh', ['-c', `for i in $(seq ${each}); do sleep 600 & done; wait`]);
    await waitUntil('the sleepers', () => groups.every((g) => readFileSync(`${g.dir}/cgroup.procs`, 'utf8').trim().split('\n').length > each), 120_000);
    // The shipped loss-report period (the bench's other runs report faster).
    const v = await startVigil({ probe: { lossReportMs: parseConfig({}).probe.lossReportMs } });
    try {
      await sleep(3000); // steady state after the snapshot
      const processes = v.engine.status().processes;
      const parts = rssParts(v.probe.pid!);
      // What Vigil costs a node where nothing happens: 10 s of the sleepers sleeping.
      const main = `/${process.pid}`;
      const total = (pid: number, only?: string): { ns: number; switches: number } => {
        let ns = 0;
        let switches = 0;
        for (const [k, t] of threadTimes(pid)) if (!only || k.endsWith(only)) [ns, switches] = [ns + t.ns, switches + t.switches];
        return { ns, switches };
      };
      const [p0, e0] = [total(v.probe.pid!), total(process.pid, main)];
      await sleep(10_000);
      const [p1, e1] = [total(v.probe.pid!), total(process.pid, main)];
      const idle = {
        probeMs: (p1.ns - p0.ns) / 1e7, probeWakeups: (p1.switches - p0.switches) / 10,
        engineMs: (e1.ns - e0.ns) / 1e7, engineWakeups: (e1.switches - e0.switches) / 10,
      };
      return { parts, processes, idle };
    } finally {
      await v.stop();
    }
  } finally {
    for (const g of groups) writeFileSync(`${g.dir}/cgroup.kill`, '1');
    await tree.remove();
  }
}

export async function memory(rows: Row[], opts: MemoryOptions = MEMORY_DEFAULTS): Promise<void> {
  const { idle, loaded } = await engineMemory(opts);
  rows.push({
    bench: 'memory',
    metric: `engine RSS, ${loaded.workloads} workloads, ${loaded.processes.toLocaleString('en-US')} processes`,
    value: loaded.rss / MiB,
    unit: 'MiB',
    target: '< 150',
    note: `after a full GC and the pages it emptied freed (${(loaded.rssAtGc / MiB).toFixed(0)} MiB as the GC returned); heap ${(loaded.heapUsed / MiB).toFixed(0)} MiB; an idle engine: ${(idle.rss / MiB).toFixed(0)} MiB; synthetic probe: snapshot ${opts.snapshotProcesses.toLocaleString('en-US')} + ${opts.forkedProcesses.toLocaleString('en-US')} forks/execs with opens and connects, learn mode`,
  });
  if (skipped(rows, 'memory', probeUnavailable(), 'probe RSS: skipped')) return;
  const { parts, processes, idle: quiet } = await probeMemory(opts);
  rows.push({
    bench: 'memory',
    metric: `probe RSS, ${processes.toLocaleString('en-US')} processes on the node`,
    value: parts.rss / MiB,
    unit: 'MiB',
    target: '< 30',
    note: `of which the ring buffers mapped from the kernel ${(parts.maps / MiB).toFixed(1)} MiB (the event ring is mapped twice), private memory ${(parts.anon / MiB).toFixed(1)} MiB and the binary's and its libraries' pages ${(parts.files / MiB).toFixed(1)} MiB; ${opts.sleepers.toLocaleString('en-US')} sleeping processes in ${opts.sleeperCgroups} test cgroups`,
  });
  rows.push({
    bench: 'idle',
    metric: 'CPU while nothing happens: probe / engine main thread',
    value: quiet.probeMs + quiet.engineMs,
    unit: 'ms/s',
    note: `probe ${quiet.probeMs.toFixed(2)} ms/s (${quiet.probeWakeups.toFixed(0)} context switches/s), engine main thread ${quiet.engineMs.toFixed(2)} ms/s (${quiet.engineWakeups.toFixed(0)}/s); 10 s, the same node as above, the shipped settings`,
  });
}
