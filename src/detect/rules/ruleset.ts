// Loading a rule set: the built-in rules and the configured Falco-format
// files, in order (later files may append to or override earlier
// definitions), compiled and routed by event type, with a report of what
// loaded, what was skipped and why.
//
// The stages, each its own file (after Falco's userspace/engine):
//   reader.ts     YAML → items, each with its place (file-reader.ts,
//                 exception-reader.ts, extension-reader.ts)
//   collector.ts  define / append / override / enable, in load order
//   compiler.ts   per rule: resolver.ts (macros, lists), exceptions.ts,
//                 condition-compiler.ts (checks.ts, specialize.ts,
//                 codegen.ts, filters.ts), output.ts
//   router.ts     the index: which rules an event runs, by type and class
// The fields rules read are in fields.ts and its tables fields-*.ts.
import { readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { EVENT_TYPES, type EventType } from '../../model/event.js';
import type { CompiledRule, Skipped } from './compiled.js';
import { compileRules } from './compiler.js';
import type { RuleFile } from './definitions.js';
import { readRules } from './reader.js';
import type { Problem } from './problems.js';
import { buildRoutes, type TypeRoute } from './router.js';
import { BUILTIN_DIR } from './builtin-files.js';

export { Role, type RouteEntry } from './router.js';

export { BUILTIN_DIR, builtinFiles } from './builtin-files.js';

export interface LoadReport {
  files: string[];
  /** Rules defined (after overrides). */
  total: number;
  /**
   * Each defined rule, the file that defined it, and whether it runs:
   * null when it does (or, disabled, would if enabled), else why not.
   */
  defined: { name: string; file: string; enabled: boolean; skipped: string | null }[];
  loaded: number;
  disabled: number;
  skipped: Skipped[];
  /** Skips counted by reason, e.g. "field 'proc.tty' is not available in Vigil": 4. */
  skipReasons: [string, number][];
  /** Output fields Vigil does not have (printed <NA>) and how many loaded rules name them. */
  outputNA: [string, number][];
  errors: Problem[];
  warnings: Problem[];
  /** Rules routed to each event type. */
  routes: Record<EventType, number>;
}

export interface RuleSet {
  rules: CompiledRule[];
  /** What each event runs, by type and class (router.ts). */
  route: Record<EventType, TypeRoute>;
  /** The same routes by type index (model/type-index.ts): what the detector reads per event. */
  byTypeIndex: TypeRoute[];
  needsStarts: boolean;
  /** Domain names the rules compare addresses with: resolved while the set runs (dns-names.ts). */
  dnsNames: string[];
  report: LoadReport;
}

export function readRuleFiles(paths: readonly string[]): { files: RuleFile[]; problems: Problem[] } {
  const files: RuleFile[] = [];
  const problems: Problem[] = [];
  for (const file of paths) {
    try {
      files.push({ file, text: readFileSync(file, 'utf8') });
    } catch (err) {
      problems.push({ severity: 'error', file, line: 0, col: 0, message: `cannot read: ${(err as Error).message}` });
    }
  }
  return { files, problems };
}

/** Loads and compiles rule files; errors are in the report (report.errors), never thrown. */
export function buildRuleSet(paths: readonly string[], texts?: readonly RuleFile[]): RuleSet {
  const { files, problems: readProblems } = texts ? { files: [...texts], problems: [] } : readRuleFiles(paths);
  const defs = readRules(files);
  const result = compileRules(defs);
  const problems = [...readProblems, ...result.problems];
  // Rules from Falco-format files also judge an open by the name as written, as Falco names it
  // (falco-names.ts); the built-in rules are written for the file opened.
  const route = buildRoutes(result.rules, (r) => r.readsOpenPath && dirname(r.at.file) !== BUILTIN_DIR);
  /** Rules (and sequences' earlier steps) routed to each type. */
  const routed = (t: EventType): number => result.rules.reduce((n, r) => n + (r.condition.byType.has(t) ? 1 : 0) + (r.sequence?.after.byType.has(t) ? 1 : 0), 0);
  const running = new Set(result.rules.map((r) => r.name));
  const skippedWhy = new Map(result.skipped.map((s) => [s.rule, s.detail]));
  const reasons = new Map<string, number>();
  for (const s of result.skipped) reasons.set(s.detail, (reasons.get(s.detail) ?? 0) + 1);
  const na = new Map<string, number>();
  for (const r of result.rules) for (const f of r.output.unsupported) na.set(f, (na.get(f) ?? 0) + 1);
  const byCount = <K>(m: Map<K, number>): [K, number][] => [...m].sort((a, b) => b[1] - a[1]);
  return {
    rules: result.rules,
    route,
    byTypeIndex: EVENT_TYPES.map((t) => route[t]),
    needsStarts: result.rules.some((r) => r.needsStarts),
    dnsNames: [...new Set(result.rules.flatMap((r) => r.dnsNames))],
    report: {
      files: files.map((f) => f.file),
      total: result.total,
      defined: [...defs.rules.values()].map((d) => ({
        name: d.name,
        file: d.at.file,
        enabled: d.enabled,
        skipped: d.enabled ? (running.has(d.name) ? null : (skippedWhy.get(d.name) ?? 'error: it does not compile')) : (result.disabledStatus.get(d.name) ?? null),
      })),
      loaded: result.rules.length,
      disabled: result.disabled.length,
      skipped: result.skipped,
      skipReasons: byCount(reasons),
      outputNA: byCount(na),
      errors: problems.filter((p) => p.severity === 'error'),
      warnings: problems.filter((p) => p.severity === 'warning'),
      routes: Object.fromEntries(EVENT_TYPES.map((t) => [t, routed(t)])) as Record<EventType, number>,
    },
  };
}
