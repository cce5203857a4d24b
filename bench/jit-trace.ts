// Diagnostic (not part of `npm run bench`): what V8's optimising compiler did
// in each build of bench/build-profile.ts, from its own trace. Run the
// profile with V8's tracing on, then read the output with this:
//   node --initial-old-space-size=64 --trace-opt --trace-deopt --import tsx bench/build-profile.ts 1 --plain --builds 4 > /tmp/trace.txt
//   node --import tsx bench/jit-trace.ts /tmp/trace.txt [TOP]
// Per section (start-up and the warm-up build, then each measured build and
// what followed it, split at build-profile's "round" and summary lines): TurboFan compiles, the time their
// concurrent phase took on a helper thread (wall time there: a descheduled
// helper's wait counts), deoptimisations by reason, and the functions that
// cost most, with how many times each was compiled in the whole run (a
// function compiled again after a deoptimisation pays the whole compile again).
import { readFileSync } from 'node:fs';

interface Section {
  name: string;
  compiles: number;
  ms: number;
  byFunction: Map<string, number>;
  deopts: Map<string, number>;
}

const [file, topArg] = process.argv.slice(2);
if (!file) {
  console.error('usage: node --import tsx bench/jit-trace.ts TRACE_FILE [TOP]');
  process.exit(2);
}
const top = Number(topArg ?? 8);
const section = (name: string): Section => ({ name, compiles: 0, ms: 0, byFunction: new Map(), deopts: new Map() });
const sections: Section[] = [section('start-up and warm-up build')];
const timesCompiled = new Map<string, number>();
// [completed compiling 0x… <JSFunction NAME (sfi = 0x…)> (target TURBOFAN) [OSR ]- took A, B, C ms]: B is the concurrent phase.
const compiled = /^\[completed compiling \S+ <JSFunction (\S*) \(sfi = (\w+)\)> \(target TURBOFAN\).* took [\d.]+, ([\d.]+), [\d.]+ ms\]/;
const deopt = /^\[bailout \(kind: [\w-]+, reason: ([^)]*)\): begin\. deoptimizing \S+ <JSFunction (\S*) /;
// Optimised code thrown away without a bailout in it: an assumption it made broke (a map changed, objects it held died in a GC).
const invalidated = /^\[marking dependent code \S+ <Code TURBOFAN> \(\S+ <SharedFunctionInfo ?([^>]*)>\) \(opt id \d+\) for deoptimization, reason: (.*)\]/;
for (const line of readFileSync(file, 'utf8').split('\n')) {
  if (line.startsWith('round ')) {
    sections.push(section(line.trim().replace(/:$/, '')));
    continue;
  }
  // build-profile's summary of the build: what follows is between builds (or the engine stopping).
  if (line.startsWith('  main thread ')) {
    sections.push(section(`after ${sections.at(-1)!.name}`));
    continue;
  }
  const s = sections.at(-1)!;
  const c = compiled.exec(line);
  if (c) {
    const name = c[1] || '(anonymous)';
    const key = `${name} ${c[2]}`;
    s.compiles++;
    s.ms += Number(c[3]);
    s.byFunction.set(name, (s.byFunction.get(name) ?? 0) + Number(c[3]));
    timesCompiled.set(key, (timesCompiled.get(key) ?? 0) + 1);
    continue;
  }
  const d = deopt.exec(line);
  const i = d ? null : invalidated.exec(line);
  const k = d ? `${d[2] || '(anonymous)'}: ${d[1]}` : i ? `${i[1] || '(anonymous)'}: ${i[2]}` : null;
  if (k) s.deopts.set(k, (s.deopts.get(k) ?? 0) + 1);
}
const compiledTimes = (name: string): number => Math.max(...[...timesCompiled].filter(([k]) => k.startsWith(`${name} `)).map(([, n]) => n));
for (const s of sections) {
  const deopts = [...s.deopts.values()].reduce((a, b) => a + b, 0);
  console.log(`${s.name}: ${s.compiles} compiles, ${s.ms.toFixed(0)} ms on the compiler thread; ${deopts} deoptimisations`);
  const fns = [...s.byFunction].sort((a, b) => b[1] - a[1]).slice(0, top);
  if (fns.length) console.log(`  costliest: ${fns.map(([n, ms]) => `${n} ${ms.toFixed(1)} ms (compiled ${compiledTimes(n)}× in the run)`).join(', ')}`);
  if (deopts) console.log(`  deoptimised: ${[...s.deopts].sort((a, b) => b[1] - a[1]).slice(0, top).map(([k, n]) => `${k}${n > 1 ? ` ×${n}` : ''}`).join('; ')}`);
}
