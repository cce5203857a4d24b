// Fields of the process, its parent and ancestors (Falco's proc.* and
// thread.* classes), and of its user and group (user.*, group.*).
import { execMore, EXE_UPPER_LAYER, setidMore, stdioKind, type Event, type ExecMore, type SetidMore, type TaskIds } from '../../model/event.js';
import type { Process } from '../../model/process.js';
import { envValue } from '../../model/env.js';
import { MAX_ANCESTORS, type FieldContext } from './context.js';
import { moreJs, nonEmpty, types, type FieldDef, type FieldGetter } from './field-def.js';
import type { FieldKind, FieldValue } from './field-types.js';
import { capabilitiesName } from './syscall-values.js';

function capabilities(bits: number | null | undefined): string | undefined {
  return bits === null || bits === undefined ? undefined : capabilitiesName(bits);
}

/** The process's executable path; for exec events the file just run. */
function exepath(e: Event): string | undefined {
  if (e.type === 'exec') return nonEmpty(e.path);
  return e.process ? nonEmpty(e.process.exe) : undefined;
}

/** A set*id event's id as the call found it (SetidMore.euid & co.). */
function beforeSetId(name: string, prop: 'euid' | 'suid' | 'fsuid' | 'egid' | 'sgid' | 'fsgid', what: string): Record<string, FieldDef> {
  return {
    [name]: {
      kind: 'number', desc: `Vigil: set*id calls: the caller's ${what} before the call (the real one is ${name.startsWith('user') ? 'user.uid' : 'group.gid'})`,
      on: types('setid'), get: (e) => setidMore(e)[prop], inline: () => ({ js: moreJs<SetidMore>(prop), missing: false }),
    },
  };
}

/** A set*id event's id as the call left it (SetidMore.idsAfter); missing from a probe that does not say. */
function afterSetId(name: string, prop: keyof TaskIds, what: string): Record<string, FieldDef> {
  return {
    [name]: {
      kind: 'number', desc: `Vigil: set*id calls: the caller's ${what} after the call (whether a change took effect)`,
      on: types('setid'), get: (e) => setidMore(e).idsAfter?.[prop],
    },
  };
}

/** proc.aname & co.: one reader of a process, at an ancestor level or (without an index) any ancestor. */
function ancestorField(desc: string, kind: FieldKind, read: (p: Process, x: FieldContext) => FieldValue | undefined, self: FieldGetter): FieldDef {
  return {
    kind,
    desc,
    arg: 'optional-index',
    get(e, x, arg) {
      const n = arg as number;
      if (n < 0) return undefined; // any-ancestor form: filters only
      if (n === 0) return self(e, x, -1);
      const p = x.ancestor(e.process, n);
      return p ? read(p, x) : undefined;
    },
    some(e, x, _arg, pred) {
      let p = x.parent(e.process);
      for (let i = 0; p && i < MAX_ANCESTORS; i++) {
        const v = read(p, x);
        if (v !== undefined && pred(v)) return true;
        const next = x.parent(p);
        if (next === p) break;
        p = next;
      }
      return false;
    },
  };
}

/** proc.stdin.type & co.: what a standard descriptor was at the process's last exec, named as fd.type names it. */
function stdioField(fd: 0 | 1 | 2, name: string): FieldDef {
  return {
    kind: 'string',
    desc: `what ${name} (fd ${fd}) was when the process last exec-ed: file, directory, pipe, ipv4, ipv6, unix, socket or other; missing when closed or unknown`,
    get: (e) => {
      const stdio = e.type === 'exec' ? execMore(e).stdio : e.process?.stdio ?? 0;
      return stdio ? stdioKind(stdio, fd) : undefined;
    },
  };
}

/** The environment at the process's last exec (redacted as the probe sends it), undefined when unknown. */
function procEnv(e: Event): readonly string[] | undefined {
  if (e.type === 'exec') return execMore(e).env;
  return e.process?.env ?? undefined;
}

/** Levels proc.aenv[NAME] looks up, as Falco's. */
const MAX_AENV_LEVELS = 20;

