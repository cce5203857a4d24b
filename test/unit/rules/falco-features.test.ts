// The Falco rule-language features the incubating and sandbox rulesets
// need, from a rules file of Vigil's own (test/fixtures/rules/
// falco-features.yaml): each rule loads and fires on the event it is about,
// and not on a near miss. (Falco's incubating and sandbox files themselves
// are not test data here: only the stable file is, see
// test/fixtures/falco/NOTICE; scripts/falco-coverage.ts measures them.)
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { DnsNames } from '../../../src/detect/rules/dns-names.js';
import { formatOutput } from '../../../src/detect/rules/output.js';
import { buildRuleSet } from '../../../src/detect/rules/ruleset.js';
import { UserNames } from '../../../src/detect/rules/users.js';
import type { Event } from '../../../src/model/event.js';
import { waitFor } from '../../support/kernel.js';
import { World } from './support.js';

const FILE = fileURLToPath(new URL('../../fixtures/rules/falco-features.yaml', import.meta.url));
const O_WRONLY = 0o1;
const O_TRUNC = 0o1000;
const O_CREAT = 0o100;

describe("Falco rule-language features (Vigil's own rules file)", () => {
  const root = mkdtempSync(join(tmpdir(), 'vigil-features-'));
  mkdirSync(join(root, 'etc'));
  writeFileSync(join(root, 'etc/passwd'), 'root:x:0:0::/root:/bin/sh\nwww-data:x:33:33::/var/www:/bin/sh\nnobody:x:65534:65534::/:/bin/false\n');
  writeFileSync(join(root, 'etc/group'), 'root:x:0:\nwww-data:x:33:\n');
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  const set = buildRuleSet([FILE]);
  const w = new World(new UserNames(root));
  /** Whether the named rule matches the event. */
  const fires = (rule: string, e: Event): boolean => {
    const r = set.rules.find((x) => x.name === rule);
    if (!r) throw new Error(`rule '${rule}' did not load`);
    const fn = r.condition.byType.get(e.type);
    return fn ? fn(e, w.x) : false;
  };
  const output = (rule: string, e: Event): string => formatOutput(set.rules.find((x) => x.name === rule)!.output, e, w.x).output;

  it('loads with no error; only the template rule is skipped, saying why', () => {
    expect(set.report.errors).toEqual([]);
    expect(set.report.skipped.map((s) => [s.rule, s.detail])).toEqual([
      ['Template left empty', "its condition cannot match while the list 'feature_template_namespaces' is empty (a template: fill it to use the rule)"],
    ]);
    expect(set.rules).toHaveLength(set.report.total - 1);
  });

  it('exists: a field with a value exists, a missing one does not, also next to a closing parenthesis', () => {
    w.exec(500, 1, '/bin/sh', ['sh']);
    expect(fires('Exists in a group', w.exec(501, 500, '/usr/bin/exists-probe', ['exists-probe']))).toBe(true);
    // No parent known to the process tree: proc.pname is missing.
    expect(fires('Exists in a group', w.exec(601, 600, '/usr/bin/exists-probe', ['exists-probe']))).toBe(false);
    expect(fires('Exists negated', w.exec(701, 700, '/usr/bin/orphan-probe', ['orphan-probe']))).toBe(true);
    expect(fires('Exists negated', w.exec(502, 500, '/usr/bin/orphan-probe', ['orphan-probe']))).toBe(false);
  });

  it("a set*id call's uid and gid compare with user and group names, and still with numbers", () => {
    const setid = (call: string, id: number) => w.event('setid', { call, id, uid: 0 });
    expect(fires('Uid compared with a user name', setid('setuid', 33))).toBe(true);
    expect(fires('Uid compared with a user name', setid('setuid', 34))).toBe(false);
    expect(output('Uid compared with a user name', setid('setuid', 33))).toBe('setuid to www-data');
    expect(fires('Uid in a list of names and numbers', setid('setuid', 65534))).toBe(true);
    // A uid with no name reads as its number, so the list's 4242 matches it.
    expect(fires('Uid in a list of names and numbers', setid('setuid', 4242))).toBe(true);
    expect(fires('Uid in a list of names and numbers', setid('setuid', 33))).toBe(false);
    expect(fires('Uid compared with a number', setid('setuid', 0))).toBe(true);
    expect(fires('Uid compared with a number', setid('setuid', 33))).toBe(false);
    expect(fires('Uid other than root', setid('setuid', 33))).toBe(true);
    expect(fires('Uid other than root', setid('setuid', 0))).toBe(false);
    expect(fires('Gid compared with a group name', setid('setgid', 33))).toBe(true);
    expect(fires('Gid compared with a group name', setid('setgid', 0))).toBe(false);
    // setgid's id is not a uid: evt.arg.uid is missing, nothing compares.
    expect(fires('Uid other than root', setid('setgid', 33))).toBe(false);
  });

  it('flags, modes, ptrace requests and results compare with the names Falco prints for them', () => {
    const open = (flags: number) => w.event('open', { call: 'openat', path: '/srv/x', flags, mode: 0o644, result: 3 });
    expect(fires('Open flags by name', open(O_WRONLY | O_CREAT | O_TRUNC))).toBe(true);
    expect(fires('Open flags by name', open(O_WRONLY | O_CREAT))).toBe(false);
    expect(output('Open flags by name', open(O_WRONLY | O_TRUNC))).toBe('truncated /srv/x flags="O_WRONLY|O_TRUNC"');
    expect(fires('Mode by name', w.event('chmod', { path: '/srv/x', mode: 0o4755, result: 0 }))).toBe(true);
    expect(fires('Mode by name', w.event('chmod', { path: '/srv/x', mode: 0o755, result: 0 }))).toBe(false);
    const unshare = (flags: number) => w.event('namespace', { call: 'unshare', id: flags, flags, result: 0 });
    expect(fires('Namespace flags by name', unshare(0x10000000 | 0x20000))).toBe(true);
    expect(fires('Namespace flags by name', unshare(0x20000))).toBe(false);
    expect(fires('Ptrace request by name', w.event('ptrace', { id: 16, targetPid: 42, result: 0 }))).toBe(true);
    expect(fires('Ptrace request by name', w.event('ptrace', { id: 0, targetPid: 42, result: 0 }))).toBe(false);
    expect(fires('Result by errno name', w.event('unlink', { call: 'unlinkat', path: '/srv/gone', result: -2 }))).toBe(true);
    expect(fires('Result by errno name', w.event('unlink', { call: 'unlinkat', path: '/srv/gone', result: -13 }))).toBe(false);
  });

  it('a domain name matches the addresses it resolves to', async () => {
    w.x.dns = new DnsNames(true, async (name) => (name === 'c2.feature.example' ? ['192.0.2.9'] : []));
    try {
      expect(set.dnsNames).toEqual(['c2.feature.example']);
      w.x.dns.watch(set.dnsNames);
      await waitFor('the name to resolve', () => w.x.dns.settled);
      const connect = (addr: string) => w.event('connect', { family: 2, addr, port: 443, protocol: 'tcp', result: 0 });
      expect(fires('Address compared with a domain name', connect('192.0.2.9'))).toBe(true);
      expect(fires('Address compared with a domain name', connect('192.0.2.10'))).toBe(false);
    } finally {
      w.x.dns.close();
    }
  });
});
