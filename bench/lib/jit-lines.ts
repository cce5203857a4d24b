// One optimised function's instructions, counted where they are: the
// counted window's costs by instruction address (callgrind --dump-instr=yes)
// joined to the code V8 printed for that function in the same process (node
// --print-opt-code --print-opt-code-filter=NAME --code-comments). It splits
// a function's instructions an event into its straight-line stretches run
// once an event (a prologue, an object literal's stores, locals set and
// copied) and its loops (run once a field), which a function's total does
// not show. Used by detect-count.ts --lines NAME.
import { readFileSync, writeFileSync } from 'node:fs';

/** A run of consecutive instructions executed the same number of times. */
export interface Stretch {
  /** Offsets in the function's code, first and last instruction. */
  from: number;
  to: number;
  /** Times each ran, per unit (event). */
  times: number;
  instructions: number;
  /** Instructions executed per unit in the stretch. */
  perUnit: number;
}

export interface JitLines {
  codeSize: number;
  stackSlots: number;
  /** Instructions executed per unit in the function's printed code. */
  perUnit: number;
  stretches: Stretch[];
  /** The printed code, each instruction preceded by its executions per unit. */
  annotated: string;
}

/**
 * Node's flags that print NAME's optimised code, with V8's comments, into
 * `file`: V8 opens and closes it around each function it prints. On stdout
 * the code went through C's buffer, and under valgrind a run's code was now
 * and then missing from it ("no optimised code printed").
 */
export function printCodeFlags(name: string, file: string): string[] {
  return ['--print-opt-code', `--print-opt-code-filter=${name}`, '--code-comments', '--redirect-code-traces', `--redirect-code-traces-to=${file}`];
}

/**
 * `printed`: what printCodeFlags(name, file) wrote to its file (the last code printed
 * for `name` is taken: the one that ran last); `dump`: the counted window's
 * callgrind dump with --dump-instr=yes; `units`: events in the window.
 */
export function jitLines(dump: string, printed: string, name: string, units: number): JitLines {
  const lines = printed.split('\n');
  const at = lines.lastIndexOf(`name = ${name}`);
  if (at < 0) throw new Error(`no optimised code printed for ${name}: was it optimised (and named so) in this run?`);
  let i = at;
  let stackSlots = 0;
  while (i < lines.length && !lines[i]!.startsWith('Instructions (size')) {
    const m = /^stack_slots = (\d+)/.exec(lines[i]!);
    if (m) stackSlots = Number(m[1]);
    i++;
  }
  const codeSize = Number(/size = (\d+)/.exec(lines[i] ?? '')?.[1] ?? NaN);
  if (!Number.isFinite(codeSize)) throw new Error(`the code printed for ${name} has no instructions`);
  const code: { addr: number; text: string }[] = [];
  for (i++; i < lines.length && lines[i]!.trim() !== ''; i++) {
    const m = /^0x([0-9a-f]+)\s/.exec(lines[i]!);
    code.push({ addr: m ? Number.parseInt(m[1]!, 16) : -1, text: lines[i]! });
  }
  const start = code.find((c) => c.addr >= 0)?.addr ?? 0;
  const cost = instructionCosts(dump, start, start + codeSize);
  let total = 0;
  for (const c of cost.values()) total += c;
  // Stretches: consecutive instructions that ran, each as often as the first (within 5%).
  const stretches: Stretch[] = [];
  let cur: Stretch | null = null;
  for (const c of code) {
    const n = c.addr >= 0 ? (cost.get(c.addr) ?? 0) / units : 0;
    if (n === 0) continue;
    const off = c.addr - start;
    if (cur && Math.abs(n - cur.times) <= 0.05 * cur.times) {
      cur.to = off;
      cur.instructions++;
      cur.perUnit += n;
    } else {
      if (cur) stretches.push(cur);
      cur = { from: off, to: off, times: n, instructions: 1, perUnit: n };
    }
  }
  if (cur) stretches.push(cur);
  const annotated = code.map((c) => `${c.addr >= 0 ? ((cost.get(c.addr) ?? 0) / units).toFixed(2).padStart(8) : ' '.repeat(8)} ${c.text}`).join('\n');
  return { codeSize, stackSlots, perUnit: total / units, stretches, annotated };
}

/**
 * Self cost (the first event column) by instruction address in [from, to),
 * from a callgrind dump written with --dump-instr=yes. Positions are
 * absolute (0x...), relative (+n, -n) or the same (*); a call's line is
 * followed by the call's inclusive cost, which is not the caller's own.
 */
function instructionCosts(dump: string, from: number, to: number): Map<number, number> {
  const out = new Map<number, number>();
  let addr = 0;
  let callCost = false;
  for (const line of readFileSync(dump, 'utf8').split('\n')) {
    const c = line.charCodeAt(0);
    // 0x, +, -, *: a cost line; anything else is a name or a header.
    if (!(c === 0x30 || c === 0x2b || c === 0x2d || c === 0x2a)) {
      if (line.startsWith('calls=')) callCost = true;
      continue;
    }
    const parts = line.split(' ');
    const p = parts[0]!;
    if (p.startsWith('0x')) addr = Number.parseInt(p, 16);
    else if (c === 0x2b) addr += Number(p.slice(1));
    else if (c === 0x2d) addr -= Number(p.slice(1));
    if (callCost) {
      callCost = false;
      continue;
    }
    if (addr >= from && addr < to && parts.length >= 3) out.set(addr, (out.get(addr) ?? 0) + Number(parts[2]));
  }
  return out;
}

/**
 * --lines NAME (detect-count.ts, build-count.ts): NAME's instructions per
 * unit by where they are in its optimised code, the stretches of `min` or
 * more printed, the annotated code written to `file`.
 */
export function showLines(dump: string, printed: string, name: string, units: number, unit: string, min: number, file: string): void {
  const j = jitLines(dump, printed, name, units);
  writeFileSync(file, `${j.annotated}\n`);
  console.log(`  ${name}: ${j.perUnit.toFixed(1)} instructions per ${unit} in its optimised code (${j.codeSize} bytes, ${j.stackSlots} stack slots); stretches of ${min} or more per ${unit} (offsets in its code):`);
  for (const s of j.stretches) {
    if (s.perUnit < min) continue;
    console.log(`    +${s.from.toString(16).padStart(5, '0')}..+${s.to.toString(16).padStart(5, '0')}  ${s.instructions.toString().padStart(4)} instructions, each ${s.times.toFixed(2)} times per ${unit}: ${s.perUnit.toFixed(1)}`);
  }
  console.log(`  its code, each instruction with its executions per ${unit}: ${file}`);
}
