// Falco's stable ruleset (test/fixtures/falco/falco_rules.yaml from
// falcosecurity/rules, Apache-2.0; see NOTICE there) loads without an
// error, next to Vigil's own rules file that uses each language feature the
// incubating and sandbox rulesets need (those two files are not test data:
// only material under /work/shared may be; scripts/falco-coverage.ts
// measures them where they are at hand). A rule counts as running when it
// loads (or, disabled, would load if enabled); every other one names why,
// and the reason is one that holds on any kernel: a field whose data the
// probe does not send, an event type Vigil does not observe, a list left
// empty as a template. The floor may only go up as Vigil gains fields and
// event types.
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { buildRuleSet, builtinFiles } from '../../../src/detect/rules/ruleset.js';

const STABLE = fileURLToPath(new URL('../../fixtures/falco/falco_rules.yaml', import.meta.url));
const FEATURES = fileURLToPath(new URL('../../fixtures/rules/falco-features.yaml', import.meta.url));
const FILES = [STABLE, FEATURES];

/** Rules defined in each file, and how many of them must run (or would, if enabled). */
const FLOORS: [file: string, total: number, runs: number][] = [
  [STABLE, 25, 25],
  [FEATURES, 14, 13],
];

/** The reasons a rule of these files may be skipped for. */
const REASONS = [
  /^field '[a-z0-9_.]+' is not available in Vigil: [a-z].+$/,
  /^Vigil does not observe event types? [a-z0-9_, ]+(; also .+)?$/,
  /^its condition cannot match while the lists? '[a-z0-9_]+'.* empty \(a template: fill (it|them) to use the rule\)$/,
];

describe("Falco's stable ruleset and Vigil's file of Falco features", () => {
  const set = buildRuleSet(FILES);
  const r = set.report;

  it('load together without an error', () => {
    expect(r.errors).toEqual([]);
    expect(r.total).toBe(39);
    expect(r.loaded + r.skipped.length + r.disabled).toBe(r.total);
    // Its container exceptions (container.image.repository in (…)) all apply.
    expect(r.warnings.filter((w) => /exception using it is not applied/.test(w.message)).map((w) => w.message)).toEqual([]);
  });

  for (const [file, total, floor] of FLOORS) {
    const name = file.slice(file.lastIndexOf('/') + 1);
    it(`${name}: at least ${floor} of its ${total} rules run (or would, if enabled)`, () => {
      const defs = r.defined.filter((d) => d.file === file);
      expect(defs).toHaveLength(total);
      expect(defs.filter((d) => d.skipped === null).length).toBeGreaterThanOrEqual(floor);
    });
  }

  it('skip only for a reason that names what is missing, each enabled skip with one warning', () => {
    for (const d of r.defined) {
      if (d.skipped === null) continue;
      expect(REASONS.some((re) => re.test(d.skipped!)), `${d.name}: ${d.skipped}`).toBe(true);
    }
    for (const s of r.skipped) expect(r.warnings.filter((w) => w.item === s.rule && /skipped/.test(w.message))).toHaveLength(1);
  });

  it('run the rules that matter most for containers', () => {
    const names = set.rules.map((x) => x.name);
    for (const n of [
      'Run shell untrusted', 'Read sensitive file untrusted', 'Netcat Remote Code Execution in Container', 'Redirect STDOUT/STDIN to Network Connection in Container',
      'PTRACE attached to process', 'Fileless execution via memfd_create', 'Clear Log Activities', 'Contact K8S API Server From Container',
    ]) {
      expect(names).toContain(n);
    }
  });

  it('resolve the domain names their rules compare addresses with', () => {
    expect(set.dnsNames).toContain('kubernetes.default.svc.cluster.local');
    expect(set.dnsNames).toContain('c2.feature.example');
  });

  it('load next to the built-in rules without either changing the other', () => {
    const both = buildRuleSet([...builtinFiles(), ...FILES]);
    const builtin = buildRuleSet(builtinFiles());
    expect(both.report.errors).toEqual([]);
    expect(both.report.loaded).toBe(builtin.report.loaded + r.loaded);
  });
});
