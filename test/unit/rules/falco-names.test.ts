// Falco-format rules judge an open by the file the kernel opened (Vigil's
// fd.name) and by the name as written (Falco's fd.name): the whole
// condition once per name, so a name written never hides the file opened
// and an exception applies only for the name the rule matched.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Alert } from '../../../src/model/alert.js';
import type { DetectContext } from '../../../src/detect/detector.js';
import { RulesDetector } from '../../../src/detect/rules/detector.js';
import { folded, writtenName } from '../../../src/detect/rules/falco-names.js';
import { BUILTIN_DIR } from '../../../src/detect/rules/ruleset.js';
import { PATH_RESOLVED } from '../../../src/model/event.js';
import { silentLogger } from '../../../src/log.js';
import { load, ruleYaml, World } from './support.js';
import { type EventFields } from '../../support/events.js';

const O_WRONLY = 1;
let dir = '';
afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = '';
});

/** A detector running one Falco-format rules file (no built-in rules), and the alerts it raised. */
function detector(yaml: string): { world: World; raised: Alert[]; run: (fields: EventFields) => string[] } {
  dir = mkdtempSync(join(tmpdir(), 'vigil-falco-names-'));
  const file = join(dir, 'falco.yaml');
  writeFileSync(file, yaml);
  const world = new World();
  const raised: Alert[] = [];
  const ctx: DetectContext = { tree: world.tree, raise: (a) => raised.push(a) };
  const det = new RulesDetector({ builtin: false, files: [file], watch: false }, silentLogger(), world.x);
  det.load();
  const run = (fields: EventFields): string[] => {
    const before = raised.length;
    const e = world.event('open', { result: 3, pathFlags: PATH_RESOLVED, ...fields });
    const key = e.pathKey;
    det.onEvent(e, ctx);
    expect(det.errors).toBe(0);
    // The open is left as it came, whatever matched by the name as written.
    expect([e.path, e.pathKey]).toEqual([fields.path, key]);
    return raised.slice(before).map((a) => a.rule);
  };
  return { world, raised, run };
}

const rule = (name: string, condition: string, output = 'file=%fd.name raw=%fd.nameraw'): string =>
  `- rule: ${name}\n  desc: t\n  condition: ${JSON.stringify(condition)}\n  output: ${JSON.stringify(output)}\n  priority: WARNING\n`;

