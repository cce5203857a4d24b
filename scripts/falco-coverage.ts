// How much of a directory of Falco rules files Vigil runs: each file's rules
// loaded, disabled (and of those, how many would run if enabled), skipped,
// and why each skipped one is, grouped; the same for all files together.
//
//   npx tsx scripts/falco-coverage.ts DIR [--json] [--rules] [--label TEXT]
//
// --rules adds each rule that does not run, by name, to the JSON (left out
// by default: the result kept in bench/results/ holds Vigil's numbers and
// reasons only, no text of the files measured).
//
// The files (*.yaml, *.yml in DIR) load together as one rule set, as Falco
// loads several -r files: falco_rules.yaml first, then the others by name
// (incubating and sandbox rules use the stable file's macros). Exit 1 when
// a file has an error (the report still prints). Falco's incubating and
// sandbox rulesets are not in this repository (only material under
// /work/shared may be test data); point DIR at a checkout of
// falcosecurity/rules' rules/ directory to measure them.
import { readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { problemText } from '../src/detect/rules/problems.js';
import { buildRuleSet, type LoadReport } from '../src/detect/rules/ruleset.js';

type Defined = LoadReport['defined'][number];

export interface FileCoverage {
  file: string;
  rules: number;
  /** Enabled and running. */
  loaded: number;
  /** Disabled in the file, and of those the ones that would run if enabled. */
  disabled: number;
  wouldRun: number;
  /** Enabled and skipped (a field or event type Vigil lacks, an empty template list). */
  skipped: number;
  /** Enabled and not compiling. */
  errors: number;
  /** loaded + wouldRun, and its share of rules (percent, one decimal, rounded down). */
  runs: number;
  percent: number;
  /** Each reason a rule does not run, how many rules it stops; a disabled rule's marked [disabled]. */
  reasons: { reason: string; rules: number }[];
  /** The rules that do not run, each with its reason (with --rules). */
  notRunning?: { rule: string; reason: string; enabled: boolean }[];
}

export interface Coverage {
  label: string | null;
  files: FileCoverage[];
  total: FileCoverage;
  errors: string[];
}

export function coverageOf(name: string, defs: readonly Defined[]): FileCoverage {
  const enabled = defs.filter((d) => d.enabled);
  const loaded = enabled.filter((d) => d.skipped === null).length;
  const errors = enabled.filter((d) => d.skipped?.startsWith('error:')).length;
  const wouldRun = defs.filter((d) => !d.enabled && d.skipped === null).length;
  const runs = loaded + wouldRun;
  const counts = new Map<string, number>();
  const notRunning: FileCoverage['notRunning'] = [];
  for (const d of defs) {
    if (d.skipped === null) continue;
    const reason = d.enabled ? d.skipped : `${d.skipped} [disabled]`;
    counts.set(reason, (counts.get(reason) ?? 0) + 1);
    notRunning.push({ rule: d.name, reason: d.skipped, enabled: d.enabled });
  }
  return {
    file: name,
    rules: defs.length,
    loaded,
    disabled: defs.length - enabled.length,
    wouldRun,
    skipped: enabled.length - loaded - errors,
    errors,
    runs,
    percent: defs.length === 0 ? 100 : Math.floor((1000 * runs) / defs.length) / 10,
    reasons: [...counts].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).map(([reason, rules]) => ({ reason, rules })),
    notRunning,
  };
}

/** The rules files of a directory, in the order Falco's own are loaded. */
export function ruleFiles(dir: string): string[] {
  const names = readdirSync(dir).filter((n) => /\.ya?ml$/.test(n) && statSync(join(dir, n)).isFile());
  const rank = (n: string): number => (n === 'falco_rules.yaml' ? 0 : 1);
  return names.sort((a, b) => rank(a) - rank(b) || a.localeCompare(b)).map((n) => resolve(dir, n));
}

export function measure(dir: string, label: string | null = null): Coverage {
  const files = ruleFiles(dir);
  if (files.length === 0) throw new Error(`${dir}: no .yaml rules files`);
  const r = buildRuleSet(files).report;
  const base = (f: string): string => f.slice(f.lastIndexOf('/') + 1);
  return {
    label,
    files: files.map((f) => coverageOf(base(f), r.defined.filter((d) => resolve(d.file) === f))),
    total: coverageOf('all files', r.defined),
    errors: r.errors.map((e) => problemText(e)),
  };
}

function text(c: Coverage): string {
  let out = c.label ? `${c.label}\n` : '';
  for (const f of [...c.files, c.total]) {
    out += `${f.file}: ${f.rules} rules: ${f.loaded} loaded, ${f.skipped} skipped, ${f.disabled} disabled (${f.wouldRun} would run if enabled)`;
    out += `${f.errors > 0 ? `, ${f.errors} with errors` : ''}; ${f.runs} of ${f.rules} run or would (${f.percent}%)\n`;
    for (const r of f.reasons) out += `  ${r.rules}: ${r.reason}\n`;
  }
  for (const e of c.errors) out += `${e}\n`;
  return out;
}

function main(argv: string[]): number {
  const json = argv.includes('--json');
  const rules = argv.includes('--rules');
  const li = argv.indexOf('--label');
  const label = li >= 0 ? (argv[li + 1] ?? null) : null;
  const dir = argv.filter((a, i) => !a.startsWith('--') && !(li >= 0 && i === li + 1))[0];
  if (!dir) {
    process.stderr.write('usage: npx tsx scripts/falco-coverage.ts DIR [--json] [--rules] [--label TEXT]\n');
    return 2;
  }
  const c = measure(dir, label);
  if (!rules) for (const f of [...c.files, c.total]) delete f.notRunning;
  process.stdout.write(json ? `${JSON.stringify(c, null, 2)}\n` : text(c));
  return c.errors.length > 0 ? 1 : 0;
}

if (import.meta.url === `file://${process.argv[1] ? resolve(process.argv[1]) : ''}`) process.exitCode = main(process.argv.slice(2));