const procName: FieldGetter = (e) => nonEmpty(e.comm);
const procExe: FieldGetter = (e, x) => (e.process && e.process.argv.length > 0 ? x.argv(e.process.argv)[0] : undefined);
const procExepath: FieldGetter = (e) => exepath(e);
const procCmdline: FieldGetter = (e, x) => (e.process ? x.cmdline(e.comm, e.process.argv) : nonEmpty(e.comm));
const procPid: FieldGetter = (e) => e.pid;

export const PROCESS_FIELDS: Record<string, FieldDef> = {
  'proc.name': { kind: 'string', desc: 'the process name (comm, at most 15 characters)', get: procName, inline: () => ({ js: 'e.comm', missing: false }), reads: () => 'comm' },
  'proc.exe': { kind: 'string', desc: 'argv[0]', get: procExe },
  'proc.exepath': {
    kind: 'string', desc: 'the executable, absolute, symlinks resolved', get: procExepath,
    inline: (t) => (t === 'exec' ? { js: 'e.path', missing: false } : null),
    reads: (t) => (t === 'exec' ? 'path' : null),
  },
  'proc.tool': {
    kind: 'string',
    desc: "Vigil: what the executable is, whatever it is called: a known tool (shell, netcat, scanner, miner) by its content or inode, hashed from this node's binaries at start-up; else the basename of the file run (symlinks resolved)",
    get: (e) => (e.process ? nonEmpty(e.process.tool) : undefined),
  },
  'proc.exe_ino': { kind: 'number', desc: 'exec: the inode number of the file run', on: types('exec'), get: (e) => (e.ino ? e.ino : undefined) },
  'proc.exe_sha256': { kind: 'string', desc: "Vigil: exec: the sha256 of the file run (the probe's, cached per inode and change time)", on: types('exec'), get: (e) => nonEmpty(execMore(e).sha256) },
  'proc.stdin.type': stdioField(0, 'stdin'),
  'proc.stdout.type': stdioField(1, 'stdout'),
  'proc.stderr.type': stdioField(2, 'stderr'),
  'proc.args': { kind: 'string', desc: 'the arguments (argv[1..]) joined by spaces', get: (e, x) => (e.process ? x.args(e.process.argv) : undefined) },
  'proc.cmdline': { kind: 'string', desc: 'proc.name and proc.args', get: procCmdline },
  'proc.env': {
    kind: 'string',
    desc: "the environment at the process's exec, 'NAME=value NAME2=value2'; proc.env[NAME]: one variable's value. Every name, but values only of LD_PRELOAD, LD_AUDIT, LD_LIBRARY_PATH, GLIBC_TUNABLES, PATH and the *_PROXY variables (a proxy URL's user and password redacted): any other reads NAME=<redacted>",
    arg: 'optional-key',
    get: (e, _x, arg) => {
      const env = procEnv(e);
      if (!env) return undefined;
      return arg === '' ? env.join(' ') : envValue(env, arg as string);
    },
  },
  'proc.aenv': {
    kind: 'string',
    desc: "an ancestor's environment, redacted as proc.env: proc.aenv[N] the N-th ancestor's (0 the process itself), proc.aenv[NAME] the value of NAME in the nearest ancestor that has it (the parent first, 20 levels at most), and without an argument, in filters, any ancestor's (as proc.aname); in an output, the process's own",
    arg: 'optional-key',
    get: (e, x, arg) => {
      const a = arg as string;
      if (a === '' || a === '0') return procEnv(e)?.join(' ');
      if (/^\d+$/.test(a)) return x.ancestor(e.process, Number(a))?.env?.join(' ');
      let p = x.parent(e.process);
      for (let i = 0; p && i < MAX_AENV_LEVELS; i++) {
        const v = p.env ? envValue(p.env, a) : undefined;
        if (v !== undefined) return v;
        const next = x.parent(p);
        if (next === p) break;
        p = next;
      }
      return undefined;
    },
    some(e, x, _arg, pred) {
      let p = x.parent(e.process);
      for (let i = 0; p && i < MAX_ANCESTORS; i++) {
        if (p.env && pred(p.env.join(' '))) return true;
        const next = x.parent(p);
        if (next === p) break;
        p = next;
      }
      return false;
    },
  },
  'proc.env_truncated': {
    kind: 'bool',
    desc: 'Vigil: exec: the environment was longer than the probe reads (8 KiB, 256 variables): variables past the cut, LD_PRELOAD among them, are not seen',
    on: types('exec'),
    get: (e) => execMore(e).envTruncated,
    inline: (t) => (t === 'exec' ? { js: moreJs<ExecMore>('envTruncated'), missing: false } : null),
  },
  'proc.cwd': {
    kind: 'string', desc: 'the working directory, ending with /',
    get: (e) => {
      const cwd = e.type === 'exec' ? execMore(e).cwd : e.process?.cwd ?? '';
      return cwd === '' ? undefined : cwd.endsWith('/') ? cwd : `${cwd}/`;
    },
  },
  'proc.pid': { kind: 'number', desc: 'the process id', get: procPid, inline: () => ({ js: 'e.pid', missing: false }) },
  'proc.tty': {
    kind: 'number', desc: 'the controlling terminal (major << 20 | minor), 0 if none',
    get: (e) => (e.type === 'exec' ? execMore(e).tty : e.process?.tty),
    inline: (t) => (t === 'exec' ? { js: moreJs<ExecMore>('tty'), missing: false } : null),
  },
  'proc.ppid': { kind: 'number', desc: 'the parent process id', get: (e) => e.ppid, inline: () => ({ js: 'e.ppid', missing: false }) },
  'thread.tid': { kind: 'number', desc: 'the thread id', get: (e) => e.tid, inline: () => ({ js: 'e.tid', missing: false }) },
  'proc.pname': { kind: 'string', desc: "the parent's name", get: (e, x) => x.parent(e.process)?.comm || undefined },
  'proc.pexe': { kind: 'string', desc: "the parent's argv[0]", get: (e, x) => {
      const p = x.parent(e.process);
      return p && p.argv.length > 0 ? x.argv(p.argv)[0] : undefined;
    },
  },
  'proc.pexepath': { kind: 'string', desc: "the parent's executable path", get: (e, x) => x.parent(e.process)?.exe || undefined },
  'proc.pcmdline': {
    kind: 'string', desc: "the parent's command line",
    get: (e, x) => {
      const p = x.parent(e.process);
      return p ? x.cmdline(p.comm, p.argv) : undefined;
    },
  },
  'proc.aname': ancestorField('the name of an ancestor (proc.aname[1] the parent, [2] the grandparent…); without an index, any ancestor', 'string', (p) => p.comm || undefined, procName),
  'proc.aexe': ancestorField("an ancestor's argv[0]", 'string', (p, x) => (p.argv.length > 0 ? x.argv(p.argv)[0] : undefined), procExe),
  'proc.aexepath': ancestorField("an ancestor's executable path", 'string', (p) => p.exe || undefined, procExepath),
  'proc.acmdline': ancestorField("an ancestor's command line", 'string', (p, x) => x.cmdline(p.comm, p.argv), procCmdline),
  'proc.apid': ancestorField("an ancestor's pid", 'number', (p) => p.pid, procPid),
  'proc.duration': {
    kind: 'number', desc: 'nanoseconds since the process started (known for processes forked while Vigil watched)',
    get: (e, x) => {
      const start = e.process ? x.startOf(e.process) : undefined;
      return start === undefined ? undefined : e.ktimeNs - start;
    },
  },
  'proc.is_exe_from_memfd': {
    // A memfd's dentry is its own root, with no directory above it: the
    // probe reports its name as the path ("/memfd:NAME"); older probes sent "/".
    kind: 'bool', desc: 'the executable is an anonymous in-memory file (memfd_create): its path reads "/" or memfd:…',
    get: (e) => {
      const p = exepath(e);
      return p === undefined ? undefined : p === '/' || p.startsWith('/memfd:') || p.startsWith('memfd:');
    },
    reads: (t) => (t === 'exec' ? 'path' : null),
  },

  'proc.is_exe_upper_layer': {
    kind: 'bool', desc: "the executable is on an overlay's upper (writable) layer: written or changed after the container started, not from its image",
    get: (e) => (e.type === 'exec' ? (execMore(e).exeLayer & EXE_UPPER_LAYER) !== 0 : e.process?.exeUpperLayer ?? undefined),
    inline: (t) => (t === 'exec' ? { js: `((${moreJs<ExecMore>('exeLayer')} & ${EXE_UPPER_LAYER}) !== 0)`, missing: false } : null),
  },
  'proc.vpid': {
    kind: 'number', desc: 'the process id in its own pid namespace (as the container sees it)',
    get: (e) => (e.type === 'exec' ? execMore(e).vpid || undefined : e.process?.vpid || undefined),
  },
  'proc.pvpid': { kind: 'number', desc: "the parent's process id in its own pid namespace", get: (e, x) => x.parent(e.process)?.vpid || undefined },
  'thread.cap_effective': {
    kind: 'string', desc: 'the effective capabilities, as names separated by spaces (CAP_CHOWN CAP_KILL …); read at exec, fork and set*id',
    get: (e) => capabilities(e.type === 'exec' ? execMore(e).capEffective : e.type === 'setid' ? setidMore(e).capEffective : e.process?.capEffective),
  },
  'thread.cap_permitted': {
    kind: 'string', desc: 'the permitted capabilities, as thread.cap_effective',
    get: (e) => capabilities(e.type === 'exec' ? execMore(e).capPermitted : e.type === 'setid' ? setidMore(e).capPermitted : e.process?.capPermitted),
  },

  // -- user
  'user.loginuid': {
    kind: 'number', desc: 'the audit login uid: who logged in before any su or sudo; -1 when nobody did',
    get: (e) => e.process?.loginuid ?? undefined,
  },
  'user.loginname': {
    kind: 'string', desc: "the user name of user.loginuid, as user.name names a uid",
    get: (e, x) => {
      const l = e.process?.loginuid;
      return l === null || l === undefined || l < 0 ? undefined : x.users.user(e, l);
    },
  },
  'user.uid': { kind: 'number', desc: 'the user id', get: (e) => e.uid, inline: () => ({ js: 'e.uid', missing: false }) },
  'user.name': { kind: 'string', desc: "the user name from the /etc/passwd of the process's own root: a container's own (read through /proc/<pid>/root), the node's for the node's processes; the uid as text when unknown or when the container's file cannot be read (no /etc/passwd, a symlink, no live process left)", get: (e, x) => x.users.user(e, e.uid) },
  'group.gid': { kind: 'number', desc: 'the group id', get: (e) => e.gid, inline: () => ({ js: 'e.gid', missing: false }) },
  'group.name': { kind: 'string', desc: "the group name from the /etc/group of the process's own root, as user.name (the gid as text when unknown)", get: (e, x) => x.users.group(e, e.gid) },
  // The caller's ids before and after a set*id call (Falco has no such
  // fields: its rules read user.uid at the call's entry event). What tells
  // root's no-op setuid(0) from a process taking root back, and a refused
  // setfsuid(0) (it returns the old fsuid, not an error) from one that took.
  ...beforeSetId('user.prev_euid', 'euid', 'effective uid'),
  ...beforeSetId('user.prev_suid', 'suid', 'saved uid'),
  ...beforeSetId('user.prev_fsuid', 'fsuid', 'file system uid'),
  ...beforeSetId('group.prev_egid', 'egid', 'effective gid'),
  ...beforeSetId('group.prev_sgid', 'sgid', 'saved gid'),
  ...beforeSetId('group.prev_fsgid', 'fsgid', 'file system gid'),
  ...afterSetId('user.new_uid', 'uid', 'real uid'),
  ...afterSetId('user.new_euid', 'euid', 'effective uid'),
  ...afterSetId('user.new_suid', 'suid', 'saved uid'),
  ...afterSetId('user.new_fsuid', 'fsuid', 'file system uid'),
  ...afterSetId('group.new_gid', 'gid', 'real gid'),
  ...afterSetId('group.new_egid', 'egid', 'effective gid'),
  ...afterSetId('group.new_sgid', 'sgid', 'saved gid'),
  ...afterSetId('group.new_fsgid', 'fsgid', 'file system gid'),
};