describe('Falco-format rules and the name of an opened file', () => {
  it("fire on the name as written where Falco's fd.name is it: Modify Container Entrypoint's /proc/self/fd/N and /proc/self/exe", () => {
    const { raised, run } = detector(
      rule('Entrypoint', 'evt.type in (open, openat) and evt.is_open_write = true and (fd.name = /proc/self/exe or fd.name startswith /proc/self/fd/)'),
    );
    expect(run({ path: '/srv/out', pathRaw: '/proc/self/fd/1', flags: O_WRONLY })).toEqual(['Entrypoint']);
    expect(run({ path: '/usr/bin/runc', pathRaw: '/proc/self/exe', flags: O_WRONLY })).toEqual(['Entrypoint']);
    // Folded as Falco folds it (no symlink followed): `..` and `//` go.
    expect(run({ path: '/srv/out', pathRaw: '/etc/..//proc/self/./fd/1', flags: O_WRONLY })).toEqual(['Entrypoint']);
    // The output shows the name the rule matched (Falco's), the alert carries the open itself.
    expect(raised[0]!.output).toContain('file=/proc/self/fd/1 raw=/proc/self/fd/1');
    expect(raised[0]!.event.path).toBe('/srv/out');
    expect(raised[0]!.event.pathRaw).toBe('/proc/self/fd/1');
    // Neither name: nothing.
    expect(run({ path: '/srv/out', pathRaw: '/srv/out', flags: O_WRONLY })).toEqual([]);
    expect(run({ path: '/srv/out', pathRaw: '/srv/link', flags: O_WRONLY })).toEqual([]);
  });

  it('still judge the file opened: a sensitive file read through a symlink, /proc/self/root or a bind mount fires', () => {
    const { run } = detector(rule('Shadow', "evt.type = openat and fd.name in (/etc/shadow, /etc/sudoers) and fd.directory = /etc"));
    for (const raw of ['/tmp/innocent', '/proc/self/root/etc/shadow', '/mnt/x/shadow', '/tmp/../tmp/innocent']) {
      expect(run({ path: '/etc/shadow', pathRaw: raw }), raw).toEqual(['Shadow']);
    }
  });

  it('never let an exception on the name written hide the file opened: != and not … in judge each name on its own', () => {
    const { run } = detector(
      rule('Not in', 'evt.type = openat and fd.name startswith /etc/ and not fd.name in (/tmp/allowed, /etc/hosts)') +
        rule('Not equal', 'evt.type = openat and fd.name = /etc/shadow and fd.name != /tmp/allowed') +
        rule('Not prefix', 'evt.type = openat and fd.name pmatch (/etc) and not fd.name startswith /tmp'),
    );
    // The attacker names /etc/shadow by a path an exception allows: the file opened still fires every rule.
    expect(run({ path: '/etc/shadow', pathRaw: '/tmp/allowed' })).toEqual(['Not in', 'Not equal', 'Not prefix']);
    // The exception does apply where the file opened is the allowed one.
    expect(run({ path: '/etc/hosts', pathRaw: '/etc/hosts' })).toEqual(['Not prefix']);
  });

  it('judge the whole condition on one name at a time: an exception for the name matched applies, as in Falco', () => {
    const { run } = detector(rule('Fd but stdout', 'evt.type = openat and fd.name startswith /proc/self/fd/ and not fd.name startswith /proc/self/fd/1'));
    // Falco: /proc/self/fd/1 is excepted. Mixing the names (one name for the match, the other for
    // the exception) would fire here; judging each name alone does not.
    expect(run({ path: '/srv/out', pathRaw: '/proc/self/fd/1' })).toEqual([]);
    expect(run({ path: '/srv/out', pathRaw: '/proc/self/fd/2' })).toEqual(['Fd but stdout']);
  });

  it('read every path field of the name as written: fd.directory, fd.filename, evt.arg.name; fd.nameraw and fd.is_alias keep their value', () => {
    const { run } = detector(
      rule('Dir', 'evt.type = openat and fd.directory = /proc/self/fd and fd.filename = 1') +
        rule('Arg', 'evt.type = openat and evt.arg.name glob "/proc/self/fd/*"') +
        rule('Alias', 'evt.type = openat and fd.name startswith /proc/self/fd/ and fd.is_alias = true and fd.nameraw = /proc/self/fd/1'),
    );
    expect(run({ path: '/srv/out', pathRaw: '/proc/self/fd/1' })).toEqual(['Dir', 'Arg', 'Alias']);
  });

  it('leave the built-in rules and rules that read no path to the file opened alone', () => {
    const yaml = ruleYaml('evt.type = openat and fd.name startswith /proc/self/fd/') + rule('No path', 'evt.type = openat and proc.name = app');
    const user = load(yaml, '/rules/local.yaml');
    const builtin = load(yaml, join(BUILTIN_DIR, 'zz-test.yaml'));
    const flags = (set: ReturnType<typeof load>): boolean[] => set.route.open.classes.flatMap((c) => c.entries.filter((e) => e.rule.name === 'Test rule' || e.rule.name === 'No path').map((e) => e.asWritten));
    expect(flags(user)).toContain(true);
    expect(user.route.open.classes.flatMap((c) => c.entries).filter((e) => e.rule.name === 'No path').every((e) => !e.asWritten)).toBe(true);
    expect(flags(builtin).every((f) => !f)).toBe(true);
  });

  it('read the name as written only where it differs from the file opened', () => {
    const w = new World();
    expect(writtenName(w.event('open', { path: '/etc/hosts', pathRaw: '/etc/hosts' }))).toBeNull();
    expect(writtenName(w.event('open', { path: '/etc/hosts', pathRaw: '/etc/./hosts' }))).toBeNull();
    expect(writtenName(w.event('open', { path: '/etc/hosts', pathRaw: '' }))).toBeNull();
    expect(writtenName(w.event('exec', { path: '/usr/bin/id', pathRaw: '/bin/id' }))).toBeNull();
    expect(writtenName(w.event('open', { path: '/usr/lib/libc.so.6', pathRaw: '/lib/libc.so.6' }))).toBe('/lib/libc.so.6');
    expect(folded('/a/../../b//c/.')).toBe('/b/c');
    expect(folded('rel/../x')).toBe('rel/../x');
  });
});
