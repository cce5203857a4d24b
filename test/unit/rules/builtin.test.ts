// The built-in ruleset: loads cleanly, and every rule carries MITRE ATT&CK
// technique ids and a tactic, as Falco's rules do.
import { describe, expect, it } from 'vitest';
import { buildRuleSet, builtinFiles } from '../../../src/detect/rules/ruleset.js';

describe('built-in rules', () => {
  const set = buildRuleSet(builtinFiles());

  it('load without errors or warnings, and all of them run', () => {
    expect(set.report.errors).toEqual([]);
    expect(set.report.warnings).toEqual([]);
    expect(set.report.skipped).toEqual([]);
    expect(set.report.loaded).toBeGreaterThanOrEqual(30);
  });

  it('tag every rule with ATT&CK technique ids and a mitre_ tactic', () => {
    for (const r of set.rules) {
      expect(r.tags.filter((t) => /^T\d{4}(\.\d{3})?$/.test(t)).length, r.name).toBeGreaterThan(0);
      expect(r.tags.some((t) => /^mitre_[a-z_]+$/.test(t)), r.name).toBe(true);
    }
  });

  it('name only fields Vigil has in their outputs', () => {
    expect(set.report.outputNA).toEqual([]);
  });
});
