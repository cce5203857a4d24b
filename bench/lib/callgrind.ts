// What the counting benches (detect-count.ts, message-count.ts) share: their
// command line (named flags, then the trees to compare), and one counted run
// of a child under callgrind whose window the child marks with getpriority(2).
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';

/** A bench's arguments: `--name value` flags (those in `named`), bare `--switch`es, and the rest trees. */
export function countArgs(args: readonly string[], named: ReadonlySet<string>, defaultTree: string): {
  flag: (name: string, dflt: string) => string;
  trees: string[];
} {
  const flag = (name: string, dflt: string): string => {
    const i = args.indexOf(name);
    return i >= 0 ? args[i + 1]! : dflt;
  };
  const trees: string[] = [];
  for (let i = 0; i < args.length; i++) {
    if (named.has(args[i]!)) i++;
    else if (!args[i]!.startsWith('--')) trees.push(resolve(args[i]!));
  }
  if (!trees.length) trees.push(resolve(defaultTree));
  return { flag, trees };
}

/**
 * One run of `node NODE_ARGS...` under callgrind, instrumented from when the
 * child turns it on (callgrind_control -i on) and dumped at each of its
 * getpriority(2) calls: cg.PID.1 is up to the first call, .2 the counted
 * window, the rest after. Returns the child's last stdout line (its JSON
 * summary) and the counted window's dump file; throws naming the run on any
 * failure.
 */
export function countedRun(what: string, dir: string, nodeArgs: readonly string[], env: NodeJS.ProcessEnv, cwd: string, cacheSim = false, byInstruction = false): {
  summary: string;
  dump: string;
} {
  const res = spawnSync('valgrind', [
    '--tool=callgrind', '--smc-check=all-non-file', '--instr-atstart=no', '--dump-before=getpriority', `--callgrind-out-file=${dir}/cg.%p`,
    ...(cacheSim ? ['--cache-sim=yes'] : []),
    // Costs by instruction address, not only by function (jit-lines.ts joins them to V8's printed code).
    ...(byInstruction ? ['--dump-instr=yes'] : []),
    process.execPath, ...nodeArgs,
  ], { env, encoding: 'utf8', cwd, maxBuffer: 1 << 28 });
  if (res.status !== 0) throw new Error(`${what}: exit ${res.status}\n${res.stderr.slice(-3000)}`);
  const file = readdirSync(dir).find((f) => f.endsWith('.2'));
  if (!file) throw new Error(`${what}: no dump of the counted window in ${dir}`);
  return { summary: res.stdout.trim().split('\n').at(-1)!, dump: join(dir, file) };
}

/** A dump's `totals:` line, by its `events:` names. */
export function dumpTotals(dump: string): Record<string, number> {
  const text = readFileSync(dump, 'utf8');
  const events = text.match(/^events: (.*)$/m)![1]!.split(' ');
  const totals = text.match(/^totals: (.*)$/m)![1]!.split(' ').map(Number);
  return Object.fromEntries(events.map((ev, i) => [ev, totals[i]!]));
}

/**
 * A counted window's costliest functions, per `unit` (event, message); JavaScript ones named from node's perf map
 * (node --perf-basic-prof: /tmp/perf-PID.map, the code at an address last; dropPerfMap after). Self cost by default;
 * `inclusive`: with what each calls (a JavaScript function's callees counted from each of its entry points).
 * With the cache simulated, each function's L1 and last-level data misses per unit too: where the misses are.
 */
export function topFunctions(dump: string, units: number, unit: string, n: number, cache: boolean, inclusive = false): void {
  const pid = /cg\.(\d+)\.2$/.exec(dump)![1]!;
  const mapFile = `/tmp/perf-${pid}.map`;
  const code: [start: number, end: number, name: string][] = [];
  for (const line of readFileSync(mapFile, 'utf8').split('\n')) {
    const m = /^([0-9a-f]+) ([0-9a-f]+) (.*)$/.exec(line);
    if (m) code.push([Number.parseInt(m[1]!, 16), Number.parseInt(m[1]!, 16) + Number.parseInt(m[2]!, 16), m[3]!]);
  }
  // One column per event kind, in the order asked for: Ir, then (with the cache) the data misses by level.
  const kinds = cache ? ['Ir', 'D1mr', 'D1mw', 'DLmr', 'DLmw'] : ['Ir'];
  const out = spawnSync('callgrind_annotate', [`--inclusive=${inclusive ? 'yes' : 'no'}`, '--threshold=100', `--show=${kinds.join(',')}`, `--sort=Ir`, dump], { encoding: 'utf8', maxBuffer: 1 << 28 }).stdout;
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
    // Inclusive: one JavaScript function entered at several addresses is listed once, by its costliest entry
    // (adding them up would count a call from one entry into another twice).
    vals.forEach((v, i) => (sum[i] = inclusive ? Math.max(sum[i]!, v) : sum[i]! + v));
  }
  const print = (rows: [string, number[]][]): void => {
    for (const [name, v] of rows) {
      const ir = (v[0]! / units).toFixed(0).padStart(7);
      const miss = cache ? ` ${((v[1]! + v[2]!) / units).toFixed(2).padStart(9)} ${((v[3]! + v[4]!) / units).toFixed(3).padStart(9)}` : '';
      console.log(`  ${ir}${miss} ${name.slice(0, 140)}`);
    }
  };
  console.log(`  ${inclusive ? 'inclusive' : 'self'}: Ir/${unit}${cache ? `, D1 misses/${unit}, LL misses/${unit}` : ''}, function`);
  print([...cost].sort((x, y) => y[1][0]! - x[1][0]!).slice(0, n));
  if (!cache) return;
  console.log('  by L1 data misses:');
  print([...cost].sort((x, y) => y[1][1]! + y[1][2]! - x[1][1]! - x[1][2]!).slice(0, n));
}

/** The perf map of the run a dump is from (topFunctions' names): removed. */
export function dropPerfMap(dump: string): void {
  rmSync(`/tmp/perf-${/cg\.(\d+)\.2$/.exec(dump)![1]!}.map`, { force: true });
}
