// The syscall's arguments (Falco's evt.arg.NAME and evt.rawarg.NAME), by
// the names Falco's event table gives them, on the Vigil event types that
// carry them. evt.rawarg reads the raw value; evt.arg reads it as Falco
// prints it: a number that has a text (a uid's user name, open flags'
// names) prints, and compares with a name, as that text (the number still
// compares with a number: `evt.arg.uid = 0` and `evt.arg.uid = root`).
import { execMore, forkMore, type Event, type EventType } from '../../model/event.js';
import type { FieldContext } from './context.js';
import { nonEmpty, RESULT_TYPES, types, type FieldDef } from './field-def.js';
import type { FieldKind } from './field-types.js';
import { bpfCommandName, familyName, socketTypeName } from './syscall-names.js';
import { modeName, namespaceFlagsName, openFlagsName, ptraceRequestName, resultName } from './syscall-values.js';

interface Arg {
  kind: FieldKind;
  desc: string;
  on: ReadonlySet<EventType>;
  get(e: Event, x: FieldContext): string | number | undefined;
  /** JavaScript reading the raw value (never missing), inlined into compiled rules; by event type where it differs. */
  js?: string | ((t: EventType) => string);
  /** The value as Falco prints it, for numbers that have a text. */
  text?(e: Event, x: FieldContext): string | undefined;
  /** The memoisable property a string argument is (filters.ts); by event type where it differs. */
  dim?: 'path' | 'path2' | ((t: EventType) => 'path' | 'path2');
}

/** The uid or gid a setid call asks for, -1 (unchanged) as Falco prints it. */
function idText(id: number, name: (n: number) => string): string {
  return id < 0 ? '<NONE>' : name(id);
}

const path = (desc: string, ...on: EventType[]): Arg => ({ kind: 'string', desc, on: types(...on), get: (e) => nonEmpty(e.path), dim: 'path' });
const path2 = (desc: string, ...on: EventType[]): Arg => ({ kind: 'string', desc, on: types(...on), get: (e) => nonEmpty(e.path2), dim: 'path2' });

/** By Falco's argument name. */
const ARGS: Record<string, Arg> = {
  res: {
    kind: 'number', desc: 'the return value (an fd, 0, -errno); as text the errno name or the number', on: RESULT_TYPES,
    get: (e) => (e.type === 'fork' ? forkMore(e).childPid : e.result),
    text: (e) => {
      const r = e.type === 'fork' ? forkMore(e).childPid : e.result;
      return r < 0 ? resultName(r) : String(r);
    },
  },
  fd: { kind: 'number', desc: 'open: the new descriptor (-errno when the open failed)', on: types('open'), get: (e) => e.result, js: 'e.result' },
  name: path('open: the path; unlink (unlinkat): the path', 'open', 'unlink'),
  path: path('unlink, rmdir, mkdir: the path; chmod (Vigil): the path', 'unlink', 'chmod', 'mkdir'),
  filename: {
    kind: 'string', desc: 'chmod: the path; exec: the file name as passed to execve', on: types('chmod', 'exec'),
    get: (e) => nonEmpty(e.type === 'exec' ? execMore(e).filename : e.path),
  },
  // link(at) has oldpath (the existing file) and newpath (the new name); a link event keeps the new name in path.
  oldpath: {
    kind: 'string', desc: 'rename: the old path; link: the existing file', on: types('rename', 'link'),
    get: (e) => nonEmpty(e.type === 'link' ? e.path2 : e.path), dim: (t) => (t === 'link' ? 'path2' : 'path'),
  },
  newpath: {
    kind: 'string', desc: 'rename: the new path; link: the new name', on: types('rename', 'link'),
    get: (e) => nonEmpty(e.type === 'link' ? e.path : e.path2), js: (t) => (t === 'link' ? 'e.path' : 'e.path2'),
    dim: (t) => (t === 'link' ? 'path' : 'path2'),
  },
  // symlink(at) has target (kept as given, not resolved) and linkpath.
  target: path2("symlink/link: the target (a symlink's as given, not resolved)", 'link'),
  linkpath: path('symlink/link: the new name', 'link'),
  flags: {
    kind: 'number', desc: 'open: the O_* flags (as text O_WRONLY|O_CREAT|…); rename: RENAME_*; mount: MS_*; unshare: CLONE_NEW* (as text); userfaultfd: O_*; io_uring_setup: IORING_SETUP_*',
    on: types('open', 'rename', 'mount', 'namespace', 'userfaultfd', 'iouring'), get: (e) => e.flags, js: 'e.flags',
    text: (e) => (e.type === 'open' ? openFlagsName(e.flags) : e.type === 'namespace' ? namespaceFlagsName(e.flags) : String(e.flags)),
  },
  mode: {
    kind: 'number', desc: 'open/chmod: the mode (as text S_ISUID|S_IRUSR|…)', on: types('open', 'chmod'), get: (e) => e.mode, js: 'e.mode',
    text: (e) => modeName(e.mode),
  },
  request: {
    kind: 'number', desc: 'ptrace: the request (as text PTRACE_ATTACH, …)', on: types('ptrace'), get: (e) => e.id, js: 'e.id',
    text: (e) => ptraceRequestName(e.id),
  },
  pid: { kind: 'number', desc: 'ptrace: the target pid', on: types('ptrace'), get: (e) => e.targetPid, js: 'e.targetPid' },
  uid: {
    kind: 'number', desc: "setuid family: the uid asked for (-1: unchanged); as text the user name, as user.name names a uid (the caller's container's /etc/passwd, or the node's)", on: types('setid'),
    get: (e) => (e.call.includes('uid') ? e.id : undefined),
    text: (e, x) => (e.call.includes('uid') ? idText(e.id, (n) => x.users.user(e, n)) : undefined),
  },
  gid: {
    kind: 'number', desc: "setgid family: the gid asked for (-1: unchanged); as text the group name, as group.name names a gid", on: types('setid'),
    get: (e) => (e.call.includes('gid') ? e.id : undefined),
    text: (e, x) => (e.call.includes('gid') ? idText(e.id, (n) => x.users.group(e, n)) : undefined),
  },
  dev: path2('mount: the source', 'mount'),
  dir: path('mount: the target', 'mount'),
  type: {
    kind: 'string', desc: 'mount: the file system type; socket: the socket type (SOCK_RAW, …)', on: types('mount', 'socket'),
    get: (e) => (e.type === 'socket' ? socketTypeName(e.flags) : nonEmpty(e.call)),
  },
  domain: {
    kind: 'number', desc: 'socket: the address family (as text AF_PACKET, AF_INET, …)', on: types('socket'), get: (e) => e.family, js: 'e.family',
    text: (e) => familyName(e.family),
  },
  cmd: {
    kind: 'number', desc: 'bpf: the command (as text BPF_PROG_LOAD, …)', on: types('bpf'), get: (e) => e.id, js: 'e.id',
    text: (e) => bpfCommandName(e.id),
  },
  nstype: {
    kind: 'number', desc: 'setns: the namespace type asked for; unshare: the CLONE_NEW* flags (as text CLONE_NEWUSER|…)', on: types('namespace'),
    get: (e) => e.id, js: 'e.id', text: (e) => namespaceFlagsName(e.id),
  },
  oldfd: { kind: 'number', desc: 'dup: the descriptor duplicated', on: types('dup'), get: (e) => e.flags, js: 'e.flags' },
  newfd: { kind: 'number', desc: 'dup: the new descriptor (0, 1 or 2)', on: types('dup'), get: (e) => e.id, js: 'e.id' },
  exe: { kind: 'string', desc: 'exec: argv[0]', on: types('exec'), get: (e, x) => {
    const { argv } = execMore(e);
    return argv.length > 0 ? x.argv(argv)[0] : undefined;
  } },
  cwd: { kind: 'string', desc: 'exec: the working directory', on: types('exec'), get: (e) => nonEmpty(execMore(e).cwd) },
};

