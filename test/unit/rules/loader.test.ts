// Rule files: definitions, overrides in load order, and errors that name
// the file, line and column.
import { describe, expect, it } from 'vitest';
import { parseDuration } from '../../../src/detect/rules/extension-reader.js';
import { parsePriority } from '../../../src/detect/rules/reader.js';
import { buildRuleSet } from '../../../src/detect/rules/ruleset.js';
import { load, matches, World } from './support.js';

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

  it('reports undefined macros and lists where they are used', () => {
    const text = '- rule: r\n  desc: d\n  condition: evt.type = open and not my_macro\n  output: o\n  priority: INFO\n';
    expect(errorsOf(text)).toEqual(["3:38 rule 'r': undefined macro 'my_macro'"]);
    const t2 = '- rule: r\n  desc: d\n  condition: evt.type = open and proc.name in nope\n  output: o\n  priority: INFO\n';
    expect(errorsOf(t2)).toEqual(["3:47 rule 'r': undefined list 'nope'"]);
  });

  it('reports a macro that uses itself', () => {
    const text = '- macro: a\n  condition: b\n- macro: b\n  condition: proc.name = x or a\n- rule: r\n  desc: d\n  condition: evt.type = open and a\n  output: o\n  priority: INFO\n';
    expect(errorsOf(text)[0]).toMatch(/macro 'a' refers to itself \(a → b → a\)/);
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

  it('reports an append to something not defined before', () => {
    expect(errorsOf('- list: l\n  items: [a]\n  append: true\n')).toEqual(["1:3 list 'l': append to a list that is not defined before it"]);
    expect(errorsOf('- rule: r\n  condition: and x\n  append: true\n')).toEqual(["1:3 rule 'r': append to a rule that is not defined before it"]);
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

describe('definitions and overrides', () => {
  const base = `
- list: shells
  items: [bash, sh]
- macro: shell
  condition: proc.name in (shells)
- rule: Shell
  desc: a shell
  condition: evt.type = execve and shell
  output: "shell %proc.name"
  priority: notice
  tags: [a]
`;

  it('reads priorities case-insensitively, INFO as informational', () => {
    expect(parsePriority('WARNING')).toBe('warning');
    expect(parsePriority('Warning')).toBe('warning');
    expect(parsePriority('INFO')).toBe('informational');
    expect(parsePriority('informational')).toBe('informational');
    expect(parsePriority('Critical')).toBe('critical');
    expect(parsePriority('loud')).toBeNull();
    expect(load(base).rules[0]!.priority).toBe('notice');
  });

  it('reads durations', () => {
    expect(parseDuration('10s')).toBe(10_000);
    expect(parseDuration('500ms')).toBe(500);
    expect(parseDuration('5m')).toBe(300_000);
    expect(parseDuration(250)).toBe(250);
    expect(parseDuration('soon')).toBeNull();
  });

  it('appends to lists (legacy append and override), across files in order', () => {
    const w = new World();
    const later = { file: '/rules/local.yaml', text: '- list: shells\n  items: [zsh]\n  append: true\n- list: shells\n  items: [fish]\n  override:\n    items: append\n' };
    const set = buildRuleSet([], [{ file: '/rules/base.yaml', text: base }, later]);
    expect(set.report.errors).toEqual([]);
    for (const name of ['bash', 'zsh', 'fish']) expect(matches(set, w.exec(200, 1, `/bin/${name}`, [name]), w.x), name).toBe(true);
    expect(matches(set, w.exec(201, 1, '/bin/ls', ['ls']), w.x)).toBe(false);
  });

  it('replaces lists and macros, and appends to macro and rule conditions as text', () => {
    const w = new World();
    const set = load(`${base}
- list: shells
  items: [ksh]
  override:
    items: replace
- macro: shell
  condition: or proc.name = dash
  append: true
- rule: Shell
  condition: and user.uid = 0
  append: true
`);
    expect(set.report.errors).toEqual([]);
    // (execve and (ksh or dash)) and uid 0
    expect(matches(set, w.exec(200, 1, '/bin/ksh', ['ksh'], undefined, { uid: 0 }), w.x)).toBe(true);
    expect(matches(set, w.exec(201, 1, '/bin/dash', ['dash'], undefined, { uid: 0 }), w.x)).toBe(true);
    expect(matches(set, w.exec(202, 1, '/bin/bash', ['bash'], undefined, { uid: 0 }), w.x)).toBe(false);
    expect(matches(set, w.exec(203, 1, '/bin/ksh', ['ksh'], undefined, { uid: 1000 }), w.x)).toBe(false);
  });

  it('overrides a rule key by key', () => {
    const set = load(`${base}
- rule: Shell
  output: "(changed) %proc.name"
  priority: CRITICAL
  tags: [b]
  override:
    output: replace
    priority: replace
    tags: append
`);
    expect(set.report.errors).toEqual([]);
    const r = set.rules[0]!;
    expect(r.priority).toBe('critical');
    expect(r.tags).toEqual(['a', 'b']);
    expect(r.output.text).toBe('(changed) %proc.name');
  });

  it('turns a rule off and on with enabled-only entries, and counts disabled rules', () => {
    const off = load(`${base}\n- rule: Shell\n  enabled: false\n`);
    expect(off.rules).toHaveLength(0);
    expect(off.report.disabled).toBe(1);
    const on = load(`${base}\n- rule: Shell\n  enabled: false\n- rule: Shell\n  enabled: true\n`);
    expect(on.rules).toHaveLength(1);
  });

  it('replaces a rule defined again under the same name', () => {
    const set = load(`${base}\n- rule: Shell\n  desc: d2\n  condition: evt.type = openat\n  output: o2\n  priority: ERROR\n`);
    expect(set.rules).toHaveLength(1);
    expect([...set.rules[0]!.condition.byType.keys()]).toEqual(['open']);
  });

  it('applies exceptions: tuples of fields, a single field with its values, appended values', () => {
    const w = new World();
    const set = load(`${base}
- rule: Shell
  exceptions:
    - name: known
      fields: [proc.name, proc.pname]
      comps: [=, in]
      values:
        - [bash, [cron, systemd]]
    - name: by_uid
      fields: user.uid
      values: [33]
  override:
    exceptions: append
- rule: Shell
  exceptions:
    - name: known
      values:
        - [sh, [supervisord]]
  override:
    exceptions: append
`);
    expect(set.report.errors).toEqual([]);
    w.exec(50, 1, '/usr/sbin/cron', ['cron']);
    w.exec(51, 1, '/usr/bin/supervisord', ['supervisord']);
    w.exec(52, 1, '/usr/bin/node', ['node']);
    expect(matches(set, w.exec(60, 50, '/bin/bash', ['bash']), w.x), 'bash under cron: excepted').toBe(false);
    expect(matches(set, w.exec(61, 50, '/bin/sh', ['sh']), w.x), 'sh under cron: not excepted').toBe(true);
    expect(matches(set, w.exec(62, 51, '/bin/sh', ['sh']), w.x), 'sh under supervisord: appended value').toBe(false);
    expect(matches(set, w.exec(63, 52, '/bin/bash', ['bash']), w.x), 'bash under node').toBe(true);
    expect(matches(set, w.exec(64, 52, '/bin/bash', ['bash'], undefined, { uid: 33 }), w.x), 'uid 33 excepted').toBe(false);
  });

  it('rejects an exception whose values do not fit its fields', () => {
    const errs = errorsOf(`${base}
- rule: Shell
  exceptions:
    - name: bad
      fields: [proc.name, proc.pname]
      values:
        - [bash]
  override:
    exceptions: append
`);
    expect(errs[0]).toMatch(/exception 'bad': a value has 1 item\(s\) but there are 2 fields/);
  });

  it('skips rules for other event sources', () => {
    const set = load('- rule: audit\n  desc: d\n  condition: ka.verb = create\n  output: o\n  priority: INFO\n  source: k8s_audit\n');
    expect(set.rules).toHaveLength(0);
    expect(set.report.skipped[0]).toMatchObject({ rule: 'audit', reason: 'other-source' });
  });
});
