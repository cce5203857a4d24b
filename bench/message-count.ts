// The engine's cost per gRPC message counted, not timed: instructions per
// message of the real engine taking a synthetic probe's batches, one at a
// time, under valgrind's callgrind (bench/message-cost.ts times the same
// path; on this shared VM its rounds swing by more than a few µs a message).
//   node --import tsx bench/message-count.ts [--runs N] [--batch B] [--messages N] [--warm N] [--pace MS] [--functions N] [--cgroups known] [TREE ...]
// Each TREE (a checkout of Vigil; default this one) is measured --runs
// times, the trees alternating run by run. A run is one node process
// (--single-threaded: V8 compiles and collects on the main thread, so the
// count is the whole engine's) under callgrind, the engine from TREE's
// src/ as message-cost.ts builds it; the sender (bench/lib/sender.ts, not
// under valgrind) sends --warm + --messages batches of --batch events, one
// every --pace ms, slow enough that each is read alone. The engine calls
// getpriority(2) after its --warm-th batch's events and after its last
// one's, and callgrind dumps its counters at each call: the middle dump
// holds --messages messages, each with its wakeup, its HTTP/2 and gRPC
// path, its decoding and detection, and the idle loop between them. V8's
// optimising compiles and collections in that window (on this one thread,
// whenever they fall due) are printed apart and left out of the figure
// compared. --functions N prints each run's N costliest functions per
// message, by their own instructions and inclusive of what they call
// (node --perf-basic-prof names the JavaScript, as in detect-count.ts).
// The events' cgroup ids are made up (unknown to the engine: each event
// looks its cgroup up again, backed off) unless --cgroups known: then they
// are directories of a scratch cgroup tree the engine is given, found once,
// as a node's containers are.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { getPriority, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { countArgs, countedRun, dropPerfMap, dumpTotals, topFunctions } from './lib/callgrind.js';
import type { MixOptions } from './lib/event-mix.js';
import { fakeCgroupMount } from './lib/fake-cgroups.js';
import { scratchEngineInput } from './lib/scratch-engine.js';

const HERE = fileURLToPath(new URL('.', import.meta.url));
const CHILD = process.env.VIGIL_MESSAGE_COUNT_CHILD === '1';
const args = process.argv.slice(2);
const { flag, trees } = countArgs(args, new Set(['--runs', '--batch', '--messages', '--warm', '--pace', '--functions', '--cgroups']), join(HERE, '..'));
const batchSize = Number(flag('--batch', '1'));
const messages = Number(flag('--messages', '300'));
const warm = Number(flag('--warm', '300'));
const pace = Number(flag('--pace', '25'));
const knownCgroups = flag('--cgroups', 'unknown') === 'known';

if (CHILD) await child();
else parent();

