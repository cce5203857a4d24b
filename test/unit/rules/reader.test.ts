// The reader: rule files read into items, with errors that name the
// file, line and column, and the values it reads (priorities, durations).
import { describe, expect, it } from 'vitest';
import { parseDuration } from '../../../src/detect/rules/extension-reader.js';
import { parsePriority } from '../../../src/detect/rules/reader.js';
import { buildRuleSet } from '../../../src/detect/rules/ruleset.js';
import { load } from './support.js';

const errorsOf = (text: string, file = '/rules/r.yaml'): string[] =>
  load(text, file).report.errors.map((p) => `${p.line}:${p.col} ${p.message}`);

describe('rule file errors', () => {
  it('names the line and column of a YAML syntax error', () => {
    const errs = errorsOf('- rule: a\n  desc: [unclosed\n');
    expect(errs).toHaveLength(1);
    expect(errs[0]).toMatch(/^\d+:\d+ YAML: /);
  });

  it('names the line and column of a syntax error inside a folded condition', () => {
    const text = [
      '- rule: Folded',           // 1
      '  desc: d',                // 2
      '  condition: >',           // 3
      '    evt.type = execve',    // 4
      '    and proc.name in (sh,', // 5
      '      bash',               // 6
      '    and fd.name = )',      // 7
      '  output: o',
      '  priority: INFO',
    ].join('\n');
    const [p] = load(text, '/rules/folded.yaml').report.errors;
    // The list (sh, bash runs into the 'and' that starts line 7.
    expect(p).toMatchObject({ file: '/rules/folded.yaml', line: 7, col: 5 });
    expect(p!.message).toMatch(/unexpected 'and' in a list, expecting ',' or '\)'/);
  });

  it('points at the column inside a quoted single-line condition', () => {
    const [p] = load('- macro: m\n  condition: "proc.name = a and (b"\n').report.errors;
    // The '(' opened at column 33 is never closed.
    expect(p).toMatchObject({ line: 2, col: 33 });
  });

  it('reports missing keys, bad priorities and bad values with their place', () => {
    expect(errorsOf('- rule: r\n  condition: evt.type = open\n')).toEqual(["1:3 rule 'r': missing 'output', 'priority', 'desc'"]);
    expect(errorsOf('- rule: r\n  desc: d\n  condition: evt.type = open\n  output: o\n  priority: LOUD\n')[0]).toMatch(/^5:13 rule 'r': unknown priority 'LOUD'/);
    expect(errorsOf('- rule: r\n  desc: d\n  condition: fd.sport = http\n  output: o\n  priority: INFO\n')).toEqual([
      "3:25 rule 'r': 'http' is not a number (field fd.sport is numeric)",
    ]);
    expect(errorsOf('- rule: r\n  desc: d\n  condition: proc.name contains\n  output: o\n  priority: INFO\n')[0]).toMatch(/^3:32 condition: expecting a value after 'contains'/);
    expect(errorsOf('- list: l\n  items: x\n')).toEqual(["2:10 list 'l': 'items' must be a list"]);
    expect(errorsOf('- bogus: 1\n')[0]).toMatch(/^1:3 unknown item/);
    expect(errorsOf('rule: not a list\n')[0]).toMatch(/a rules file is a YAML list/);
  });

  it('warns about keys it does not know, without failing', () => {
    const set = load('- rule: r\n  desc: d\n  condition: evt.type = open\n  output: o\n  priority: INFO\n  colour: red\n');
    expect(set.report.errors).toEqual([]);
    expect(set.report.warnings.map((w) => w.message)).toContain("rule 'r': unknown key 'colour' (ignored)");
  });

  it('reports a file it cannot read', () => {
    const set = buildRuleSet(['/nonexistent/vigil-rules.yaml']);
    expect(set.report.errors[0]!.message).toMatch(/cannot read/);
  });
});

describe('values', () => {
  it('reads priorities case-insensitively, INFO as informational', () => {
    expect(parsePriority('WARNING')).toBe('warning');
    expect(parsePriority('Warning')).toBe('warning');
    expect(parsePriority('INFO')).toBe('informational');
    expect(parsePriority('informational')).toBe('informational');
    expect(parsePriority('Critical')).toBe('critical');
    expect(parsePriority('loud')).toBeNull();
    expect(load('- rule: r\n  desc: d\n  condition: evt.type = open\n  output: o\n  priority: notice\n').rules[0]!.priority).toBe('notice');
  });

  it('reads durations', () => {
    expect(parseDuration('10s')).toBe(10_000);
    expect(parseDuration('500ms')).toBe(500);
    expect(parseDuration('5m')).toBe(300_000);
    expect(parseDuration(250)).toBe(250);
    expect(parseDuration('soon')).toBeNull();
  });
});
