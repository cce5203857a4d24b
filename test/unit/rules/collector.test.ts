// The collector: definitions and overrides applied in load order, across
// files, and what an item that changes something not defined before it
// reports.
import { describe, expect, it } from 'vitest';
import { buildRuleSet } from '../../../src/detect/rules/ruleset.js';
import { load, matches, World } from './support.js';

const errorsOf = (text: string, file = '/rules/r.yaml'): string[] =>
  load(text, file).report.errors.map((p) => `${p.line}:${p.col} ${p.message}`);

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

  it('reports an append to something not defined before', () => {
    expect(errorsOf('- list: l\n  items: [a]\n  append: true\n')).toEqual(["1:3 list 'l': append to a list that is not defined before it"]);
    expect(errorsOf('- rule: r\n  condition: and x\n  append: true\n')).toEqual(["1:3 rule 'r': append to a rule that is not defined before it"]);
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

  it('reports an override whose value has the wrong type where it is, and leaves the rule as it was', () => {
    const bad = (key: string, value: string, how = 'replace'): ReturnType<typeof load> =>
      load(`${base}\n- rule: Shell\n  ${key}: ${value}\n  override:\n    ${key}: ${how}\n`);
    for (const [key, how] of [['condition', 'append'], ['condition', 'replace'], ['output', 'append'], ['desc', 'replace'], ['priority', 'replace']] as const) {
      const set = bad(key, '[not, a, string]', how);
      expect(set.report.errors.map((p) => `${p.line}:${p.col} ${p.message}`), key).toEqual([`14:${key.length + 5} rule 'Shell': '${key}' must be a string`]);
      const r = set.rules[0]!;
      expect([r.output.text, r.desc, r.priority], key).toEqual(['shell %proc.name', 'a shell', 'notice']);
      expect([...r.condition.byType.keys()], key).toEqual(['exec']);
    }
    const off = bad('enabled', 'maybe');
    expect(off.report.errors.map((p) => p.message)).toEqual(["rule 'Shell': 'enabled' must be true or false"]);
    expect(off.rules.map((r) => r.name)).toEqual(['Shell']);
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
});
