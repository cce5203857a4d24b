// The condition language: Falco's grammar, bare and quoted values, and
// syntax errors that point at the place in the text.
import { describe, expect, it } from 'vitest';
import { ConditionSyntaxError, parseCondition, parseListItem, type Expr } from '../../../src/detect/rules/condition.js';
import { plainSource } from '../../../src/detect/rules/source.js';

const parse = (s: string): Expr => parseCondition(plainSource(s));

/** A compact rendering of the tree, to compare shapes. */
function show(e: Expr): string {
  switch (e.k) {
    case 'and':
    case 'or':
      return `${e.k}(${e.items.map(show).join(', ')})`;
    case 'not':
      return `not(${show(e.e)})`;
    case 'macro':
      return `@${e.name}`;
    case 'check': {
      const f = `${e.field.transformer ? `${e.field.transformer}:` : ''}${e.field.name}${e.field.arg !== null ? `[${e.field.arg}]` : ''}`;
      const v = e.value === null ? '' : e.value.k === 'scalar' ? ` ${JSON.stringify(e.value.v)}` : e.value.k === 'list' ? ` [${e.value.items.map((i) => JSON.stringify(i.v)).join(',')}]` : ` list:${e.value.name}`;
      return `${f} ${e.op}${v}`;
    }
  }
}

function syntaxError(s: string): ConditionSyntaxError {
  try {
    parse(s);
  } catch (err) {
    if (err instanceof ConditionSyntaxError) return err;
    throw err;
  }
  throw new Error(`'${s}' parsed`);
}

describe('condition parser', () => {
  it('binds not tighter than and, and tighter than or', () => {
    expect(show(parse('a or b and not c'))).toBe('or(@a, and(@b, not(@c)))');
    expect(show(parse('(a or b) and c'))).toBe('and(or(@a, @b), @c)');
    expect(show(parse('not not a'))).toBe('not(not(@a))');
    expect(show(parse('not(a)and(b)or(c)'))).toBe('or(and(not(@a), @b), @c)');
  });

  it('reads keywords only as whole words: android, order and note are macros', () => {
    expect(show(parse('android and order or note'))).toBe('or(and(@android, @order), @note)');
  });

  it('parses every operator', () => {
    expect(show(parse('proc.name=bash'))).toBe('proc.name = "bash"');
    expect(show(parse('proc.name == bash'))).toBe('proc.name == "bash"');
    expect(show(parse('proc.name!="sshd"'))).toBe('proc.name != "sshd"');
    expect(show(parse('fd.num>=0'))).toBe('fd.num >= "0"');
    expect(show(parse('proc.duration <= 5000000000'))).toBe('proc.duration <= "5000000000"');
    expect(show(parse('fd.sport < 1024'))).toBe('fd.sport < "1024"');
    expect(show(parse('fd.sport > 1024'))).toBe('fd.sport > "1024"');
    for (const op of ['contains', 'icontains', 'startswith', 'endswith', 'glob', 'iglob', 'regex']) {
      expect(show(parse(`fd.name ${op} /etc/`))).toBe(`fd.name ${op} "/etc/"`);
    }
    expect(show(parse('proc.pname exists'))).toBe('proc.pname exists');
    // The unary operator may touch the ')' closing its group (sandbox's allowed_containers macro).
    expect(show(parse('(container.id exists)'))).toBe('container.id exists');
    expect(show(parse('(a and (proc.pname exists))'))).toBe('and(@a, proc.pname exists)');
    expect(show(parse('proc.name in (sh, bash)'))).toBe('proc.name in ["sh","bash"]');
    expect(show(parse('proc.name in(sh)'))).toBe('proc.name in ["sh"]');
    expect(show(parse('proc.aname intersects (sh)'))).toBe('proc.aname intersects ["sh"]');
    expect(show(parse('fd.name pmatch (/etc, /usr/bin)'))).toBe('fd.name pmatch ["/etc","/usr/bin"]');
    expect(show(parse('proc.name in shell_binaries'))).toBe('proc.name in list:shell_binaries');
    expect(show(parse('container.image.repository in ()'))).toBe('container.image.repository in []');
  });

  it('reads field arguments and transformers', () => {
    expect(show(parse('proc.aname[2]=chef-client'))).toBe('proc.aname[2] = "chef-client"');
    expect(show(parse('k8s.pod.label["app.kubernetes.io/name"] = web'))).toBe('k8s.pod.label[app.kubernetes.io/name] = "web"');
    expect(show(parse('tolower(proc.name) = bash'))).toBe('tolower:proc.name = "bash"');
  });

  it('reads bare values as libsinsp does: anything but blanks, parentheses, commas, = and quotes', () => {
    expect(show(parse('proc.pname in (runc:[0:PARENT], runc:[1:CHILD], docker-runc)'))).toBe('proc.pname in ["runc:[0:PARENT]","runc:[1:CHILD]","docker-runc"]');
    expect(show(parse('evt.res startswith E'))).toBe('evt.res startswith "E"');
    expect(show(parse('fd.name glob /proc/[0-9]*/mem'))).toBe('fd.name glob "/proc/[0-9]*/mem"');
  });

  it('reads quoted values with their escapes', () => {
    expect(show(parse(`proc.cmdline = "sh -c node -e \\"require('nan')\\""`))).toBe(`proc.cmdline = ${JSON.stringify(`sh -c node -e "require('nan')"`)}`);
    expect(show(parse(`fd.name contains '/.ssh/'`))).toBe('fd.name contains "/.ssh/"');
    expect(show(parse(`proc.name in ("puma reactor", 'x y')`))).toBe('proc.name in ["puma reactor","x y"]');
  });

  it('reads list items as they would read in a condition', () => {
    expect(parseListItem('"75-system-updat"')).toEqual({ v: '75-system-updat', quoted: true });
    expect(parseListItem(`"sh -c node -e \\"require('nan')\\""`)).toEqual({ v: `sh -c node -e "require('nan')"`, quoted: true });
    expect(parseListItem('bash')).toEqual({ v: 'bash', quoted: false });
    expect(parseListItem('"unterminated')).toEqual({ v: '"unterminated', quoted: false });
  });

  it('points syntax errors at the offending place', () => {
    const cases: [string, number, RegExp][] = [
      ['proc.name = bash and', 20, /unexpected end of condition/],
      ['proc.name bash', 10, /expecting an operator after 'proc.name', found 'bash'/],
      ['(proc.name = a', 0, /missing '\)'/],
      ['proc.name = a)', 13, /unexpected '\)'/],
      ['proc.name in (a, b', 13, /missing '\)' to close the list/],
      ['proc.name = "abc', 12, /unterminated string/],
      ['proc.name in a b', 15, /unexpected 'b'/],
      ['proc.aname[ = a', 11, /empty argument/],
      ['()', 1, /empty parentheses/],
      ['', 0, /empty condition/],
      ['= bash', 0, /expecting a field, a macro or '\('/],
      ['proc.name = a or or', 17, /expecting a field, a macro or '\('/],
    ];
    for (const [text, off, msg] of cases) {
      const err = syntaxError(text);
      expect(err.message, text).toMatch(msg);
      expect(err.at.off, text).toBe(off);
    }
  });

  it('refuses conditions nested deeper than the stack can take', () => {
    expect(syntaxError(`${'('.repeat(500)}a${')'.repeat(500)}`).message).toMatch(/nested deeper/);
  });
});
