// Detection cost per event counted, not timed: instructions (and, with
// --cache, simulated cache misses) per event of bench/detect.ts's end-to-end
// path, under valgrind's callgrind. Repeatable where the shared VM's clocks
// are not (bench/README.md says how far):
//   node --import tsx bench/detect-count.ts [--runs N] [--cache] [--functions N] [--batches N] [--burst N] [--open-fields bench|probe] [--open-wire numbers|fields] [TREE ...]
// Each TREE (a checkout of Vigil; default this one) is measured --runs times,
// the trees alternating run by run. Each run is one node process under
// callgrind: the engine as detect.ts builds it (built-in rules, a file sink,
// 300 workloads, 5,000 processes, profiles learned then in monitor mode),
// warmed over the measured batches, then one more pass over them counted:
// the process calls getpriority(2) (os.getPriority) just before and just
// after that pass and callgrind dumps its counters at each call, so the
// middle dump holds that pass alone. Node runs --single-threaded: V8
// compiles and collects on the main thread, as the count then depends on
// the code and the input, not on when a helper thread finished (the code
// measured is still optimised code: TurboFan runs, in line), and the
// engine's clock advances with the batches, not the host's time
// (lib/detect-engine.ts virtualClock); and --no-allocation-site-pretenuring,
// as the engine ships (without it, V8 now and then pretenured the Event and
// a run counted ~150 instructions an event more). --node-flags replaces
// both. Slow: 2–7 minutes a run, more with
// --cache. Cache misses are callgrind's model of a cache like this
// machine's (its L1 and last level), not counted by the CPU. --functions N
// prints each run's N costliest functions, instructions per event: node
// writes its code's addresses (--perf-basic-prof, /tmp/perf-PID.map, removed
// after) and callgrind's nameless code is named from them. --lines NAME
// splits the optimised JavaScript function NAME's instructions an event by
// where they are in its code (lib/jit-lines.ts: callgrind's costs by
// address joined to the code node prints for it): its stretches of N or
// more an event (--lines-min N, default 8) are printed, and its code, each
// instruction with its executions an event, kept in --lines-out DIR
// (default the system's temporary directory).
// --open-fields probe: every open carries what the probe writes for it (path
// flags, O_CLOEXEC, the file's inode, device, links and mode:
// lib/event-mix.ts), not the rows' mix's two to four fields.
// --open-wire fields: an open's numbers each in its own field, as the probe
// sent them before OpenEvent.numbers (default numbers: in that one field).
// A TREE from before that field needs fields: its decoder skips the block.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { getPriority, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { countArgs, countedRun, dropPerfMap, dumpTotals, topFunctions } from './lib/callgrind.js';
import { printCodeFlags, showLines } from './lib/jit-lines.js';
import { detectEngine } from './lib/detect-engine.js';

const HERE = fileURLToPath(new URL('.', import.meta.url));
const CHILD = process.env.VIGIL_DETECT_COUNT_CHILD === '1';
const args = process.argv.slice(2);
const { flag, trees } = countArgs(args, new Set(['--runs', '--batches', '--burst', '--learn', '--warm', '--node-flags', '--functions', '--lines', '--lines-min', '--lines-out', '--open-fields', '--open-wire']), join(HERE, '..'));
/** A flag's value among `values` (the first by default); another is an error, not the default. */
function oneOf<T extends string>(name: string, values: readonly T[]): T {
  const v = flag(name, values[0]!);
  if (!values.includes(v as T)) throw new Error(`${name} ${v}: want ${values.join(' or ')}`);
  return v as T;
}

if (CHILD) await child();
else parent();

