// The compiler: which event types a rule is routed to, and what happens
// to rules Vigil cannot evaluate (skipped, or an exception relaxed).
import { describe, expect, it } from 'vitest';
import { EVENT_TYPES } from '../../../src/model/event.js';
import { compile, load, matches, ruleYaml, World } from './support.js';

const typesOf = (condition: string, prelude = ''): string[] => [...compile(condition, prelude).rules[0]!.condition.byType.keys()];

describe('routing', () => {
  it('routes a rule to the event types its evt.type constraints allow', () => {
    expect(typesOf('evt.type in (open, openat)')).toEqual(['open']);
    expect(typesOf('evt.type = execve or evt.type = connect')).toEqual(['exec', 'connect']);
    expect(typesOf('evt.type in (setuid, setgid, mount)')).toEqual(['setid', 'mount']);
    expect(typesOf('not evt.type in (open, openat, openat2, creat)')).toEqual(EVENT_TYPES.filter((t) => t !== 'open'));
  });

  it('routes by the fields a rule reads when it has no evt.type constraint, and warns once', () => {
    const set = load(ruleYaml('fd.name startswith /etc/'));
    expect([...set.rules[0]!.condition.byType.keys()].sort()).toEqual(['accept', 'bind', 'chmod', 'connect', 'dup', 'link', 'listen', 'mkdir', 'module', 'open', 'rename', 'send', 'unlink'].sort());
    const warnings = set.report.warnings.map((w) => w.message);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/^rule 'Test rule' has no evt.type restriction: it is evaluated on every/);
    expect(typesOf('proc.name = nc')).toEqual([...EVENT_TYPES]);
  });

  it('does not warn when evt.type restricts the rule', () => {
    expect(load(ruleYaml('evt.type = connect and proc.name = nc')).report.warnings).toEqual([]);
  });
});

describe('rules Vigil cannot evaluate', () => {
  it('skips a rule that needs a field Vigil lacks, with one warning naming the field and its place', () => {
    const set = load(ruleYaml('evt.type = execve and proc.sname != 0'));
    expect(set.rules).toHaveLength(0);
    expect(set.report.errors).toEqual([]);
    expect(set.report.skipped).toHaveLength(1);
    expect(set.report.skipped[0]).toMatchObject({ rule: 'Test rule', reason: 'unsupported-field', detail: "field 'proc.sname' is not available in Vigil: the process tree does not know session ids" });
    const w = set.report.warnings;
    expect(w).toHaveLength(1);
    expect(w[0]).toMatchObject({ line: 3, col: 37 });
    expect(w[0]!.message).toBe("rule 'Test rule' skipped: field 'proc.sname' is not available in Vigil: the process tree does not know session ids");
  });

  it('says what a Falco field Vigil lacks needs, where it knows', () => {
    expect(load(ruleYaml('evt.type = execve and fs.path.nameraw contains X')).report.skipped[0]!.detail).toBe("field 'fs.path.nameraw' is not available in Vigil: file events do not carry the path as the caller wrote it, only one path");
    expect(load(ruleYaml('evt.type = execve and proc.nosuch = 1')).report.skipped[0]!.detail).toBe("field 'proc.nosuch' is not available in Vigil");
  });

  it('names every reason a rule on an event type Vigil does not observe has', () => {
    const d = load(ruleYaml('evt.type = recvfrom and evt.buffer contains cafebabe')).report.skipped[0]!;
    expect(d.reason).toBe('unobserved-event-type');
    expect(d.detail).toBe("Vigil does not observe event type recvfrom; also field 'evt.buffer' is not available in Vigil: Vigil does not capture the data of reads and writes");
  });

  it('names the empty list that keeps a template rule from matching', () => {
    const set = load(`- list: my_namespaces\n  items: []\n${ruleYaml('evt.type = connect and k8s.ns.name in (my_namespaces)')}`);
    expect(set.rules).toHaveLength(0);
    expect(set.report.skipped[0]).toMatchObject({ reason: 'never-matches', detail: "its condition cannot match while the list 'my_namespaces' is empty (a template: fill it to use the rule)" });
    // Negated, an empty list leaves the rule able to match: it loads.
    expect(load(`- list: my_namespaces\n  items: []\n${ruleYaml('evt.type = connect and not k8s.ns.name in (my_namespaces)')}`).rules).toHaveLength(1);
  });

  it('tells an unknown field from a Falco field Vigil lacks', () => {
    expect(load(ruleYaml('evt.type = execve and prc.name = x')).report.skipped[0]!.detail).toBe("unknown field 'prc.name'");
  });

  it('loads a rule whose unsupported field is only in an exception, and says the exception is not applied', () => {
    const set = load(ruleYaml('evt.type = execve and proc.name = nc and not proc.sname in (sshd)'));
    expect(set.rules).toHaveLength(1);
    expect(set.report.warnings.map((w) => w.message)).toEqual([
      "rule 'Test rule': field 'proc.sname' is not available in Vigil: the process tree does not know session ids; the exception using it is not applied, so the rule may fire where Falco's would not",
    ]);
    const w = new World();
    expect(matches(set, w.exec(10, 1, '/bin/nc', ['nc']), w.x)).toBe(true);
  });

  it("reads `x in ()` as false whatever x is, as Falco's empty lists do", () => {
    const set = load(`- list: trusted_images\n  items: []\n${ruleYaml('evt.type = execve and not container.image.repository in (trusted_images)')}`);
    expect(set.rules).toHaveLength(1);
    expect(set.report.warnings).toEqual([]);
  });

  it('skips a rule about event types Vigil does not observe, naming them', () => {
    const set = load(ruleYaml('evt.type in (chown, fchownat) and fd.name = /etc/shadow'));
    expect(set.report.skipped[0]).toMatchObject({ reason: 'unobserved-event-type', detail: 'Vigil does not observe event types chown, fchownat' });
  });

  it('ignores unsupported fields in macros and lists that no loaded rule uses', () => {
    const set = load(`- macro: unused\n  condition: proc.sname != 0 and fd.nameraw contains x\n${ruleYaml('evt.type = execve')}`);
    expect(set.rules).toHaveLength(1);
    expect(set.report.warnings).toEqual([]);
    expect(set.report.skipped).toEqual([]);
  });

  it('prints output fields Vigil lacks as <NA> and counts them', () => {
    const set = load(ruleYaml('evt.type = execve').replace('test %proc.name', 'tty=%proc.sname name=%proc.name'));
    expect(set.report.outputNA).toEqual([['proc.sname', 1]]);
  });

  it('skips rules for other event sources', () => {
    const set = load('- rule: audit\n  desc: d\n  condition: ka.verb = create\n  output: o\n  priority: INFO\n  source: k8s_audit\n');
    expect(set.rules).toHaveLength(0);
    expect(set.report.skipped[0]).toMatchObject({ rule: 'audit', reason: 'other-source' });
  });
});
