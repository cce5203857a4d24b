// The resolver: macros and lists in a condition, and the errors about
// them at the place they are used.
import { describe, expect, it } from 'vitest';
import { load } from './support.js';

const errorsOf = (text: string, file = '/rules/r.yaml'): string[] =>
  load(text, file).report.errors.map((p) => `${p.line}:${p.col} ${p.message}`);

describe('macros and lists', () => {
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
});
