// The fields a condition or an output can name: for each, how to read it
// from an Event (plus its process, parent chain and workload), which
// Vigil event types it has a value on, and — for the hot ones — the
// plain-property JavaScript the compiler inlines. A field read on an
// event type it does not apply to, or whose value is unknown, is
// "missing": every comparison with it is false, as in Falco.
import { EVENT_TYPES, type Event, type EventType } from '../../model/event.js';
import { EVENT_KINDS, type EventKind } from '../../model/event-kinds.js';
import type { Process } from '../../model/process.js';
import { isIpClass, OPEN_CREAT, OPEN_DIRECTORY, OPEN_FAILED, OPEN_TRUNC, SOCK_INET, SOCK_INET6, SOCK_UNIX } from './classes.js';
import { AF_INET, AF_INET6, AF_UNIX } from '../../model/addresses.js';
import { FieldContext, MAX_ANCESTORS } from './context.js';
import type { Operator } from './condition.js';
import type { Constants, FieldKind, FieldValue } from './predicate.js';
import { EINPROGRESS, modeName, O_ACCMODE, O_CREAT, O_DIRECTORY, O_TRUNC, O_WRONLY, openFlagsName, ptraceRequestName, resultName } from './names.js';

export type { FieldKind, FieldValue };

/**
 * What an event's class (classes.ts) decides about a field on one type:
 * its value, that it is missing, or only its sign (1: ≥ 0, -1: < 0).
 */
export type Known = { value: FieldValue } | { missing: true } | { sign: 1 | -1 };

/** Event properties whose checks the rules memoise per value (interned strings that recur). */
export type Dim = 'path' | 'path2' | 'comm' | 'addr';
export const DIMS: readonly Dim[] = ['path', 'path2', 'comm', 'addr'];

export interface Field {
  name: string;
  kind: FieldKind;
  desc: string;
  /** Event types the field has a value on. */
  on: ReadonlySet<EventType>;
  /** Whether it takes `[N]` (an ancestor level) or `[name]`, and whether it may be left out. */
  arg: 'none' | 'index' | 'optional-index' | 'key';
  /** A value fixed for every event of one type (evt.dir), or undefined when read at run time. */
  constant?(t: EventType): FieldValue | undefined;
  /** The value, or undefined when missing. `arg` is the index (-1 without one) or the key. */
  get(e: Event, x: FieldContext, arg: FieldArg): FieldValue | undefined;
  /**
   * JavaScript reading the value from `e` (and helpers on `x`) for one
   * event type (and class, -1 when any), inlined into compiled rules;
   * null to call get(). `missing` says whether it may evaluate to undefined.
   */
  inline?(t: EventType, arg: FieldArg, cls: number): { js: string; missing: boolean } | null;
  /** What the class `cls` of a `t` event decides about the value; undefined when nothing. */
  known?(t: EventType, cls: number): Known | undefined;
  /**
   * The one Event property the value is a function of on type `t` in class
   * `cls` (and all code generated for it reads nothing else), or null.
   */
  reads?(t: EventType, cls: number): Dim | null;
  /**
   * Allocation-free JavaScript for a comparison on one event type, where
   * the generic way would build a string per event (fd.directory = D
   * without slicing the path); null to compare the generic way.
   */
  compare?(t: EventType, op: Operator, values: readonly FieldValue[], k: Constants): string | null;
  /** Several values: a condition matches when any of them does (proc.aname without an index). */
  some?(e: Event, x: FieldContext, arg: FieldArg, pred: (v: FieldValue) => boolean): boolean;
}

export type FieldArg = number | string;

const ALL: ReadonlySet<EventType> = new Set(EVENT_TYPES);
const types = (...t: EventType[]): ReadonlySet<EventType> => new Set(t);

/** Types whose kind (model/event-kinds.ts) says so. */
const kindsWhere = (p: (k: EventKind) => boolean): ReadonlySet<EventType> => new Set(EVENT_TYPES.filter((t) => p(EVENT_KINDS[t])));

const FILE_TYPES = kindsWhere((k) => k.fd === 'file');
const SOCKET_TYPES = kindsWhere((k) => k.fd === 'socket');
const RESULT_TYPES = kindsWhere((k) => k.result);


// ---- Event type names ------------------------------------------------

/** Falco (syscall) names each Vigil event type stands for; Vigil's own type names are accepted too. */
export const SYSCALLS_OF: Readonly<Record<EventType, readonly string[]>> = Object.fromEntries(EVENT_TYPES.map((t) => [t, EVENT_KINDS[t].syscalls])) as Record<EventType, readonly string[]>;

