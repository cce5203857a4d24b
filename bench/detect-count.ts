// Detection cost per event counted, not timed: instructions (and, with
// --cache, simulated cache misses) per event of bench/detect.ts's end-to-end
// path, under valgrind's callgrind. Repeatable where the shared VM's clocks
// are not (bench/README.md says how far):
//   node --import tsx bench/detect-count.ts [--runs N] [--cache] [--functions N] [--batches N] [--burst N] [TREE ...]
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
// (lib/detect-engine.ts virtualClock). Slow: 2–7 minutes a run, more with
// --cache. Cache misses are callgrind's model of a cache like this
// machine's (its L1 and last level), not counted by the CPU. --functions N
// prints each run's N costliest functions, instructions per event: node
// writes its code's addresses (--perf-basic-prof, /tmp/perf-PID.map, removed
// after) and callgrind's nameless code is named from them.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { getPriority, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { countArgs, countedRun, dumpTotals } from './lib/callgrind.js';
import { detectEngine } from './lib/detect-engine.js';

const HERE = fileURLToPath(new URL('.', import.meta.url));
const CHILD = process.env.VIGIL_DETECT_COUNT_CHILD === '1';
const args = process.argv.slice(2);
const { flag, trees } = countArgs(args, new Set(['--runs', '--batches', '--burst', '--learn', '--warm', '--node-flags', '--functions']), join(HERE, '..'));

if (CHILD) await child();
else parent();

function parent(): void {
  const runs = Number(flag('--runs', '3'));
  const cache = args.includes('--cache');
  const functions = Number(flag('--functions', '0'));
  const nodeFlags = flag('--node-flags', '--single-threaded').split(' ').filter(Boolean);
  if (functions > 0) nodeFlags.push('--perf-basic-prof');
  const out = mkdtempSync(join(tmpdir(), 'vigil-detect-count-'));
  const results = new Map<string, Record<string, number>[]>();
  console.log(`trees: ${trees.join(', ')}; node ${nodeFlags.join(' ')}; ${cache ? 'cache simulated' : 'instructions only'}`);
  for (let r = 0; r < runs; r++) {
    for (const tree of trees) {
      const dir = join(out, `${r}-${trees.indexOf(tree)}`);
      mkdirSync(dir);
      const t0 = Date.now();
      const run = countedRun(`run ${r} of ${tree}`, dir, [...nodeFlags, '--expose-gc', '--import', 'tsx', join(HERE, 'detect-count.ts'), ...args],
        { ...process.env, VIGIL_DETECT_COUNT_CHILD: '1', VIGIL_TREE: tree }, tree, cache);
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
      if (functions > 0) topFunctions(file, info.events, functions, cache);
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

/**
 * The counted pass's costliest functions; JavaScript ones named from node's perf map (the code at an address last).
 * With the cache simulated, each function's L1 and last-level data misses per event too: where the misses are.
 */
function topFunctions(dump: string, events: number, n: number, cache: boolean): void {
  const pid = /cg\.(\d+)\.2$/.exec(dump)![1]!;
  const mapFile = `/tmp/perf-${pid}.map`;
  const code: [start: number, end: number, name: string][] = [];
  for (const line of readFileSync(mapFile, 'utf8').split('\n')) {
    const m = /^([0-9a-f]+) ([0-9a-f]+) (.*)$/.exec(line);
    if (m) code.push([Number.parseInt(m[1]!, 16), Number.parseInt(m[1]!, 16) + Number.parseInt(m[2]!, 16), m[3]!]);
  }
  rmSync(mapFile, { force: true });
  // One column per event kind, in the order asked for: Ir, then (with the cache) the data misses by level.
  const kinds = cache ? ['Ir', 'D1mr', 'D1mw', 'DLmr', 'DLmw'] : ['Ir'];
  const out = spawnSync('callgrind_annotate', ['--inclusive=no', '--threshold=100', `--show=${kinds.join(',')}`, `--sort=Ir`, dump], { encoding: 'utf8', maxBuffer: 1 << 28 }).stdout;
  const cost = new Map<string, number[]>();
  // A count of zero prints as '.'.
  const num = String.raw`([\d,]+|\.)(?: \(\s*[\d.]+%\))?\s+`;
  const row = new RegExp(`^\\s*${num.repeat(kinds.length)}(.*)$`);
  for (const line of out.split('\n')) {
    const m = row.exec(line);
    if (!m || m[kinds.length + 1]!.includes('PROGRAM TOTALS')) continue;
    const vals = kinds.map((_, i) => (m[i + 1] === '.' ? 0 : Number(m[i + 1]!.replaceAll(',', ''))));
    const where = m[kinds.length + 1]!;
    const at = /^\?\?\?:0x([0-9a-f]+)/.exec(where);
    let name = where.replace(/^\?\?\?:/, '').replace(/ \[.*\]$/, '');
    if (at) {
      const a = Number.parseInt(at[1]!, 16);
      name = `code at 0x${at[1]}`;
      for (let i = code.length - 1; i >= 0; i--) {
        if (code[i]![0] <= a && a < code[i]![1]) {
          name = code[i]![2];
          break;
        }
      }
    }
    const sum = cost.get(name) ?? cost.set(name, kinds.map(() => 0)).get(name)!;
    vals.forEach((v, i) => (sum[i] = sum[i]! + v));
  }
  const print = (rows: [string, number[]][]): void => {
    for (const [name, v] of rows) {
      const ir = (v[0]! / events).toFixed(0).padStart(6);
      const miss = cache ? ` ${((v[1]! + v[2]!) / events).toFixed(2).padStart(9)} ${((v[3]! + v[4]!) / events).toFixed(3).padStart(9)}` : '';
      console.log(`  ${ir}${miss} ${name.slice(0, 140)}`);
    }
  };
  if (cache) console.log('  by instructions: Ir/event, D1 misses/event, LL misses/event, function');
  print([...cost].sort((x, y) => y[1][0]! - x[1][0]!).slice(0, n));
  if (!cache) return;
  console.log('  by L1 data misses:');
  print([...cost].sort((x, y) => y[1][1]! + y[1][2]! - x[1][1]! - x[1][2]!).slice(0, n));
}

async function child(): Promise<void> {
  const WARM = Number(flag('--warm', '3'));
  const engine = await detectEngine(process.env.VIGIL_TREE!, { learn: Number(flag('--learn', '2000')), batches: Number(flag('--batches', '100')), burst: Number(flag('--burst', '8')), virtualClock: true });
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