function parent(): void {
  const runs = Number(flag('--runs', '3'));
  const cache = args.includes('--cache');
  const functions = Number(flag('--functions', '0'));
  const nodeFlags = flag('--node-flags', '--single-threaded --no-allocation-site-pretenuring').split(' ').filter(Boolean);
  if (functions > 0) nodeFlags.push('--perf-basic-prof');
  const lines = flag('--lines', '');
  const out = mkdtempSync(join(tmpdir(), 'vigil-detect-count-'));
  const results = new Map<string, Record<string, number>[]>();
  const printing = lines ? ` ${printCodeFlags(lines, 'RUN_DIR/code.asm').join(' ')}` : '';
  console.log(`trees: ${trees.join(', ')}; node ${nodeFlags.join(' ')}${printing}; ${cache ? 'cache simulated' : 'instructions only'}`);
  for (let r = 0; r < runs; r++) {
    for (const tree of trees) {
      const dir = join(out, `${r}-${trees.indexOf(tree)}`);
      mkdirSync(dir);
      const t0 = Date.now();
      const code = join(dir, 'code.asm');
      const run = countedRun(`run ${r} of ${tree}`, dir, [...nodeFlags, ...(lines ? printCodeFlags(lines, code) : []), '--expose-gc', '--import', 'tsx', join(HERE, 'detect-count.ts'), ...args],
        { ...process.env, VIGIL_DETECT_COUNT_CHILD: '1', VIGIL_TREE: tree }, tree, cache, lines !== '');
      const info = JSON.parse(run.summary) as { events: number; alerts: number };
      const file = run.dump;
      const per: Record<string, number> = {};
      for (const [ev, total] of Object.entries(dumpTotals(file))) per[ev] = total / info.events;
      if (cache) {
        per['D1 misses'] = (per.D1mr ?? 0) + (per.D1mw ?? 0);
        per['LL data misses'] = (per.DLmr ?? 0) + (per.DLmw ?? 0);
      }
      (results.get(tree) ?? results.set(tree, []).get(tree)!).push(per);
      const show = Object.entries(per).filter(([k]) => k === 'Ir' || k.includes('misses') || k === 'I1mr');
      if (functions > 0) {
        topFunctions(file, info.events, 'event', functions, cache);
        dropPerfMap(file);
      }
      if (lines) showLines(run.dump, readFileSync(code, 'utf8'), lines, info.events, 'event', Number(flag('--lines-min', '8')), join(flag('--lines-out', tmpdir()), `vigil-lines-${lines}-${r + 1}-${trees.indexOf(tree)}.txt`));
      console.log(`run ${r + 1}, ${tree}: ${info.events} events, ${info.alerts} alerts; per event ${show.map(([k, v]) => `${k} ${v.toFixed(1)}`).join(', ')} (${((Date.now() - t0) / 1000).toFixed(0)} s)`);
      rmSync(dir, { recursive: true, force: true });
    }
  }
  rmSync(out, { recursive: true, force: true });
  for (const [tree, per] of results) {
    const sum: string[] = [];
    for (const k of Object.keys(per[0]!)) {
      const v = per.map((p) => p[k]!).sort((a, b) => a - b);
      const med = v[Math.floor(v.length / 2)]!;
      sum.push(`${k} ${med.toFixed(1)} (${v[0]!.toFixed(1)}–${v.at(-1)!.toFixed(1)}, spread ${((100 * (v.at(-1)! - v[0]!)) / med).toFixed(2)}%)`);
    }
    console.log(`${tree}: median per event ${sum.join(', ')}`);
  }
}

async function child(): Promise<void> {
  const WARM = Number(flag('--warm', '3'));
  const engine = await detectEngine(process.env.VIGIL_TREE!, { learn: Number(flag('--learn', '2000')), batches: Number(flag('--batches', '100')), burst: Number(flag('--burst', '8')), openFields: oneOf('--open-fields', ['bench', 'probe'] as const), openWire: oneOf('--open-wire', ['numbers', 'fields'] as const), virtualClock: true });
  for (let r = 0; r < WARM; r++) {
    // Instrumented from the last warm pass (start-up, learning and the first passes run uninstrumented, several times
    // quicker): it warms the simulated caches.
    if (r === WARM - 1) execFileSync('callgrind_control', ['-i', 'on', String(process.pid)], { stdio: 'ignore' });
    engine.pass();
  }
  (globalThis as { gc?: () => void }).gc!();
  const before = engine.alerts();
  getPriority();
  engine.pass();
  getPriority();
  const counted = engine.alerts() - before;
  await engine.stop();
  console.log(JSON.stringify({ events: engine.events, alerts: counted }));
  process.exit(0);
}
