// `vigil rules check FILE...` and `vigil rules list`: what a rule set
// loads, what it skips and why, without running the engine.
import { resolve } from 'node:path';
import type { Command } from 'commander';
import type { LoadReport } from '../detect/rules/ruleset.js';
import { configOrExit } from './config.js';
import { listingKey, readListing, writeListing, type RuleListing } from './rules-cache.js';

type Defined = LoadReport['defined'][number];

/**
 * One file's counts: rules that load, are skipped, disabled (and of those,
 * how many would run if enabled); the share that runs or would; then the
 * skip reasons grouped, a disabled rule's marked as such.
 */
function fileSummary(name: string, defs: readonly Defined[]): string {
  const enabled = defs.filter((d) => d.enabled);
  const loaded = enabled.filter((d) => d.skipped === null).length;
  const errors = enabled.filter((d) => d.skipped?.startsWith('error:')).length;
  const skipped = enabled.length - loaded - errors;
  const disabled = defs.length - enabled.length;
  const wouldRun = defs.filter((d) => !d.enabled && d.skipped === null).length;
  const runs = loaded + wouldRun;
  const pct = defs.length === 0 ? 100 : Math.floor((1000 * runs) / defs.length) / 10;
  let out = `${name}: ${defs.length} rules: ${loaded} loaded, ${skipped} skipped, ${disabled} disabled`;
  if (disabled > 0) out += ` (${wouldRun} would run if enabled)`;
  if (errors > 0) out += `, ${errors} with errors`;
  out += `; ${runs} of ${defs.length} run or would (${pct}%)\n`;
  const reasons = new Map<string, number>();
  for (const d of defs) {
    if (d.skipped === null || (d.enabled && d.skipped.startsWith('error:'))) continue;
    const why = d.enabled ? d.skipped : `${d.skipped} [disabled]`;
    reasons.set(why, (reasons.get(why) ?? 0) + 1);
  }
  for (const [why, n] of [...reasons].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))) out += `  skipped ${n}: ${why}\n`;
  return out;
}

/** The rule compiler, loaded when a rules command runs. */
async function ruleTools(): Promise<typeof import('../detect/rules/ruleset.js') & typeof import('../detect/rules/problems.js')> {
  const [ruleset, problems] = await Promise.all([import('../detect/rules/ruleset.js'), import('../detect/rules/problems.js')]);
  return { ...ruleset, ...problems };
}

/** What the rule files load, from the cache while they are unchanged (rules-cache.ts), else compiled and cached. */
async function ruleListing(builtin: boolean, files: string[]): Promise<RuleListing> {
  const { builtinFiles } = await import('../detect/rules/builtin-files.js');
  const all = [...(builtin ? builtinFiles() : []), ...files];
  const key = listingKey(all);
  const cached = readListing(key);
  if (cached) return cached;
  const { buildRuleSet, problemText } = await ruleTools();
  const set = buildRuleSet(all);
  const listing: RuleListing = {
    rules: set.rules.map((x) => ({
      name: x.name,
      priority: x.priority,
      types: [...x.condition.byType.keys()],
      tags: x.tags,
      kind: x.threshold ? 'threshold' : x.sequence ? 'sequence' : 'event',
      file: x.at.file,
    })),
    skipped: set.report.skipped.map((s) => ({ rule: s.rule, reason: s.reason, detail: s.detail })),
    errors: set.report.errors.map((e) => problemText(e)),
    loaded: set.report.loaded,
    total: set.report.total,
  };
  writeListing(key, listing);
  return listing;
}

export function registerRulesCommands(program: Command): void {
  const rules = program.command('rules').description('signature rules (Falco format)');

  rules
    .command('check')
    .description('validate rule files: errors (file:line:col), and which rules load, which are skipped and why')
    .argument('<files...>')
    .option('--no-builtin', 'check the files alone, without the built-in rules loaded first')
    .option('-q, --quiet', 'print errors and counts only')
    .action(async (files: string[], o: { builtin: boolean; quiet?: boolean }) => {
      const { buildRuleSet, builtinFiles, problemText } = await ruleTools();
      const set = buildRuleSet([...(o.builtin ? builtinFiles() : []), ...files]);
      const r = set.report;
      const checked = new Set(files.map((f) => resolve(f)));
      const inChecked = (file: string): boolean => checked.has(resolve(file));
      for (const e of r.errors) process.stderr.write(`${problemText(e)}\n`);
      if (!o.quiet) for (const w of r.warnings) if (inChecked(w.file)) process.stdout.write(`${problemText(w)}\n`);
      const byFile = files.map((f) => ({ name: f, defs: r.defined.filter((d) => resolve(d.file) === resolve(f)) }));
      if (files.length > 1) byFile.push({ name: 'all files', defs: r.defined.filter((d) => inChecked(d.file)) });
      for (const { name, defs } of byFile) process.stdout.write(fileSummary(name, defs));
      const na = r.outputNA.filter(([, n]) => n > 0);
      if (!o.quiet && na.length > 0) {
        process.stdout.write(`  output fields Vigil does not have (printed <NA>): ${na.map(([f, n]) => `${f} (${n})`).join(', ')}\n`);
      }
      if (r.errors.length > 0) {
        process.stderr.write(`vigil: ${r.errors.length} error(s): the rules cannot load\n`);
        process.exitCode = 1;
      }
    });

  rules
    .command('list')
    .description('the rules the configuration loads: name, priority, event types, tags')
    .option('-c, --config <file>', 'YAML config file (default: built-in config)')
    .option('--json', 'machine-readable output')
    .action(async (o: { config?: string; json?: boolean }) => {
      const config = await configOrExit(o.config);
      const listing = await ruleListing(config.rules.builtin, config.rules.files);
      for (const e of listing.errors) process.stderr.write(`${e}\n`);
      if (o.json) {
        process.stdout.write(`${JSON.stringify({ rules: listing.rules, skipped: listing.skipped }, null, 2)}\n`);
      } else {
        for (const x of listing.rules) process.stdout.write(`${x.priority.padEnd(13)} ${x.name}  [${x.types.join(',')}] ${x.tags.join(' ')}\n`);
        for (const s of listing.skipped) process.stdout.write(`skipped       ${s.rule}: ${s.detail}\n`);
        process.stdout.write(`${listing.loaded} of ${listing.total} rules loaded\n`);
      }
      if (listing.errors.length > 0) process.exitCode = 1;
    });
}
