// Markdown tables of a kept bench result, for README.md (the rows with a
// target) and bench/README.md (every row). They are generated, never edited
// by hand: each sits between markers naming the result file it came from.
import { readFileSync } from 'node:fs';
import { fmt, type Results, type Row } from './report.js';

export const BEGIN = '<!-- bench table';
export const END = '<!-- end of bench table -->';

function cell(s: string): string {
  return s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

function value(r: Row): string {
  if (!Number.isFinite(r.value)) return r.note ? 'skipped' : '—';
  return r.unit === 'ratio' || r.unit === '' ? fmt(r.value) : `${fmt(r.value)} ${r.unit}`;
}

/**
 * Whether a row meets its target, where the target says it in a form a
 * machine can check: "< 5", "≤ 1.03", "≥ 1,000,000 (issue 7)", "0", or
 * "< 1/3 of bpftrace" (against the row that names bpftrace where this one
 * names Vigil, with or without a qualifier after a comma), joined by "and". Null when it cannot tell.
 */
export function meets(r: Row, rows: Row[]): boolean | null {
  if (!r.target || !Number.isFinite(r.value)) return null;
  let verdict = true;
  for (const clause of r.target.replace(/\s*\(.*\)\s*$/, '').split(/\s+and\s+/)) {
    const m = /^([<≤≥>=]?)\s*([\d,.]+)(?:\/(\d+) of (\S+))?$/.exec(clause.trim());
    if (!m) return null;
    let bound = Number(m[2]!.replace(/,/g, ''));
    if (m[3]) {
      // "…: Vigil" or "…: Vigil, de-duplication off" against "…: bpftrace".
      const peer = rows.find((o) => o.bench === r.bench && o.metric === r.metric.replace(/Vigil(?:, [^:]*)?$/, m[4]!));
      // A peer measured at or below zero added nothing measurable: no verdict.
      if (!peer || peer === r || !Number.isFinite(peer.value) || peer.value <= 0) return null;
      bound = (peer.value * bound) / Number(m[3]);
    }
    const v = r.value;
    const ok = { '<': v < bound, '≤': v <= bound, '>': v > bound, '≥': v >= bound, '=': v === bound, '': v === bound }[m[1] as '<'];
    verdict &&= ok;
  }
  return verdict;
}

function mark(r: Row, rows: Row[]): string {
  const ok = meets(r, rows);
  return ok === null ? '' : ok ? ' ✓' : ' **not met**';
}

export function describeRun(res: Results): string {
  const m = res.machine as { cpus?: number; cpuModel?: string; memGiB?: number; kernel?: string; node?: string };
  const when = day(res.when);
  return `${when} on ${m.cpus} vCPUs (${m.cpuModel}), ${m.memGiB} GiB, Linux ${m.kernel}, Node ${m.node}`;
}

/** Every row: bench, metric, value, target and whether it is met, note. */
export function fullTable(res: Results): string {
  const lines = ['| bench | metric | value | target | note |', '| --- | --- | --- | --- | --- |'];
  for (const r of res.rows) {
    lines.push(`| ${cell(r.bench)} | ${cell(r.metric)} | ${cell(value(r))} | ${cell((r.target ?? '') + mark(r, res.rows))} | ${cell(r.note ?? '')} |`);
  }
  return lines.join('\n');
}

/** A note up to its first ';' outside parentheses. */
function firstClause(note: string): string {
  let depth = 0;
  for (let i = 0; i < note.length; i++) {
    if (note[i] === '(') depth++;
    else if (note[i] === ')') depth--;
    else if (note[i] === ';' && depth === 0) return note.slice(0, i);
  }
  return note;
}

/** The rows with a target, what a user asks first, each with the first clause of its note. */
export function shortTable(res: Results): string {
  const lines = ['| bench | what | Vigil | target | of note |', '| --- | --- | --- | --- | --- |'];
  for (const r of res.rows) {
    if (!r.target) continue;
    const note = firstClause(r.note ?? '');
    lines.push(`| ${cell(r.bench)} | ${cell(r.metric)} | ${cell(value(r))} | ${cell(r.target + mark(r, res.rows))} | ${cell(note)} |`);
  }
  return lines.join('\n');
}

export function readResults(file: string): Results {
  return JSON.parse(readFileSync(file, 'utf8')) as Results;
}

/** A kept result file (its path relative to the repository) and what it holds. */
export interface Source {
  path: string;
  res: Results;
}

/** The benches a result has rows of, in order. */
const benchesOf = (res: Results): string[] => [...new Set(res.rows.map((r) => r.bench))];

/** "2026-12-05 03:09 UTC" */
const day = (when: string): string => when.replace('T', ' ').replace(/:\d\d\.\d+Z$/, ' UTC');

/**
 * A full run with the rows of later partial runs (`npm run bench -- --only
 * NAME`) in place of its rows of the same benches: a whole bench's rows come
 * from one run, never mixed. Each partial must come from the same machine.
 */
export function merge(sources: Source[]): Results {
  const [base, ...overs] = sources;
  if (!base) throw new Error('no result to show');
  let rows = base.res.rows;
  for (const o of overs) {
    const a = base.res.machine as { cpus?: number; cpuModel?: string };
    const b = o.res.machine as { cpus?: number; cpuModel?: string };
    if (a.cpus !== b.cpus || a.cpuModel !== b.cpuModel) throw new Error(`${o.path}: another machine (${b.cpus} × ${b.cpuModel}) than ${base.path}'s: not the same work`);
    const replaced = new Set(benchesOf(o.res));
    const out: Row[] = [];
    let placed = false;
    for (const r of rows) {
      if (!replaced.has(r.bench)) out.push(r);
      else if (!placed) {
        out.push(...o.res.rows);
        placed = true;
      }
    }
    if (!placed) out.push(...o.res.rows);
    rows = out;
  }
  return { when: base.res.when, machine: base.res.machine, rows };
}

/** The generated block for `sources` (a full run, then partial runs over it), markers included. */
export function block(sources: Source[], table: string): string {
  const [base, ...overs] = sources;
  let about = describeRun(base!.res);
  for (const o of overs) about += `; its ${benchesOf(o.res).join(', ')} rows from a later run of ${day(o.res.when)} (${o.path})`;
  return `${BEGIN}: generated by \`npm run bench:table\` from ${sources.map((x) => x.path).join(' + ')}; do not edit -->\n${about}:\n\n${table}\n${END}`;
}

/** Where the generated block of `text` is, and the result files its marker names (a full run first). */
export function findBlock(text: string): { begin: number; end: number; sources: string[] } {
  const begin = text.indexOf(BEGIN);
  const end = text.indexOf(END);
  if (begin < 0 || end < begin) throw new Error(`no bench table markers (${BEGIN} … ${END})`);
  const named = /from (\S+(?: \+ \S+)*);/.exec(text.slice(begin, text.indexOf('-->', begin)))?.[1];
  if (!named) throw new Error('the bench table marker names no result file');
  return { begin, end: end + END.length, sources: named.split(' + ') };
}

/** `text` with its generated block replaced by `generated`. */
export function withBlock(text: string, generated: string): string {
  const { begin, end } = findBlock(text);
  return text.slice(0, begin) + generated + text.slice(end);
}

/** The documents holding a generated table, and which table each holds. */
export const DOCUMENTS: { file: string; table: (res: Results) => string }[] = [
  { file: 'README.md', table: shortTable },
  { file: 'bench/README.md', table: fullTable },
];