function parent(): void {
  const runs = Number(flag('--runs', '3'));
  const functions = Number(flag('--functions', '0'));
  const out = mkdtempSync(join(tmpdir(), 'vigil-message-count-'));
  const results = new Map<string, number[]>();
  console.log(`trees: ${trees.join(', ')}; ${messages} messages of ${batchSize} events counted after ${warm}, one every ${pace} ms; cgroups ${knownCgroups ? 'known' : 'unknown'}`);
  for (let r = 0; r < runs; r++) {
    for (const tree of trees) {
      const dir = join(out, `${r}-${trees.indexOf(tree)}`);
      mkdirSync(dir);
      const t0 = Date.now();
      const run = countedRun(`run ${r} of ${tree}`, dir, ['--single-threaded', '--initial-old-space-size=64', ...(functions > 0 ? ['--perf-basic-prof'] : []), '--import', 'tsx', join(HERE, 'message-count.ts'), ...args],
        { ...process.env, VIGIL_MESSAGE_COUNT_CHILD: '1', VIGIL_TREE: tree }, tree);
      const info = JSON.parse(run.summary) as { messages: number; events: number };
      const file = run.dump;
      const ir = dumpTotals(file).Ir!;
      // On one thread V8's optimising compiles and its collections land in the count whenever they happen to run:
      // counted apart (inclusive), and the rest is the figure compared.
      const inclusive = spawnSync('callgrind_annotate', ['--inclusive=yes', '--threshold=100', file], { encoding: 'utf8', maxBuffer: 1 << 28 }).stdout;
      const of = (fn: string): number => {
        const m = new RegExp(`^\\s*([\\d,]+) \\(\\s*[\\d.]+%\\)\\s+\\S*${fn}\\(`, 'm').exec(inclusive);
        return m ? Number(m[1]!.replaceAll(',', '')) : 0;
      };
      const compile = of('v8::internal::Runtime_CompileOptimized');
      const gc = of('v8::internal::Heap::CollectGarbage');
      const per = (ir - compile - gc) / info.messages;
      (results.get(tree) ?? results.set(tree, []).get(tree)!).push(per);
      console.log(
        `run ${r + 1}, ${tree}: ${info.messages} messages, ${info.events} events; ${per.toFixed(0)} instructions per message ` +
          `without compiles and GC (all ${(ir / info.messages).toFixed(0)}, optimising compiles ${(compile / info.messages).toFixed(0)}, GC ${(gc / info.messages).toFixed(0)}; ${((Date.now() - t0) / 1000).toFixed(0)} s)`,
      );
      if (functions > 0) {
        topFunctions(file, info.messages, 'message', functions, false);
        topFunctions(file, info.messages, 'message', functions, false, true);
        dropPerfMap(file);
      }
      rmSync(dir, { recursive: true, force: true });
    }
  }
  rmSync(out, { recursive: true, force: true });
  for (const [tree, per] of results) {
    const v = [...per].sort((a, b) => a - b);
    const med = v[Math.floor(v.length / 2)]!;
    console.log(`${tree}: median ${med.toFixed(0)} instructions per message without compiles and GC (${v.map((x) => x.toFixed(0)).join(', ')})`);
  }
}

async function child(): Promise<void> {
  const tree = process.env.VIGIL_TREE!;
  const src = (p: string): string => join(tree, 'src', p);
  const { parseConfig } = (await import(src('config/load.js'))) as typeof import('../src/config/load.js');
  const { Engine } = (await import(src('engine.js'))) as typeof import('../src/engine.js');
  const { silentLogger } = (await import(src('log.js'))) as typeof import('../src/log.js');
  const dir = mkdtempSync(join(tmpdir(), 'vigil-bench-message-count-'));
  const config = parseConfig(scratchEngineInput(dir));
  const cg = knownCgroups ? fakeCgroupMount(10) : null;
  const engine = new Engine(config, silentLogger(), cg ? { cgroupMount: cg.dir } : {});
  await engine.start();
  // The count's boundaries are the engine's own: after a batch's events are handled (not public: a bench's reach).
  const ingest = engine.ingest as unknown as { handler: { onEvents: (...a: unknown[]) => void } };
  const handler = ingest.handler;
  const onEvents = handler.onEvents.bind(handler);
  let seen = 0;
  let events = 0;
  let done: () => void = () => {};
  const finished = new Promise<void>((r) => (done = r));
  handler.onEvents = (...a: unknown[]): void => {
    onEvents(...a);
    seen++;
    if (seen > warm) events += (a[1] as unknown[]).length;
    if (seen === warm - 20) execFileSync('callgrind_control', ['-i', 'on', String(process.pid)], { stdio: 'ignore' });
    if (seen === warm || seen === warm + messages) getPriority();
    if (seen === warm + messages) done();
  };
  const mix: MixOptions = { workloads: 10, processes: 100, batchSize, batches: warm + messages, cgroupIds: cg?.ids ?? Array.from({ length: 10 }, (_, i) => i + 100), seed: 1, burst: 8 };
  const sender = spawn(process.execPath, ['--import', 'tsx', join(HERE, 'lib/sender.ts'), `unix://${dir}/engine.sock`, '1', JSON.stringify(mix)], {
    stdio: ['pipe', 'pipe', 'inherit'],
    env: { ...process.env, BENCH_PACE_MS: String(pace), VIGIL_MESSAGE_COUNT_CHILD: '' },
  });
  await new Promise((r) => sender.stdout!.once('data', r));
  sender.stdin!.end('go\n');
  await finished;
  await new Promise((r) => sender.once('exit', r));
  await engine.stop();
  rmSync(dir, { recursive: true, force: true });
  if (cg) rmSync(cg.dir, { recursive: true, force: true });
  console.log(JSON.stringify({ messages, events }));
  process.exit(0);
}
