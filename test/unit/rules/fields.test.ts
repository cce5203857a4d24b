// What each field reads from an event, and Falco's semantics around it:
// event type names, missing values, client/server ends, operators.
import { appendFileSync, mkdtempSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { compileOutput, formatOutput } from '../../../src/detect/rules/output.js';
import { UserNames } from '../../../src/detect/rules/users.js';
import type { ContainerInfo } from '../../../src/model/container.js';
import type { Workload } from '../../../src/model/workload.js';
import { compile, HOST, load, matches, ruleYaml, workload, World } from './support.js';

const O_RDONLY = 0;
const O_WRONLY = 1;
const O_RDWR = 2;
const O_CREAT = 0o100;
const O_TRUNC = 0o1000;
const O_APPEND = 0o2000;
const O_DIRECTORY = 0o200000;

/** Whether `condition` matches the event `make` builds. */
function check(condition: string, make: (w: World) => Parameters<typeof matches>[1], w = new World()): boolean {
  return matches(compile(condition), make(w), w.x);
}

describe('event type names', () => {
  const open = (w: World) => w.event('open', { path: '/etc/hosts', flags: O_RDONLY, result: 3 });
  const exec = (w: World) => w.exec(200, 1, '/bin/ls', ['ls']);

  it('maps Falco syscall names onto Vigil event types', () => {
    expect(check('evt.type in (open, openat)', open)).toBe(true);
    expect(check('evt.type = openat2', open)).toBe(true);
    expect(check('evt.type = creat', open)).toBe(true);
    expect(check('evt.type = execve', exec)).toBe(true);
    expect(check('evt.type = execveat', exec)).toBe(true);
    expect(check('evt.type = execve', open)).toBe(false);
    expect(check('evt.type != openat', open)).toBe(false);
    expect(check('evt.type != execve', open)).toBe(true);
    expect(check('evt.type in (clone, clone3, fork, vfork)', (w) => w.event('fork', { childPid: 300 }))).toBe(true);
    expect(check('evt.type = procexit', (w) => w.event('exit'))).toBe(true);
    expect(check('evt.type in (unlink, unlinkat, rmdir)', (w) => w.event('unlink', { path: '/x' }))).toBe(true);
    expect(check('evt.type = renameat2', (w) => w.event('rename', { path: '/a', path2: '/b' }))).toBe(true);
    expect(check('evt.type in (accept, accept4)', (w) => w.event('accept', { family: 2, addr: '10.0.0.9', port: 5, localAddr: '10.0.0.1', localPort: 80 }))).toBe(true);
    expect(check('evt.type in (dup, dup2, dup3)', (w) => w.event('dup', { family: 2 }))).toBe(true);
  });

  it('tells the syscalls of setid, module and namespace events apart by their call', () => {
    const setuid = (w: World) => w.event('setid', { call: 'setuid', id: 0 });
    const setgid = (w: World) => w.event('setid', { call: 'setgid', id: 0 });
    expect(check('evt.type = setuid', setuid)).toBe(true);
    expect(check('evt.type = setuid', setgid)).toBe(false);
    expect(check('evt.type in (setuid, setresuid)', setuid)).toBe(true);
    expect(check('evt.type != setuid', setgid)).toBe(true);
    expect(check('evt.type = finit_module', (w) => w.event('module', { call: 'finit_module', path: '/tmp/x.ko' }))).toBe(true);
    expect(check('evt.type = init_module', (w) => w.event('module', { call: 'finit_module', path: '/tmp/x.ko' }))).toBe(false);
    expect(check('evt.type = unshare', (w) => w.event('namespace', { call: 'unshare', id: 0x10000000 }))).toBe(true);
    expect(check('evt.type = setns', (w) => w.event('namespace', { call: 'unshare', id: 0x10000000 }))).toBe(false);
  });

  it("accepts Vigil's own type names", () => {
    expect(check('evt.type = exec', exec)).toBe(true);
    expect(check('evt.type = setid and evt.arg.uid = 0', (w) => w.event('setid', { call: 'setresuid', id: 0 }))).toBe(true);
  });

  it('sees every event after the syscall returned: evt.dir is <', () => {
    expect(check('evt.type = openat and evt.dir = <', open)).toBe(true);
    const never = load(ruleYaml('evt.type = openat and evt.dir = >'));
    expect(never.rules).toHaveLength(0);
    expect(never.report.skipped[0]).toMatchObject({ reason: 'never-matches' });
  });

  it('prints evt.type as the syscall name', () => {
    const w = new World();
    const set = load(ruleYaml('evt.type in (open, setuid)').replace('test %proc.name', '%evt.type'));
    const r = set.rules[0]!;
    expect(r.output.segments.length).toBe(1);
    const seg = r.output.segments[0] as { get: (e: unknown, x: unknown) => unknown };
    expect(seg.get(w.event('open', { path: '/a' }), w.x)).toBe('openat');
    expect(seg.get(w.event('setid', { call: 'setresuid' }), w.x)).toBe('setresuid');
  });
});

describe('results and open flags', () => {
  it('reads results as Falco does', () => {
    expect(check('evt.res = SUCCESS', (w) => w.event('open', { path: '/a', result: 3 }))).toBe(true);
    expect(check('evt.res = ENOENT', (w) => w.event('open', { path: '/a', result: -2 }))).toBe(true);
    expect(check('evt.res startswith E', (w) => w.event('open', { path: '/a', result: -13 }))).toBe(true);
    expect(check('evt.rawres = -13', (w) => w.event('open', { path: '/a', result: -13 }))).toBe(true);
    expect(check('evt.failed = true', (w) => w.event('open', { path: '/a', result: -13 }))).toBe(true);
    expect(check('evt.res = EINPROGRESS', (w) => w.event('connect', { family: 2, addr: '10.0.0.1', port: 443, result: -115 }))).toBe(true);
  });

  it('reads open flags: read, write, create, truncate, fd.num of a failed open is -1', () => {
    const open = (flags: number, result = 3) => (w: World) => w.event('open', { path: '/var/log/syslog', flags, result });
    expect(check('evt.is_open_read = true', open(O_RDONLY))).toBe(true);
    expect(check('evt.is_open_write = true', open(O_RDONLY))).toBe(false);
    expect(check('evt.is_open_write = true', open(O_WRONLY))).toBe(true);
    expect(check('evt.is_open_read = true and evt.is_open_write = true', open(O_RDWR))).toBe(true);
    expect(check('evt.is_open_create = true', open(O_WRONLY | O_CREAT))).toBe(true);
    expect(check('evt.is_open_trunc = true', open(O_WRONLY | O_TRUNC))).toBe(true);
    expect(check('evt.is_open_trunc = true', open(O_WRONLY | O_APPEND))).toBe(false);
    expect(check('evt.is_open_exec = true', (w) => w.event('open', { path: '/tmp/x', flags: O_WRONLY | O_CREAT, mode: 0o755, result: 3 }))).toBe(true);
    expect(check('evt.arg.flags contains O_TRUNC', open(O_WRONLY | O_CREAT | O_TRUNC))).toBe(true);
    expect(check('evt.arg.flags = "O_WRONLY|O_CREAT|O_TRUNC"', open(O_WRONLY | O_CREAT | O_TRUNC))).toBe(true);
    expect(check('fd.num = -1', open(O_RDONLY, -2))).toBe(true);
    expect(check('fd.num >= 0', open(O_RDONLY, -2))).toBe(false);
    expect(check("fd.typechar = 'f'", open(O_RDONLY))).toBe(true);
    expect(check("fd.typechar = 'd' and fd.type = directory", open(O_RDONLY | O_DIRECTORY))).toBe(true);
  });

  it('reads modes, ptrace requests and set*id arguments as Falco prints them', () => {
    expect(check('evt.arg.mode contains S_ISUID', (w) => w.event('chmod', { path: '/tmp/f', mode: 0o4755 }))).toBe(true);
    expect(check('evt.arg.mode contains S_ISUID', (w) => w.event('chmod', { path: '/tmp/f', mode: 0o755 }))).toBe(false);
    expect(check('evt.arg.request = PTRACE_ATTACH and evt.arg.pid = 42', (w) => w.event('ptrace', { id: 16, targetPid: 42 }))).toBe(true);
    expect(check('evt.arg.request = PTRACE_SEIZE', (w) => w.event('ptrace', { id: 0x4206 }))).toBe(true);
    expect(check('evt.arg.uid = 0', (w) => w.event('setid', { call: 'setresuid', id: 0 }))).toBe(true);
    // evt.arg.uid is missing for the gid calls: no comparison holds.
    expect(check('evt.arg.uid = 0', (w) => w.event('setid', { call: 'setgid', id: 0 }))).toBe(false);
    expect(check('evt.arg.newpath = /etc/passwd', (w) => w.event('rename', { path: '/etc/passwd+', path2: '/etc/passwd', result: 0 }))).toBe(true);
    expect(check('evt.arg.nstype contains CLONE_NEWUSER', (w) => w.event('namespace', { call: 'unshare', id: 0x10000000 | 0x20000, flags: 0x10000000 | 0x20000 }))).toBe(true);
  });

  it('reads evt.rawarg as the raw number and evt.arg as Falco prints it', () => {
    const open = (w: World) => w.event('open', { path: '/etc/x', flags: O_WRONLY | O_CREAT, mode: 0o644, result: 5 });
    expect(check(`evt.rawarg.flags = ${O_WRONLY | O_CREAT}`, open)).toBe(true);
    expect(check(`evt.arg.flags = ${O_WRONLY | O_CREAT}`, open)).toBe(true);
    expect(check('evt.arg.flags = "O_WRONLY|O_CREAT"', open)).toBe(true);
    expect(check('evt.rawarg.mode = 420 and evt.arg.fd = 5 and evt.rawarg.res = 5', open)).toBe(true);
    expect(check('evt.arg.res = ENOENT', (w) => w.event('unlink', { path: '/x', result: -2 }))).toBe(true);
    expect(check('evt.arg.name = /x and evt.arg.path = /x', (w) => w.event('unlink', { path: '/x', result: 0 }))).toBe(true);
    expect(check('evt.arg.filename = /etc/x', (w) => w.event('chmod', { path: '/etc/x', mode: 0o4755 }))).toBe(true);
    // A string operator reads the text.
    expect(load(ruleYaml('evt.type = open and evt.rawarg.flags contains O_TRUNC')).report.errors[0]!.message).toContain("does not apply to the numeric field");
  });

  it('prints numbers that have a text as their text, and every argument with evt.args', () => {
    const w = new World();
    const set = load(`- rule: Args\n  desc: d\n  condition: evt.type = open\n  output: "flags=%evt.arg.flags raw=%evt.rawarg.flags args=%evt.args"\n  priority: INFO\n`);
    const e = w.event('open', { path: '/etc/x', flags: O_WRONLY | O_CREAT, mode: 0o644, result: 5 });
    const out = formatOutput(set.rules[0]!.output, e, w.x).output;
    // Values that could read as more (a '|', a space) are quoted in outputs.
    expect(out).toBe(`flags="O_WRONLY|O_CREAT" raw=${O_WRONLY | O_CREAT} args="res=5 fd=5 name=/etc/x flags=O_WRONLY|O_CREAT mode=S_IRUSR|S_IWUSR|S_IRGRP|S_IROTH"`);
  });
});

describe('missing values', () => {
  it('make every comparison false, != included; not inverts that', () => {
    // A process whose parent the tree has never seen.
    const orphan = (w: World) => w.event('exec', { pid: 500, ppid: 499, comm: 'ls', path: '/bin/ls', argv: ['ls'] });
    expect(check('proc.pname = bash', orphan)).toBe(false);
    expect(check('proc.pname != bash', orphan)).toBe(false);
    expect(check('not proc.pname = bash', orphan)).toBe(true);
    expect(check('proc.pname exists', orphan)).toBe(false);
  });

  it('hold for fields an event type does not have', () => {
    const exec = (w: World) => w.exec(200, 1, '/bin/ls', ['ls']);
    expect(check('fd.name != /etc/passwd', exec)).toBe(false);
    expect(check('not fd.name = /etc/passwd', exec)).toBe(true);
  });
});

describe('process fields', () => {
  const w = new World();
  w.exec(10, 1, '/usr/sbin/sshd', ['/usr/sbin/sshd', '-D']);
  w.exec(11, 10, '/usr/bin/bash', ['-bash']);
  const e = w.exec(12, 11, '/usr/bin/python3.11', ['python3', '-c', 'print(1)'], workload(), { comm: 'python3', cwd: '/srv/app' });

  it('reads the process, its parent and its ancestors', () => {
    const m = (c: string) => matches(compile(c), e, w.x);
    expect(m('proc.name = python3')).toBe(true);
    expect(m('proc.exe = python3')).toBe(true);
    expect(m('proc.exepath = /usr/bin/python3.11')).toBe(true);
    expect(m('proc.args = "-c print(1)"')).toBe(true);
    expect(m('proc.cmdline = "python3 -c print(1)"')).toBe(true);
    expect(m('proc.cwd = /srv/app/')).toBe(true);
    expect(m('proc.pid = 12 and proc.ppid = 11')).toBe(true);
    expect(m('proc.pname = bash and proc.pexe = -bash and proc.pexepath = /usr/bin/bash and proc.pcmdline = bash')).toBe(true);
    expect(m('proc.aname[0] = python3 and proc.aname[1] = bash and proc.aname[2] = sshd')).toBe(true);
    expect(m('proc.aname[3] = sshd')).toBe(false);
    expect(m('proc.apid[2] = 10 and proc.aexepath[2] = /usr/sbin/sshd and proc.acmdline[2] = "sshd -D"')).toBe(true);
  });

  it('matches proc.aname without an index against any ancestor, not the process itself', () => {
    const m = (c: string) => matches(compile(c), e, w.x);
    expect(m('proc.aname = sshd')).toBe(true);
    expect(m('proc.aname in (cron, bash)')).toBe(true);
    expect(m('proc.aname = python3')).toBe(false);
    expect(m('proc.aexepath endswith /sshd')).toBe(true);
  });

  it('knows how long a process has run when its fork was seen', () => {
    const world = new World();
    world.exec(20, 1, '/usr/bin/bash', ['bash']);
    const fork = world.event('fork', { pid: 20, ppid: 1, comm: 'bash', childPid: 21 });
    world.x.noteFork(fork);
    const child = world.exec(21, 20, '/usr/bin/cat', ['cat']);
    expect(matches(compile('proc.duration > 0 and proc.duration <= 5000000000'), child, world.x)).toBe(true);
    // An old process (seen only through /proc): unknown, so not "new".
    const old = world.exec(30, 1, '/usr/bin/cat', ['cat']);
    expect(matches(compile('proc.duration <= 5000000000'), old, world.x)).toBe(false);
  });

  it('tells a program run from a memfd by its executable', () => {
    expect(check('proc.is_exe_from_memfd = true', (x) => x.exec(40, 1, '/', ['payload'], workload(), { filename: '/proc/self/fd/3' }))).toBe(true);
    expect(check('proc.is_exe_from_memfd = true', (x) => x.exec(41, 1, '/usr/bin/ls', ['ls']))).toBe(false);
  });
});

describe('users', () => {
  const root = mkdtempSync(join(tmpdir(), 'vigil-users-'));
  mkdirSync(join(root, 'etc'));
  writeFileSync(join(root, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/bash\nwww-data:x:33:33:www:/var/www:/usr/sbin/nologin\n');
  writeFileSync(join(root, 'etc/group'), 'root:x:0:\nwww-data:x:33:\n');
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it("reads user and group names from the node's files; an unknown uid reads as its number", () => {
    const w = new World(new UserNames(root));
    const e = (uid: number) => w.event('open', { path: '/a', uid, gid: uid });
    expect(matches(compile('user.name = www-data and group.name = www-data'), e(33), w.x)).toBe(true);
    expect(matches(compile('user.name = root and user.uid = 0'), e(0), w.x)).toBe(true);
    expect(matches(compile('user.name = "4242" and group.name = "4242"'), e(4242), w.x)).toBe(true);
  });

  it('names a user added a moment ago (useradd replaces the file) in its first events, not only seconds later', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vigil-users-'));
    try {
      mkdirSync(join(dir, 'etc'));
      writeFileSync(join(dir, 'etc/passwd'), 'root:x:0:0::/root:/bin/sh\n');
      writeFileSync(join(dir, 'etc/group'), 'root:x:0:\n');
      const w = new World(new UserNames(dir));
      const e = (uid: number) => w.event('open', { path: '/a', uid, gid: uid });
      expect(matches(compile('user.name = "4243"'), e(4243), w.x)).toBe(true);
      // As useradd does: a new file renamed over the old one.
      writeFileSync(join(dir, 'etc/passwd.new'), 'root:x:0:0::/root:/bin/sh\nnewcomer:x:4243:4243::/home/newcomer:/bin/sh\n');
      renameSync(join(dir, 'etc/passwd.new'), join(dir, 'etc/passwd'));
      await new Promise((r) => setTimeout(r, 150));
      expect(matches(compile('user.name = newcomer'), e(4243), w.x)).toBe(true);
      // Edited in place (vipw, a config manager): named too.
      appendFileSync(join(dir, 'etc/passwd'), 'second:x:4244:4244::/:/bin/sh\n');
      await new Promise((r) => setTimeout(r, 150));
      expect(matches(compile('user.name = second'), e(4244), w.x)).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('compares a set*id call\'s uid with a user name, as Falco resolves evt.arg.uid, and with a number', () => {
    const w = new World(new UserNames(root));
    const setuid = (id: number, call = 'setuid') => w.event('setid', { call, id, uid: 0 });
    expect(matches(compile('evt.type = setuid and evt.arg.uid = www-data'), setuid(33), w.x)).toBe(true);
    expect(matches(compile('evt.type = setuid and evt.arg.uid = www-data'), setuid(0), w.x)).toBe(false);
    expect(matches(compile('evt.type = setuid and evt.arg.uid = 33'), setuid(33), w.x)).toBe(true);
    expect(matches(compile('evt.type = setuid and evt.arg.uid in (nobody, www-data)'), setuid(33), w.x)).toBe(true);
    expect(matches(compile('evt.type = setuid and evt.arg.uid != root'), setuid(33), w.x)).toBe(true);
    // evt.rawarg is the number only: a name is not a number there.
    expect(matches(compile('evt.type = setuid and evt.rawarg.uid = 33'), setuid(33), w.x)).toBe(true);
    expect(load(ruleYaml('evt.type = setuid and evt.rawarg.uid = www-data')).report.errors[0]!.message).toContain("'www-data' is not a number");
    expect(matches(compile('evt.type = setgid and evt.arg.gid = www-data'), setuid(33, 'setgid'), w.x)).toBe(true);
    // -1 (unchanged) prints as Falco prints it.
    expect(matches(compile('evt.type = setresuid and evt.arg.uid = "<NONE>"'), setuid(-1, 'setresuid'), w.x)).toBe(true);
  });

  it("reads the caller's effective and saved ids as a set*id call found them, on set*id events only", () => {
    const w = new World(new UserNames(root));
    // Real uid 0 (user.uid), effective 1000, saved 0: seteuid(0) takes root back.
    const back = w.event('setid', { call: 'setresuid', id: 0, uid: 0, gid: 0, euid: 1000, suid: 0, egid: 1000, sgid: 0 });
    expect(matches(compile('user.prev_euid = 1000 and user.prev_suid = 0 and user.uid = 0'), back, w.x)).toBe(true);
    expect(matches(compile('group.prev_egid = 1000 and group.prev_sgid = 0 and group.gid = 0'), back, w.x)).toBe(true);
    expect(matches(compile('user.prev_euid != 0'), back, w.x)).toBe(true);
    const noop = w.event('setid', { call: 'setresuid', id: 0, uid: 0, euid: 0, suid: 0 });
    expect(matches(compile('user.prev_euid != 0'), noop, w.x)).toBe(false);
    // Other events carry no such ids: missing, so no comparison holds.
    const open = w.event('open', { path: '/a', uid: 1000, result: 3 });
    expect(matches(compile('user.prev_euid = 0'), open, w.x)).toBe(false);
    expect(matches(compile('user.prev_euid != 0'), open, w.x)).toBe(false);
    const out = (text: string, e: typeof open): string => formatOutput(compileOutput(text, { file: 't', line: 1, col: 1 }), e, w.x).output;
    expect(out('%user.prev_euid', open)).toBe('<NA>');
    expect(out('%user.prev_euid %user.prev_suid %group.prev_egid', back)).toBe('1000 0 1000');
  });

  it('reads the ids a set*id call left, missing when the probe did not say', () => {
    const w = new World(new UserNames(root));
    const after = { uid: 1000, euid: 0, suid: 0, fsuid: 0, gid: 1000, egid: 0, sgid: 0, fsgid: 0 };
    // setfsuid(0) and setfsgid(0) of a process with fs ids 1000 before.
    const fs = w.event('setid', { call: 'setfsuid', id: 0, result: 1000, uid: 1000, gid: 1000, euid: 0, suid: 0, fsuid: 1000, fsgid: 1000, idsAfter: after });
    expect(matches(compile('user.prev_fsuid = 1000 and user.new_fsuid = 0 and group.prev_fsgid = 1000 and group.new_fsgid = 0'), fs, w.x)).toBe(true);
    expect(matches(compile('user.new_uid = 1000 and user.new_euid = 0 and user.new_suid = 0 and group.new_gid = 1000 and group.new_egid = 0 and group.new_sgid = 0'), fs, w.x)).toBe(true);
    const out = (text: string, e: typeof fs): string => formatOutput(compileOutput(text, { file: 't', line: 1, col: 1 }), e, w.x).output;
    expect(out('%user.prev_fsuid->%user.new_fsuid', fs)).toBe('1000->0');
    const unsaid = w.event('setid', { call: 'setfsuid', id: 0, result: 1000, uid: 1000, fsuid: 1000 });
    expect(matches(compile('user.new_fsuid = 0'), unsaid, w.x)).toBe(false);
    expect(matches(compile('user.new_fsuid != 0'), unsaid, w.x)).toBe(false);
    expect(out('%user.new_fsuid', unsaid)).toBe('<NA>');
    const open = w.event('open', { path: '/a', uid: 1000, result: 3 });
    expect(out('%user.prev_fsuid %user.new_euid', open)).toBe('<NA> <NA>');
  });

  it("loads incubating's Non sudo setuid, which compares evt.arg.uid with names", () => {
    const set = load(`- macro: somebody_becoming_themselves\n  condition: ((user.name=nobody and evt.arg.uid=nobody) or (user.name=www-data and evt.arg.uid=www-data))\n${ruleYaml('evt.type = setuid and not somebody_becoming_themselves and evt.arg.uid != root')}`);
    expect(set.report.errors).toEqual([]);
    expect(set.rules).toHaveLength(1);
  });
});

describe('sockets', () => {
  const connect = (w: World) => w.event('connect', { family: 2, addr: '10.0.0.1', port: 443, protocol: 'tcp', result: 0 });
  const accept = (w: World) => w.event('accept', { family: 2, addr: '10.0.0.9', port: 51000, localAddr: '10.0.0.1', localPort: 80, protocol: 'tcp', result: 5 });

  it('reads a connect: the server is the remote end, the local end is not seen', () => {
    expect(check('fd.name = "0.0.0.0:0->10.0.0.1:443"', connect)).toBe(true);
    expect(check('fd.sip = 10.0.0.1 and fd.sport = 443 and fd.rip = 10.0.0.1 and fd.rport = 443', connect)).toBe(true);
    expect(check('fd.dip = 10.0.0.1 and fd.dport = 443', connect)).toBe(true);
    expect(check('fd.cip exists or fd.lport exists', connect)).toBe(false);
    expect(check('fd.l4proto = tcp and fd.sockfamily = ip and fd.typechar = 4 and fd.type = ipv4', connect)).toBe(true);
    expect(check('evt.is_connect_ok = true', connect)).toBe(true);
  });

  it('reads an accept: the server is the local end', () => {
    expect(check('fd.name = "10.0.0.9:51000->10.0.0.1:80"', accept)).toBe(true);
    expect(check('fd.sip = 10.0.0.1 and fd.sport = 80 and fd.cip = 10.0.0.9 and fd.cport = 51000', accept)).toBe(true);
    expect(check('fd.lip = 10.0.0.1 and fd.rport = 51000', accept)).toBe(true);
  });

  it('matches addresses against networks, IPv4 and IPv6', () => {
    expect(check('fd.snet in ("10.0.0.0/8", "192.168.0.0/16")', connect)).toBe(true);
    expect(check('fd.sip in ("172.16.0.0/12")', connect)).toBe(false);
    expect(check('fd.net != "127.0.0.0/8"', connect)).toBe(true);
    expect(check('fd.ip = 10.0.0.9', accept)).toBe(true);
    expect(check('fd.port = 51000 and fd.port = 80', accept)).toBe(true);
    const v6 = (w: World) => w.event('connect', { family: 10, addr: '::1', port: 8080, protocol: 'tcp' });
    expect(check('fd.sip = "0:0:0:0:0:0:0:1" and fd.typechar = 6', v6)).toBe(true);
    expect(check('fd.snet in ("::1/128")', v6)).toBe(true);
    expect(check('fd.name = ":::0->::1:8080"', v6)).toBe(true);
  });

  it('reads unix sockets by path', () => {
    const unix = (w: World) => w.event('connect', { family: 1, unixPath: '/run/containerd/containerd.sock' });
    expect(check('fd.sockfamily = unix and fd.name endswith /containerd.sock and fd.typechar = u', unix)).toBe(true);
    expect(check('fd.sip exists', unix)).toBe(false);
  });

  it('reads a socket duplicated onto stdio as an outgoing connection', () => {
    const dup = (w: World) => w.event('dup', { family: 2, addr: '10.0.0.1', port: 4444, localAddr: '10.0.0.5', localPort: 40000, protocol: 'tcp', flags: 3, id: 0, result: 0 });
    expect(check('fd.name = "10.0.0.5:40000->10.0.0.1:4444" and evt.rawres = 0 and evt.arg.newfd = 0 and fd.num = 3', dup)).toBe(true);
    expect(check('fd.sip = 10.0.0.1 and fd.cip = 10.0.0.5 and fd.type in (ipv4, ipv6)', dup)).toBe(true);
  });

  it("reads a datagram to a new peer as Falco's outbound macro asks: the peer is the server, not connected, a new name", () => {
    const send = (w: World) => w.event('send', { family: 2, addr: '198.51.100.7', port: 53, protocol: 'udp', call: 'sendto', result: 1 });
    expect(check('evt.type = sendto and fd.sip = 198.51.100.7 and fd.sport = 53 and fd.l4proto = udp and fd.typechar = 4', send)).toBe(true);
    expect(check('fd.name = "0.0.0.0:0->198.51.100.7:53"', send)).toBe(true);
    const outbound = '(evt.type = connect or (evt.type in (sendto, sendmsg) and fd.l4proto != tcp and fd.connected = false and fd.name_changed = true)) and fd.net != "127.0.0.0/8" and evt.rawres >= 0';
    expect(check(outbound, send)).toBe(true);
    expect(check(outbound, connect)).toBe(true);
    expect(check('fd.connected = true and fd.name_changed = true', connect)).toBe(true);
    expect(check('fd.connected = true', (w) => w.event('connect', { family: 2, addr: '10.0.0.1', port: 443, protocol: 'tcp', result: -111 }))).toBe(false);
    expect(check('fd.connected = true', accept)).toBe(true);
  });
});

describe('files', () => {
  const open = (path: string) => (w: World) => w.event('open', { path, flags: O_RDONLY, result: 3 });

  it('splits a path into directory and file name', () => {
    expect(check('fd.directory = /etc/ssh and fd.filename = sshd_config', open('/etc/ssh/sshd_config'))).toBe(true);
    expect(check('fd.directory = / and fd.filename = vmlinuz', open('/vmlinuz'))).toBe(true);
  });

  it('uses the old path as fd.name of a rename', () => {
    expect(check('fd.name = /tmp/a and evt.arg.newpath = /etc/a', (w) => w.event('rename', { path: '/tmp/a', path2: '/etc/a' }))).toBe(true);
  });

  it('compares with every operator', () => {
    const p = open('/home/alice/.ssh/id_rsa');
    expect(check('fd.name contains /.ssh/', p)).toBe(true);
    expect(check('fd.name icontains /.SSH/ID_', p)).toBe(true);
    expect(check('fd.name startswith /home/', p)).toBe(true);
    expect(check('fd.name endswith id_rsa', p)).toBe(true);
    expect(check("fd.name glob '/home/*/.ssh/*'", p)).toBe(true);
    expect(check("fd.name glob '/home/?lice/.ssh/id_[rd]sa'", p)).toBe(true);
    expect(check("fd.name glob '/root/*'", p)).toBe(false);
    expect(check("fd.name iglob '/HOME/*'", p)).toBe(true);
    expect(check('fd.name pmatch (/etc, /home/alice)', p)).toBe(true);
    expect(check('fd.name pmatch (/home/al)', p)).toBe(false);
    expect(check('fd.name in (/etc/shadow, /home/alice/.ssh/id_rsa)', p)).toBe(true);
    expect(check('fd.name intersects (/home/alice/.ssh/id_rsa)', p)).toBe(true);
    expect(check('fd.name regex "id_(rsa|dsa)$"', p)).toBe(true);
    expect(check('fd.name > /a and fd.name < /z', p)).toBe(true);
  });
});

describe('containers and workloads', () => {
  const on = (wl: ReturnType<typeof workload>) => (w: World) => w.event('open', { path: '/a' }, wl);

  it("reads container.id as 'host' for the host, the cgroup's last component otherwise, the real id when known", () => {
    expect(check('container.id = host', on(HOST))).toBe(true);
    expect(check('container.id != host', on(HOST))).toBe(false);
    expect(check('container.id = web and container.name = /shop/web', on(workload()))).toBe(true);
    const id = '0123abcd4567'.padEnd(64, 'e');
    expect(check('container.id = 0123abcd4567 and container.full_id = ' + id, on(workload({ containerId: id })))).toBe(true);
  });

  const image = (over: Partial<ContainerInfo> = {}): Workload => {
    const id = 'f00d'.repeat(16);
    return workload({
      key: 'docker:image/shop/web', name: 'shop/web', kind: 'container', container: 'web-1', containerId: id,
      containerInfo: {
        id, name: 'web-1', runtime: 'docker', image: 'shop/web:2.1', imageRepository: 'shop/web', imageTag: '2.1', imageDigest: 'sha256:' + 'a'.repeat(64),
        imageId: 'sha256:' + 'b'.repeat(64), privileged: false, labels: { team: 'shop', 'com.example/tier': 'front' }, createdAt: 1_700_000_000_123, pod: null, sandbox: false,
        ...over,
      },
    });
  };

  it('reads what the runtime says of the container: name, type, image and its parts, privileged, labels, creation time', () => {
    const w = image();
    expect(check('container.name = web-1 and container.type = docker and container.image = "shop/web:2.1"', on(w))).toBe(true);
    expect(check('container.image.repository = shop/web and container.image.tag = "2.1" and container.image.digest startswith sha256:aaa', on(w))).toBe(true);
    expect(check('container.image.id startswith sha256:bbb and container.privileged = false', on(w))).toBe(true);
    expect(check('container.label[team] = shop and container.label[com.example/tier] = front and container.labels contains "team:shop"', on(w))).toBe(true);
    expect(check('container.start_ts = 1700000000123000000', on(w))).toBe(true);
    expect(check('container.privileged = true', on(image({ privileged: true })))).toBe(true);
    // An exception list of images: the container of a listed image stays quiet.
    expect(check('not container.image.repository in (trusted/x, shop/web)', on(w))).toBe(false);
    expect(check('not container.image.repository in (trusted/x)', on(w))).toBe(true);
    // Not known (not a container, or its runtime did not say): missing, so every comparison is false.
    expect(check('container.privileged = false', on(workload()))).toBe(false);
    expect(check('container.image.repository exists', on(workload()))).toBe(false);
  });

  it('reads a pod\'s uid and labels from its sandbox', () => {
    const pod = { uid: '4afa7565-8b03-4cc5-aab0-38279c007002', name: 'web-7d4b9c8f6-x2k9p', namespace: 'shop', labels: { app: 'web' }, annotations: {} };
    const w = { ...image({ pod, runtime: 'containerd' }), kind: 'k8s' as const, namespace: 'shop', pod: pod.name, labels: pod.labels };
    expect(check('k8s.pod.uid = 4afa7565-8b03-4cc5-aab0-38279c007002 and k8s.pod.labels = "app:web" and container.type = containerd', on(w))).toBe(true);
  });

  it('reads Kubernetes identity when there is one, and nothing off-cluster', () => {
    const pod = workload({ kind: 'k8s', name: 'web', namespace: 'shop', pod: 'web-7d9f', labels: { app: 'web' } });
    expect(check('k8s.ns.name = shop and k8s.pod.name = web-7d9f and k8s.pod.label[app] = web', on(pod))).toBe(true);
    expect(check('k8s.ns.name exists', on(workload()))).toBe(false);
    expect(check('workload.name = /shop/web and workload.kind = cgroup and workload.mode = learn', on(workload()))).toBe(true);
  });
});

describe('what the probe reads of a process', () => {
  const SYS_ADMIN = 2 ** 21;
  const SYS_MODULE = 2 ** 16;
  const BPF = 2 ** 39;

  it('reads capabilities as Falco prints them, from the exec and then from the process', () => {
    const w = new World();
    const e = w.exec(300, 1, '/bin/sh', ['sh'], workload(), { capEffective: SYS_ADMIN + SYS_MODULE + BPF, capPermitted: SYS_ADMIN + SYS_MODULE + BPF });
    expect(matches(compile('thread.cap_effective = "CAP_SYS_MODULE CAP_SYS_ADMIN CAP_BPF"'), e, w.x)).toBe(true);
    expect(matches(compile('thread.cap_effective icontains sys_module and thread.cap_permitted contains CAP_BPF'), e, w.x)).toBe(true);
    const open = w.event('open', { pid: 300, path: '/sys/fs/cgroup/x/release_agent', flags: O_WRONLY, result: 3 });
    expect(matches(compile('thread.cap_effective contains CAP_SYS_ADMIN'), open, w.x)).toBe(true);
    // Dropped by a set*id: the process's set follows.
    w.event('setid', { pid: 300, call: 'setuid', id: 1000, capEffective: 0, capPermitted: 0 });
    const again = w.event('open', { pid: 300, path: '/etc/hosts', flags: O_RDONLY, result: 3 });
    expect(matches(compile('thread.cap_effective contains CAP_SYS_ADMIN'), again, w.x)).toBe(false);
    expect(matches(compile('thread.cap_effective = ""'), again, w.x)).toBe(true);
    // A process nothing was read about: missing.
    const stranger = w.event('open', { pid: 999, path: '/etc/hosts', flags: O_RDONLY, result: 3 });
    expect(matches(compile('thread.cap_effective exists'), stranger, w.x)).toBe(false);
  });

  it('reads the login uid and its user name, the namespace pid and the parent\'s, and the executable\'s layer', () => {
    const root = mkdtempSync(join(tmpdir(), 'vigil-loginuid-'));
    mkdirSync(join(root, 'etc'));
    writeFileSync(join(root, 'etc/passwd'), 'root:x:0:0::/root:/bin/sh\nalice:x:1000:1000::/home/alice:/bin/sh\n');
    writeFileSync(join(root, 'etc/group'), 'root:x:0:\n');
    const w = new World(new UserNames(root));
    w.exec(400, 1, '/usr/sbin/sshd', ['sshd'], workload(), { loginuid: 1000, vpid: 7 });
    const e = w.exec(401, 400, '/tmp/dropped', ['dropped'], workload(), { loginuid: 1000, vpid: 8, exeLayer: 3 });
    expect(matches(compile('user.loginuid = 1000 and user.loginname = alice'), e, w.x)).toBe(true);
    expect(matches(compile('proc.vpid = 8 and proc.pvpid = 7 and proc.is_exe_upper_layer = true'), e, w.x)).toBe(true);
    const later = w.event('open', { pid: 401, path: '/etc/hosts', flags: O_RDONLY, result: 3 });
    expect(matches(compile('proc.is_exe_upper_layer = true and proc.vpid = 8'), later, w.x)).toBe(true);
    const image = w.exec(402, 400, '/bin/ls', ['ls'], workload(), { loginuid: 4294967295, vpid: 9, exeLayer: 1 });
    expect(matches(compile('proc.is_exe_upper_layer = false and user.loginuid = -1'), image, w.x)).toBe(true);
    expect(matches(compile('user.loginname exists'), image, w.x)).toBe(false);
    rmSync(root, { recursive: true, force: true });
  });
});
