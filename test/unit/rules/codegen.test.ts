// Code generation: the functions a condition becomes — plain property
// reads and constants, what the type decides folded away, cheap checks
// first — and that they evaluate as the condition reads.
import { describe, expect, it } from 'vitest';
import { compile, matches, World } from './support.js';

describe('generated functions', () => {
  it('read plain event properties and constant Sets, and fold what is known per type', () => {
    const set = compile('evt.type in (open, openat) and evt.is_open_write = true and fd.name startswith /etc/ and proc.name in (a, b, c) and evt.dir = <');
    const src = set.rules[0]!.condition.source.get('open')!;
    expect(src).toContain('e.path.startsWith("/etc/")');
    expect(src).toContain('.has(e.comm)');
    expect(src).toContain('(e.flags & 3) !== 0');
    // evt.type and evt.dir are decided at compile time.
    expect(src).not.toMatch(/evt|dir|"open"/);
  });

  it("fold Falco's never_true macro (evt.num = 0) away", () => {
    const set = compile('evt.type = execve and not user_known', '- macro: user_known\n  condition: (evt.num=0)\n');
    expect(set.rules[0]!.condition.source.get('exec')).toBe('function rule_Test_rule_exec(e, x) { return true; }');
  });

  it('put cheap property reads before ancestor walks', () => {
    const src = compile('evt.type = execve and proc.aname in (sshd) and proc.name = bash').rules[0]!.condition.source.get('exec')!;
    expect(src.indexOf('e.comm === "bash"')).toBeLessThan(src.indexOf('k['));
  });

  it('evaluate the same as the condition reads, whatever the order of evaluation', () => {
    const set = compile('evt.type = execve and (proc.name = a or proc.aname = sshd) and not proc.args contains -x');
    const w = new World();
    w.exec(10, 1, '/usr/sbin/sshd', ['sshd']);
    expect(matches(set, w.exec(11, 10, '/bin/ls', ['ls']), w.x)).toBe(true);
    expect(matches(set, w.exec(12, 10, '/bin/ls', ['ls', '-x']), w.x)).toBe(false);
    expect(matches(set, w.exec(13, 1, '/bin/a', ['a']), w.x)).toBe(true);
    expect(matches(set, w.exec(14, 1, '/bin/b', ['b']), w.x)).toBe(false);
  });
});