/** Types whose `call` field says exactly which syscall it was. */
export const CALL_TYPES: ReadonlySet<EventType> = kindsWhere((k) => k.exactCall);

/** evt.type: the exact syscall where the event says it, else the kind's usual one. */
export function evtTypeName(e: Event): string {
  return CALL_TYPES.has(e.type) && e.call ? e.call : EVENT_KINDS[e.type].syscall;
}

/** Vigil types an evt.type name stands for. */
export function typesForName(name: string): EventType[] {
  const out: EventType[] = [];
  for (const t of EVENT_TYPES) if (t === name || SYSCALLS_OF[t].includes(name)) out.push(t);
  return out;
}

// ---- Helpers read by extractors and inlined code -----------------------

function nonEmpty(s: string): string | undefined {
  return s === '' ? undefined : s;
}

function dirname(path: string): string {
  const i = path.lastIndexOf('/');
  return i <= 0 ? '/' : path.slice(0, i);
}

function basename(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}

/** Whether `dir` is the directory `path` is directly in. */
function isDirOf(dir: string, path: string): boolean {
  const i = path.lastIndexOf('/');
  if (dir === '/') return i === 0;
  return i === dir.length && path.startsWith(dir);
}

/** =, != and in on a part of e.path, as closures over the path that allocate nothing. */
function pathPartCompare(op: Operator, values: readonly FieldValue[], k: Constants, one: (v: string) => (path: string) => boolean): string | null {
  const tests = values.map((v) => one(String(v)));
  const any = tests.length === 1 ? tests[0]! : (p: string) => tests.some((t) => t(p));
  switch (op) {
    case '=':
    case '==':
    case 'in':
    case 'intersects':
      return `(e.path !== '' && ${k.ref(any)}(e.path))`;
    case '!=':
      return `(e.path !== '' && !${k.ref(any)}(e.path))`;
    default:
      return null;
  }
}

function isIp(e: Event): boolean {
  return e.family === AF_INET || e.family === AF_INET6;
}

/** The process's executable path; for exec events the file just run. */
function exepath(e: Event): string | undefined {
  if (e.type === 'exec') return nonEmpty(e.path);
  return e.process ? nonEmpty(e.process.exe) : undefined;
}

type End = 'cip' | 'cport' | 'sip' | 'sport' | 'lip' | 'lport' | 'rip' | 'rport';
type Side = 'r' | 'l' | null;

/**
 * Falco's client/server and local/remote ends, as the remote (r) or local
 * (l) address Vigil has. connect: the remote end is the server; Vigil
 * does not see the local end of a connect (the port is bound inside the
 * syscall), so client and local fields are missing. accept: the local
 * end is the server. bind/listen: only the local (server) end. dup: the
 * socket is read as an outgoing connection (local = client), the
 * reverse-shell case.
 */
const SIDES: Partial<Record<EventType, Record<End, Side>>> = {
  connect: { cip: null, cport: null, sip: 'r', sport: 'r', lip: null, lport: null, rip: 'r', rport: 'r' },
  accept: { cip: 'r', cport: 'r', sip: 'l', sport: 'l', lip: 'l', lport: 'l', rip: 'r', rport: 'r' },
  bind: { cip: null, cport: null, sip: 'l', sport: 'l', lip: 'l', lport: 'l', rip: null, rport: null },
  listen: { cip: null, cport: null, sip: 'l', sport: 'l', lip: 'l', lport: 'l', rip: null, rport: null },
  dup: { cip: 'l', cport: 'l', sip: 'r', sport: 'r', lip: 'l', lport: 'l', rip: 'r', rport: 'r' },
};

/** fd.sip & co. on a socket event of class `cls`: missing when no such end, or no IP address. */
function ipEndKnown(which: End): (t: EventType, cls: number) => Known | undefined {
  return (t, cls) => (SIDES[t]?.[which] === null || (cls >= 0 && !isIpClass(cls)) ? { missing: true } : undefined);
}

/** fd.sip & co. inlined where the class says the event has an IP address. */
function ipEndInline(which: End): (t: EventType, arg: FieldArg, cls: number) => { js: string; missing: boolean } | null {
  return (t, _arg, cls) => {
    const side = SIDES[t]?.[which];
    if (!side || !isIpClass(cls)) return null;
    const addr = side === 'r' ? 'e.addr' : 'e.localAddr';
    const value = which.endsWith('port') ? (side === 'r' ? 'e.port' : 'e.localPort') : addr;
    return { js: `(${addr} === '' ? undefined : ${value})`, missing: true };
  };
}

