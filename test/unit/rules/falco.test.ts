// Falco's own stable ruleset (test/fixtures/falco/falco_rules.yaml, Apache-2.0; see NOTICE there)
// loads without errors, and most of its rules run. The figure is a floor:
// it may only go up as Vigil gains fields and event types.
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { buildRuleSet, builtinFiles } from '../../../src/detect/rules/ruleset.js';

const FALCO_RULES = fileURLToPath(new URL('../../fixtures/falco/falco_rules.yaml', import.meta.url));
/** Rules of falco_rules.yaml that must load and run (of 25 in the fixture). */
const LOADED_FLOOR = 20;

describe("Falco's stable ruleset", () => {
  const set = buildRuleSet([FALCO_RULES]);
  const r = set.report;

  it(`loads without errors, and at least ${LOADED_FLOOR} of its rules run`, () => {
    expect(r.errors).toEqual([]);
    expect(r.total).toBe(25);
    expect(r.loaded).toBeGreaterThanOrEqual(LOADED_FLOOR);
    expect(r.loaded + r.skipped.length + r.disabled).toBe(r.total);
    // Its container exceptions (container.image.repository in (…)) all apply.
    expect(r.warnings.filter((w) => /exception using it is not applied/.test(w.message)).map((w) => w.message)).toEqual([]);
  });

  it('skips only for a named field or event type Vigil does not have, each with one warning', () => {
    for (const s of r.skipped) expect(s.detail).toMatch(/^(field '[a-z0-9_.]+' is not available in Vigil|Vigil does not observe event types? [a-z0-9_, ]+)$/);
    for (const s of r.skipped) expect(r.warnings.filter((w) => w.item === s.rule && /skipped/.test(w.message))).toHaveLength(1);
  });

  it('runs the rules that matter most for containers', () => {
    const names = set.rules.map((x) => x.name);
    for (const n of ['Run shell untrusted', 'Read sensitive file untrusted', 'Netcat Remote Code Execution in Container', 'Redirect STDOUT/STDIN to Network Connection in Container', 'PTRACE attached to process', 'Fileless execution via memfd_create', 'Clear Log Activities']) {
      expect(names).toContain(n);
    }
  });

  it('loads next to the built-in rules without either changing the other', () => {
    const both = buildRuleSet([...builtinFiles(), FALCO_RULES]);
    const builtin = buildRuleSet(builtinFiles());
    expect(both.report.errors).toEqual([]);
    expect(both.report.loaded).toBe(builtin.report.loaded + r.loaded);
  });
});