/** Vigil's own names for raw values it had before Falco's (kept for rule files that use them). */
const VIGIL_ARGS: Record<string, FieldDef> = {
  'evt.arg.flags_raw': { kind: 'number', desc: 'Vigil: the raw flags (open O_*, mount MS_*, unshare CLONE_NEW*, userfaultfd O_*, io_uring_setup IORING_SETUP_*), as evt.rawarg.flags', on: types('open', 'rename', 'mount', 'namespace', 'userfaultfd', 'iouring'), get: (e) => e.flags, inline: () => ({ js: 'e.flags', missing: false }) },
  'evt.arg.op': { kind: 'string', desc: 'Vigil: io_uring_enter: the operation submitted (IORING_OP_* in lower case)', on: types('iouring'), get: (e) => nonEmpty(e.path2), reads: () => 'path2' },
};

function fieldsOf(name: string, a: Arg): [string, FieldDef][] {
  const js = a.js;
  const inline = js ? (t: EventType) => ({ js: typeof js === 'string' ? js : js(t), missing: false }) : undefined;
  const dim = a.dim;
  const reads = dim ? (t: EventType) => (typeof dim === 'string' ? dim : dim(t)) : undefined;
  const get = (e: Event, x: FieldContext): string | number | undefined => a.get(e, x);
  const raw: FieldDef = { kind: a.kind, desc: a.desc, on: a.on, get, inline, reads };
  const printed: FieldDef = { ...raw, text: a.text };
  return [[`evt.arg.${name}`, printed], [`evt.rawarg.${name}`, raw]];
}

export const ARG_FIELDS: Record<string, FieldDef> = {
  ...Object.fromEntries(Object.entries(ARGS).flatMap(([n, a]) => fieldsOf(n, a))),
  ...VIGIL_ARGS,
  'evt.args': {
    kind: 'string', desc: 'every argument Vigil has of the event, as name=value (evt.arg.NAME) separated by spaces',
    get: (e, x) => {
      const out: string[] = [];
      for (const [n, a] of Object.entries(ARGS)) {
        if (!a.on.has(e.type)) continue;
        const v = a.text ? a.text(e, x) : a.get(e, x);
        if (v !== undefined) out.push(`${n}=${v}`);
      }
      return out.join(' ');
    },
  },
};