/** An address end read from e.addr alone (the remote side), in an IP class. */
function ipEndReads(which: End): (t: EventType, cls: number) => Dim | null {
  return (t, cls) => (SIDES[t]?.[which] === 'r' && isIpClass(cls) ? 'addr' : null);
}

function ipEndField(kind: FieldKind, desc: string, which: End, get: Getter = (e) => ipEnd(e, which)): Def {
  return { kind, desc, on: SOCKET_TYPES, get, known: ipEndKnown(which), inline: ipEndInline(which), reads: which.endsWith('port') ? undefined : ipEndReads(which) };
}

function ipEnd(e: Event, which: End): string | number | undefined {
  if (!isIp(e)) return undefined;
  const side = SIDES[e.type]?.[which];
  const port = which.endsWith('port');
  if (side === 'r') return e.addr === '' ? undefined : port ? e.port : e.addr;
  if (side === 'l') return e.localAddr === '' ? undefined : port ? e.localPort : e.localAddr;
  return undefined;
}

/** fd.name for sockets: "cip:cport->sip:sport" (an unseen client end reads 0.0.0.0:0, as an unbound socket). */
function socketName(e: Event): string | undefined {
  if (e.family === AF_UNIX) return nonEmpty(e.unixPath);
  if (!isIp(e)) return undefined;
  const any = e.family === AF_INET6 ? '::' : '0.0.0.0';
  switch (e.type) {
    case 'connect':
      return e.addr ? `${any}:0->${e.addr}:${e.port}` : undefined;
    case 'accept':
      return `${e.addr || any}:${e.port}->${e.localAddr || any}:${e.localPort}`;
    case 'bind':
    case 'listen':
      return `${e.localAddr || any}:${e.localPort}`;
    case 'dup':
      return `${e.localAddr || any}:${e.localPort}->${e.addr || any}:${e.port}`;
    default:
      return undefined;
  }
}

function fdName(e: Event): string | undefined {
  if (SOCKET_TYPES.has(e.type)) return socketName(e);
  return nonEmpty(e.path);
}

function fdType(e: Event): string | undefined {
  if (FILE_TYPES.has(e.type)) return e.type === 'open' && e.flags & O_DIRECTORY ? 'directory' : 'file';
  if (e.family === AF_INET) return 'ipv4';
  if (e.family === AF_INET6) return 'ipv6';
  if (e.family === AF_UNIX) return 'unix';
  return undefined;
}

const TYPECHAR: Record<string, string> = { file: 'f', directory: 'd', ipv4: '4', ipv6: '6', unix: 'u' };

/** fd.type / fd.typechar as an open's or a socket event's class decides them. */
function typeKnown(t: EventType, cls: number, dir: string, file: string, v4: string, v6: string, unix: string): Known | undefined {
  if (cls < 0) return undefined;
  if (t === 'open') return { value: (cls & OPEN_DIRECTORY) !== 0 ? dir : file };
  if (!SOCKET_TYPES.has(t)) return undefined;
  return cls === SOCK_INET ? { value: v4 } : cls === SOCK_INET6 ? { value: v6 } : cls === SOCK_UNIX ? { value: unix } : { missing: true };
}

// ---- The table -------------------------------------------------------

type Getter = (e: Event, x: FieldContext, arg: FieldArg) => FieldValue | undefined;

interface Def {
  kind: FieldKind;
  desc: string;
  on?: ReadonlySet<EventType>;
  arg?: Field['arg'];
  constant?: Field['constant'];
  get: Getter;
  inline?: Field['inline'];
  compare?: Field['compare'];
  some?: Field['some'];
  known?: Field['known'];
  reads?: Field['reads'];
}

