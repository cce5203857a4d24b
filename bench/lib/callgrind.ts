// What the counting benches (detect-count.ts, message-count.ts) share: their
// command line (named flags, then the trees to compare), and one counted run
// of a child under callgrind whose window the child marks with getpriority(2).
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
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
export function countedRun(what: string, dir: string, nodeArgs: readonly string[], env: NodeJS.ProcessEnv, cwd: string, cacheSim = false): {
  summary: string;
  dump: string;
} {
  const res = spawnSync('valgrind', [
    '--tool=callgrind', '--smc-check=all-non-file', '--instr-atstart=no', '--dump-before=getpriority', `--callgrind-out-file=${dir}/cg.%p`,
    ...(cacheSim ? ['--cache-sim=yes'] : []),
    process.execPath, ...nodeArgs,
  ], { env, encoding: 'utf8', cwd });
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
