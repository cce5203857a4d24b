// Benchmark results: a table for people, a JSON file for machines.
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem, release } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface Row {
  bench: string;
  metric: string;
  value: number;
  unit: string;
  target?: string;
  note?: string;
}

/** What `npm run bench` writes: when, on what machine, and the rows. */
export interface Results {
  when: string;
  machine: Record<string, unknown>;
  rows: Row[];
}

/** When `why` says a bench cannot run here, records a skipped row with the reason; true then. */
export function skipped(rows: Row[], bench: string, why: string | null, metric = 'skipped'): boolean {
  if (why) rows.push({ bench, metric, value: NaN, unit: '', note: why });
  return why !== null;
}

export function machine(): Record<string, unknown> {
  // The Node flags the bench ran under: the engine runs in this process for most rows, so its heap flags
  // (package.json start's: --initial-old-space-size, --max-semi-space-size) are part of what was measured.
  const nodeFlags = process.execArgv.filter((a) => a.startsWith('--max-') || a.startsWith('--initial-') || a.startsWith('--expose-'));
  // And glibc's malloc settings (package.json's bench and start give the shipped ones).
  const mallocEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => k.startsWith('MALLOC_')));
  return { cpus: cpus().length, cpuModel: cpus()[0]?.model, memGiB: Math.round(totalmem() / 2 ** 30), kernel: release(), node: process.version, nodeFlags, mallocEnv };
}

export function fmt(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  if (Math.abs(v) >= 1000 || Number.isInteger(v)) return Math.round(v).toLocaleString('en-US');
  return v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2);
}

export function printTable(rows: Row[]): void {
  const cells = rows.map((r) => [r.bench, r.metric, fmt(r.value), r.unit, r.target ?? '', r.note ?? '']);
  const head = ['bench', 'metric', 'value', 'unit', 'target', 'note'];
  const widths = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: string[]): string => `| ${c.map((x, i) => (i === 2 ? x.padStart(widths[i]!) : x.padEnd(widths[i]!))).join(' | ')} |`;
  console.log(line(head));
  console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
  for (const c of cells) console.log(line(c));
}

export function writeResults(name: string, rows: Row[]): string {
  const dir = fileURLToPath(new URL('../results', import.meta.url));
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${name}.json`);
  const results: Results = { when: new Date().toISOString(), machine: machine(), rows };
  writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
  return file;
}