/** proc.aname & co.: one reader of a process, at an ancestor level or (without an index) any ancestor. */
function ancestorField(desc: string, kind: FieldKind, read: (p: Process, x: FieldContext) => FieldValue | undefined, self: Getter): Def {
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

const procName: Getter = (e) => nonEmpty(e.comm);
const procExe: Getter = (e) => (e.process && e.process.argv.length > 0 ? e.process.argv[0] : undefined);
const procExepath: Getter = (e) => exepath(e);
const procCmdline: Getter = (e, x) => (e.process ? x.cmdline(e.comm, e.process.argv) : nonEmpty(e.comm));
const procPid: Getter = (e) => e.pid;

const DEFS: Record<string, Def> = {
  // -- event
  'evt.type': { kind: 'string', desc: 'the syscall (execve, openat, connect, …); open covers open/openat/openat2/creat, exec execve/execveat, …', get: (e) => evtTypeName(e) },
  'evt.dir': { kind: 'string', desc: "'<': Vigil reports every event after the syscall returned", constant: () => '<', get: () => '<' },
  'evt.num': { kind: 'number', desc: 'the number of the event among those the rules have seen (from 1)', get: (_e, x) => x.seq, inline: () => ({ js: 'x.seq', missing: false }) },
  'evt.time': { kind: 'string', desc: 'the event time (ISO 8601)', get: (e) => new Date(e.time).toISOString() },
  'evt.rawtime': { kind: 'number', desc: 'the event time in nanoseconds since the epoch', get: (e) => Math.round(e.time * 1e6) },
  'evt.res': {
    kind: 'string', desc: "'SUCCESS' or the errno name (ENOENT, EINPROGRESS, …)", on: RESULT_TYPES,
    get: (e) => resultName(e.type === 'fork' ? e.childPid : e.result),
    known: (t, cls) => (t === 'open' && cls >= 0 && (cls & OPEN_FAILED) === 0 ? { value: 'SUCCESS' } : undefined),
  },
  'evt.rawres': {
    kind: 'number', desc: 'the return value: an fd, 0, a pid or -errno', on: RESULT_TYPES,
    get: (e) => (e.type === 'fork' ? e.childPid : e.result),
    inline: (t) => ({ js: t === 'fork' ? 'e.childPid' : 'e.result', missing: false }),
    known: (t, cls) => (t === 'open' && cls >= 0 ? { sign: (cls & OPEN_FAILED) !== 0 ? -1 : 1 } : undefined),
  },
  'evt.failed': { kind: 'bool', desc: 'the syscall failed', on: RESULT_TYPES, get: (e) => e.type !== 'fork' && e.result < 0, inline: (t) => ({ js: t === 'fork' ? 'false' : '(e.result < 0)', missing: false }),
    known: (t, cls) => (t === 'open' && cls >= 0 ? { value: (cls & OPEN_FAILED) !== 0 } : undefined),
  },
  'evt.is_open_read': {
    kind: 'bool', desc: 'an open for reading (O_RDONLY or O_RDWR)', on: types('open'),
    get: (e) => (e.flags & O_ACCMODE) !== O_WRONLY, inline: () => ({ js: `((e.flags & ${O_ACCMODE}) !== ${O_WRONLY})`, missing: false }),
    known: (_t, cls) => (cls >= 0 ? { value: (cls & O_ACCMODE) !== O_WRONLY } : undefined),
  },
  'evt.is_open_write': {
    kind: 'bool', desc: 'an open for writing (O_WRONLY or O_RDWR)', on: types('open'),
    get: (e) => (e.flags & O_ACCMODE) !== 0, inline: () => ({ js: `((e.flags & ${O_ACCMODE}) !== 0)`, missing: false }),
    known: (_t, cls) => (cls >= 0 ? { value: (cls & O_ACCMODE) !== 0 } : undefined),
  },
  'evt.is_open_exec': {
    kind: 'bool', desc: 'an open that creates a file with an execute bit', on: types('open'),
    get: (e) => (e.flags & O_CREAT) !== 0 && (e.mode & 0o111) !== 0,
    inline: () => ({ js: `((e.flags & ${O_CREAT}) !== 0 && (e.mode & 0o111) !== 0)`, missing: false }),
    known: (_t, cls) => (cls >= 0 && (cls & OPEN_CREAT) === 0 ? { value: false } : undefined),
  },
  'evt.is_open_create': {
    kind: 'bool', desc: 'Vigil: an open with O_CREAT', on: types('open'),
    get: (e) => (e.flags & O_CREAT) !== 0, inline: () => ({ js: `((e.flags & ${O_CREAT}) !== 0)`, missing: false }),
    known: (_t, cls) => (cls >= 0 ? { value: (cls & OPEN_CREAT) !== 0 } : undefined),
  },
  'evt.is_open_trunc': {
    kind: 'bool', desc: 'Vigil: an open for writing with O_TRUNC (the file is emptied)', on: types('open'),
    get: (e) => (e.flags & O_TRUNC) !== 0 && (e.flags & O_ACCMODE) !== 0,
    inline: () => ({ js: `((e.flags & ${O_TRUNC}) !== 0 && (e.flags & ${O_ACCMODE}) !== 0)`, missing: false }),
    known: (_t, cls) => (cls >= 0 ? { value: (cls & OPEN_TRUNC) !== 0 && (cls & O_ACCMODE) !== 0 } : undefined),
  },
  'evt.is_connect_ok': {
    kind: 'bool', desc: 'Vigil: a connect that succeeded or is in progress (non-blocking)', on: types('connect'),
    get: (e) => e.result >= 0 || e.result === -EINPROGRESS, inline: () => ({ js: `(e.result >= 0 || e.result === ${-EINPROGRESS})`, missing: false }),
  },
  'evt.arg.flags': {
    kind: 'string', desc: 'open: the O_* flags as Falco prints them (O_WRONLY|O_CREAT|O_TRUNC)', on: types('open'),
    get: (e) => openFlagsName(e.flags),
  },
  'evt.arg.mode': { kind: 'string', desc: 'open/chmod: the mode as Falco prints it (S_ISUID|S_IRUSR|…)', on: types('open', 'chmod'), get: (e) => modeName(e.mode) },
  'evt.arg.request': { kind: 'string', desc: 'ptrace: the request (PTRACE_ATTACH, …)', on: types('ptrace'), get: (e) => ptraceRequestName(e.id) },
  'evt.arg.pid': { kind: 'number', desc: 'ptrace: the target pid', on: types('ptrace'), get: (e) => e.targetPid, inline: () => ({ js: 'e.targetPid', missing: false }) },
  'evt.arg.uid': {
    kind: 'number', desc: 'setuid family: the uid asked for (-1: unchanged)', on: types('setid'),
    get: (e) => (e.call.includes('uid') ? e.id : undefined),
  },
  'evt.arg.gid': {
    kind: 'number', desc: 'setgid family: the gid asked for (-1: unchanged)', on: types('setid'),
    get: (e) => (e.call.includes('gid') ? e.id : undefined),
  },
  'evt.arg.name': { kind: 'string', desc: 'open: the path', on: types('open'), get: (e) => nonEmpty(e.path), reads: () => 'path' },
  'evt.arg.path': { kind: 'string', desc: 'unlink/chmod: the path', on: types('unlink', 'chmod'), get: (e) => nonEmpty(e.path), reads: () => 'path' },
  'evt.arg.oldpath': { kind: 'string', desc: 'rename: the old path', on: types('rename'), get: (e) => nonEmpty(e.path), reads: () => 'path' },
  'evt.arg.newpath': { kind: 'string', desc: 'rename: the new path', on: types('rename'), get: (e) => nonEmpty(e.path2), inline: () => ({ js: 'e.path2', missing: false }), reads: () => 'path2' },
  'evt.arg.filename': { kind: 'string', desc: 'exec: the file name as passed to execve', on: types('exec'), get: (e) => nonEmpty(e.filename) },
  'evt.arg.dev': { kind: 'string', desc: 'mount: the source', on: types('mount'), get: (e) => nonEmpty(e.path2), reads: () => 'path2' },
  'evt.arg.dir': { kind: 'string', desc: 'mount: the target', on: types('mount'), get: (e) => nonEmpty(e.path), reads: () => 'path' },
  'evt.arg.type': { kind: 'string', desc: 'mount: the file system type', on: types('mount'), get: (e) => nonEmpty(e.call) },
  'evt.arg.flags_raw': { kind: 'number', desc: 'Vigil: the raw flags (open O_*, mount MS_*, unshare CLONE_NEW*)', on: types('open', 'rename', 'mount', 'namespace'), get: (e) => e.flags, inline: () => ({ js: 'e.flags', missing: false }) },
  'evt.arg.nstype': { kind: 'number', desc: 'setns: the namespace type asked for; unshare: the CLONE_NEW* flags', on: types('namespace'), get: (e) => e.id, inline: () => ({ js: 'e.id', missing: false }) },
  'evt.arg.newfd': { kind: 'number', desc: 'dup: the new descriptor (0, 1 or 2)', on: types('dup'), get: (e) => e.id, inline: () => ({ js: 'e.id', missing: false }) },

  // -- process
  'proc.name': { kind: 'string', desc: 'the process name (comm, at most 15 characters)', get: procName, inline: () => ({ js: 'e.comm', missing: false }), reads: () => 'comm' },
  'proc.exe': { kind: 'string', desc: 'argv[0]', get: procExe },
  'proc.exepath': {
    kind: 'string', desc: 'the executable, absolute, symlinks resolved', get: procExepath,
    inline: (t) => (t === 'exec' ? { js: 'e.path', missing: false } : null),
    reads: (t) => (t === 'exec' ? 'path' : null),
  },
  'proc.args': { kind: 'string', desc: 'the arguments (argv[1..]) joined by spaces', get: (e, x) => (e.process ? x.args(e.process.argv) : undefined) },
  'proc.cmdline': { kind: 'string', desc: 'proc.name and proc.args', get: procCmdline },
  'proc.cwd': {
    kind: 'string', desc: 'the working directory, ending with /',
    get: (e) => {
      const cwd = e.type === 'exec' ? e.cwd : e.process?.cwd ?? '';
      return cwd === '' ? undefined : cwd.endsWith('/') ? cwd : `${cwd}/`;
    },
  },
  'proc.pid': { kind: 'number', desc: 'the process id', get: procPid, inline: () => ({ js: 'e.pid', missing: false }) },
  'proc.tty': {
    kind: 'number', desc: 'the controlling terminal (major << 20 | minor), 0 if none',
    get: (e) => (e.type === 'exec' ? e.tty : e.process?.tty),
    inline: (t) => (t === 'exec' ? { js: 'e.tty', missing: false } : null),
  },
  'proc.ppid': { kind: 'number', desc: 'the parent process id', get: (e) => e.ppid, inline: () => ({ js: 'e.ppid', missing: false }) },
  'thread.tid': { kind: 'number', desc: 'the thread id', get: (e) => e.tid, inline: () => ({ js: 'e.tid', missing: false }) },
  'proc.pname': { kind: 'string', desc: "the parent's name", get: (e, x) => x.parent(e.process)?.comm || undefined },
  'proc.pexe': { kind: 'string', desc: "the parent's argv[0]", get: (e, x) => x.parent(e.process)?.argv[0] },
  'proc.pexepath': { kind: 'string', desc: "the parent's executable path", get: (e, x) => x.parent(e.process)?.exe || undefined },
  'proc.pcmdline': {
    kind: 'string', desc: "the parent's command line",
    get: (e, x) => {
      const p = x.parent(e.process);
      return p ? x.cmdline(p.comm, p.argv) : undefined;
    },
  },
  'proc.aname': ancestorField('the name of an ancestor (proc.aname[1] the parent, [2] the grandparent…); without an index, any ancestor', 'string', (p) => p.comm || undefined, procName),
  'proc.aexe': ancestorField("an ancestor's argv[0]", 'string', (p) => p.argv[0], procExe),
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

  // -- user
  'user.uid': { kind: 'number', desc: 'the user id', get: (e) => e.uid, inline: () => ({ js: 'e.uid', missing: false }) },
  'user.name': { kind: 'string', desc: "the user name from the node's /etc/passwd (the uid as text when unknown)", get: (e, x) => x.users.user(e.uid) },
  'group.gid': { kind: 'number', desc: 'the group id', get: (e) => e.gid, inline: () => ({ js: 'e.gid', missing: false }) },
  'group.name': { kind: 'string', desc: "the group name from the node's /etc/group", get: (e, x) => x.users.group(e.gid) },

  // -- files and sockets
  'fd.name': {
    kind: 'string', desc: 'files: the path (rename: the old path); sockets: cip:cport->sip:sport; AF_UNIX: the socket path',
    on: new Set([...FILE_TYPES, ...SOCKET_TYPES]), get: (e) => fdName(e),
    inline: (t) => (FILE_TYPES.has(t) ? { js: 'e.path', missing: t === 'module' } : null),
    known: (t, cls) => (SOCKET_TYPES.has(t) && cls >= 0 && !isIpClass(cls) && cls !== SOCK_UNIX ? { missing: true } : undefined),
    reads: (t) => (FILE_TYPES.has(t) ? 'path' : null),
  },
  'fd.directory': {
    kind: 'string', desc: 'files: the directory the file is in', on: FILE_TYPES, get: (e) => (e.path ? dirname(e.path) : undefined),
    compare: (_t, op, values, k) => pathPartCompare(op, values, k, (d) => (p: string) => isDirOf(d, p)),
    reads: () => 'path',
  },
  'fd.filename': {
    kind: 'string', desc: 'files: the file name without its directory', on: FILE_TYPES, get: (e) => (e.path ? basename(e.path) : undefined),
    compare: (_t, op, values, k) => pathPartCompare(op, values, k, (n) => (p: string) => n !== '' && !n.includes('/') && p.endsWith(`/${n}`)),
    reads: () => 'path',
  },
  'fd.type': { kind: 'string', desc: 'file, directory, ipv4, ipv6 or unix', on: new Set([...FILE_TYPES, ...SOCKET_TYPES]), get: (e) => fdType(e), known: (t, cls) => typeKnown(t, cls, 'directory', 'file', 'ipv4', 'ipv6', 'unix') },
  'fd.typechar': {
    kind: 'string', desc: "f (file), d (directory), 4, 6 (IP sockets) or u (unix socket)", on: new Set([...FILE_TYPES, ...SOCKET_TYPES]),
    constant: (t) => (t === 'open' ? undefined : FILE_TYPES.has(t) ? 'f' : undefined),
    get: (e) => {
      const ty = fdType(e);
      return ty === undefined ? undefined : TYPECHAR[ty];
    },
    inline: (t) => (t === 'open' ? { js: `((e.flags & ${O_DIRECTORY}) !== 0 ? 'd' : 'f')`, missing: false } : null),
    known: (t, cls) => typeKnown(t, cls, 'd', 'f', '4', '6', 'u'),
  },
  'fd.num': {
    kind: 'number', desc: 'open: the new descriptor, -1 when the open failed; accept: the new descriptor; dup: the old descriptor', on: types('open', 'accept', 'dup'),
    get: (e) => (e.type === 'dup' ? e.flags : e.result >= 0 ? e.result : -1),
    inline: (t) => ({ js: t === 'dup' ? 'e.flags' : '(e.result >= 0 ? e.result : -1)', missing: false }),
    known: (t, cls) => (t === 'open' && cls >= 0 ? ((cls & OPEN_FAILED) !== 0 ? { value: -1 } : { sign: 1 }) : undefined),
  },
  'fd.l4proto': { kind: 'string', desc: 'tcp or udp', on: SOCKET_TYPES, get: (e) => nonEmpty(e.protocol) },
  'fd.sockfamily': {
    kind: 'string', desc: 'ip or unix', on: SOCKET_TYPES, get: (e) => (isIp(e) ? 'ip' : e.family === AF_UNIX ? 'unix' : undefined),
    known: (_t, cls) => (cls < 0 ? undefined : isIpClass(cls) ? { value: 'ip' } : cls === SOCK_UNIX ? { value: 'unix' } : { missing: true }),
  },
  'fd.cip': ipEndField('ip', 'the client address (not seen on connect)', 'cip'),
  'fd.sip': ipEndField('ip', 'the server address (connect: the address connected to)', 'sip'),
  'fd.lip': ipEndField('ip', 'the local address (not seen on connect)', 'lip'),
  'fd.rip': ipEndField('ip', 'the remote address', 'rip'),
  'fd.dip': ipEndField('ip', 'Vigil: the destination (server) address, as fd.sip', 'sip'),
  'fd.cport': ipEndField('number', 'the client port (not seen on connect)', 'cport'),
  'fd.sport': {
    ...ipEndField('number', 'the server port (connect: the port connected to)', 'sport'),
    inline: (t, arg, cls) =>
      ipEndInline('sport')(t, arg, cls) ??
      (t === 'connect' ? { js: `(e.addr !== '' && (e.family === ${AF_INET} || e.family === ${AF_INET6}) ? e.port : undefined)`, missing: true } : null),
  },
  'fd.lport': ipEndField('number', 'the local port (not seen on connect)', 'lport'),
  'fd.rport': ipEndField('number', 'the remote port', 'rport'),
  'fd.dport': ipEndField('number', 'Vigil: the destination (server) port, as fd.sport', 'sport'),
  'fd.ip': {
    kind: 'ip', desc: 'either address (filters only)', on: SOCKET_TYPES, get: () => undefined,
    some: (e, _x, _a, pred) => anyOf(pred, ipEnd(e, 'cip'), ipEnd(e, 'sip')),
    known: (_t, cls) => (cls >= 0 && !isIpClass(cls) ? { missing: true } : undefined),
  },
  'fd.port': {
    kind: 'number', desc: 'either port (filters only)', on: SOCKET_TYPES, get: () => undefined,
    some: (e, _x, _a, pred) => anyOf(pred, ipEnd(e, 'cport'), ipEnd(e, 'sport')),
    known: (_t, cls) => (cls >= 0 && !isIpClass(cls) ? { missing: true } : undefined),
  },
  'fd.net': {
    kind: 'ip', desc: 'either address, compared with networks (filters only)', on: SOCKET_TYPES, get: () => undefined,
    some: (e, _x, _a, pred) => anyOf(pred, ipEnd(e, 'cip'), ipEnd(e, 'sip')),
    known: (_t, cls) => (cls >= 0 && !isIpClass(cls) ? { missing: true } : undefined),
  },
  'fd.cnet': ipEndField('ip', 'the client address, compared with networks', 'cip'),
  'fd.snet': ipEndField('ip', 'the server address, compared with networks', 'sip'),
  'fd.lnet': ipEndField('ip', 'the local address, compared with networks', 'lip'),
  'fd.rnet': ipEndField('ip', 'the remote address, compared with networks', 'rip'),

  // -- container, Kubernetes, workload
  'container.id': { kind: 'string', desc: "the container id; 'host' for the host; off-cluster the cgroup's last path component", get: (e, x) => x.containerId(e.workload) },
  'container.name': { kind: 'string', desc: "the workload's name; 'host' for the host", get: (e) => (e.workload ? (e.workload.kind === 'host' ? 'host' : e.workload.name) : undefined) },
  'k8s.ns.name': { kind: 'string', desc: 'the Kubernetes namespace', get: (e) => (e.workload ? nonEmpty(e.workload.namespace) : undefined) },
  'k8s.pod.name': { kind: 'string', desc: 'the Kubernetes pod', get: (e) => (e.workload ? nonEmpty(e.workload.pod) : undefined) },
  'k8s.pod.label': {
    kind: 'string', desc: 'a pod label: k8s.pod.label[app]', arg: 'key',
    get: (e, _x, key) => (e.workload?.labels ? e.workload.labels[key as string] : undefined),
  },
  'workload.name': { kind: 'string', desc: "Vigil: the workload's name", get: (e) => e.workload?.name },
  'workload.key': { kind: 'string', desc: "Vigil: the workload's key (cgroup:/…, named:…, k8s:…)", get: (e) => e.workload?.key },
  'workload.kind': { kind: 'string', desc: 'Vigil: host, cgroup, named or k8s', get: (e) => e.workload?.kind },
  'workload.mode': { kind: 'string', desc: "Vigil: the workload's mode (learn, monitor, enforce)", get: (e) => e.workload?.mode },
};

function anyOf(pred: (v: FieldValue) => boolean, a: FieldValue | undefined, b: FieldValue | undefined): boolean {
  return (a !== undefined && pred(a)) || (b !== undefined && pred(b));
}

export const FIELDS: ReadonlyMap<string, Field> = new Map(
  Object.entries(DEFS).map(([name, d]) => [
    name,
    {
      name, kind: d.kind, desc: d.desc, on: d.on ?? ALL, arg: d.arg ?? 'none', constant: d.constant, get: d.get,
      inline: d.inline, compare: d.compare, some: d.some, known: d.known, reads: d.reads,
    },
  ]),
);

/** Field classes Falco has; a dotted name outside these is a typo rather than a field Vigil lacks. */
const FALCO_CLASSES = new Set(['evt', 'proc', 'thread', 'user', 'group', 'fd', 'fdlist', 'fs', 'container', 'k8s', 'k8smeta', 'ka', 'jevt', 'span', 'syslog', 'mesos', 'evtin', 'json', 'ct', 'aws', 'gcp', 'cloudtrail', 'okta', 'github', 'k8saudit']);

/** Why a field name cannot be used, or null when it can. */
export function fieldProblem(name: string, arg: string | null): { unsupported: boolean; message: string } | null {
  const f = FIELDS.get(name);
  if (!f) {
    const cls = name.split('.')[0]!;
    return FALCO_CLASSES.has(cls)
      ? { unsupported: true, message: `field '${name}' is not available in Vigil` }
      : { unsupported: true, message: `unknown field '${name}'` };
  }
  if (f.arg === 'none' && arg !== null) return { unsupported: false, message: `field '${name}' takes no argument ('${name}[${arg}]')` };
  if (f.arg === 'index' && arg === null) return { unsupported: false, message: `field '${name}' needs an index, e.g. ${name}[1]` };
  if ((f.arg === 'index' || f.arg === 'optional-index') && arg !== null && !/^\d+$/.test(arg)) {
    return { unsupported: false, message: `field '${name}' takes a number as its index, not '${arg}'` };
  }
  if (f.arg === 'key' && arg === null) return { unsupported: false, message: `field '${name}' needs a key, e.g. ${name}[app]` };
  return null;
}

/** The argument as extractors take it. */
export function fieldArg(f: Field, arg: string | null): FieldArg {
  if (f.arg === 'key') return arg ?? '';
  return arg === null ? -1 : Number(arg);
}
