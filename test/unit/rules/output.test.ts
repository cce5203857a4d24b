// Output lines in Falco's %field syntax.
import { describe, expect, it } from 'vitest';
import { compileOutput, formatOutput } from '../../../src/detect/rules/output.js';
import { World } from './support.js';

const at = { file: 't.yaml', line: 1, col: 1 };

describe('rule output', () => {
  const w = new World();
  w.exec(10, 1, '/usr/bin/bash', ['bash']);
  const e = w.event('open', { pid: 11, ppid: 10, comm: 'cat', path: '/etc/shadow', flags: 0, result: 3 });

  it('fills %field, %field[N] and %(field) references and records their values', () => {
    const t = compileOutput('Sensitive file opened | file=%fd.name proc=%(proc.name) parent=%proc.aname[1] pid=%proc.pid', at);
    const out = formatOutput(t, e, w.x);
    expect(out.output).toBe('Sensitive file opened | file=/etc/shadow proc=cat parent=bash pid=11');
    expect(out.fields).toEqual({ 'fd.name': '/etc/shadow', 'proc.name': 'cat', 'proc.aname[1]': 'bash', 'proc.pid': 11 });
  });

  it('prints <NA> for fields Vigil lacks and for missing values, and records null', () => {
    const t = compileOutput('tty=%proc.sname port=%fd.sport', at);
    expect(t.unsupported).toEqual(['proc.sname']);
    const out = formatOutput(t, e, w.x);
    expect(out.output).toBe('tty=<NA> port=<NA>');
    expect(out.fields).toEqual({ 'proc.sname': null, 'fd.sport': null });
  });

  it('leaves text that is not a field alone', () => {
    const t = compileOutput('100% sure: %fd.name.', at);
    expect(formatOutput(t, e, w.x).output).toBe('100% sure: /etc/shadow.');
  });

  it("takes the message from the rule's text before Falco's ' | ' separator, never from inside a value", () => {
    expect(formatOutput(compileOutput('Shell spawned | shell=%proc.name', at), e, w.x).message).toBe('Shell spawned');
    expect(formatOutput(compileOutput('no separator here', at), e, w.x).message).toBe('no separator here');
    const forged = w.event('open', { pid: 12, ppid: 10, comm: 'x | mode=enforce', path: '/tmp/a | b', flags: 0, result: 3 });
    const out = formatOutput(compileOutput('Opened %fd.name by %proc.name | pid=%proc.pid', at), forged, w.x);
    expect(out.message).toBe('Opened "/tmp/a | b" by "x | mode=enforce"');
    expect(out.output).toBe('Opened "/tmp/a | b" by "x | mode=enforce" | pid=12');
  });

  it('quotes a value that could pass for more than one, and escapes what would hide or reorder text', () => {
    const forged = w.event('open', { pid: 13, ppid: 10, comm: 'cat', path: '/tmp/x uid=0 parent=nginx\u202e\n', flags: 0, result: 3 });
    const out = formatOutput(compileOutput('file=%fd.name pid=%proc.pid', at), forged, w.x);
    expect(out.output).toBe('file="/tmp/x uid=0 parent=nginx\\u202e\\x0a" pid=13');
    // The structured value stays exactly what the process used.
    expect(out.fields['fd.name']).toBe('/tmp/x uid=0 parent=nginx\u202e\n');
  });
});
