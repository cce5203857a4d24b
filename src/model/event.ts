// The one shape every event has inside the engine. Every field exists on
// every event (unused ones hold their zero value), so V8 sees a single
// hidden class on the hot path and rules read plain properties. A kind's
// own fields that only its own code reads (exec, setid, fork, exit, dns)
// are in one property, `more`, null for the other kinds: not stored as
// defaults by every event (issue 25, item 1).
import type { Process } from './process.js';
import type { Workload } from './workload.js';

/** The kinds of event, in the order of probe.proto's Event.kind (event-kinds.ts describes each). */
export const EVENT_TYPES = [
  'exec', 'fork', 'exit',
  'open', 'unlink', 'rename', 'chmod',
  'connect', 'accept', 'bind', 'listen',
  'setid', 'ptrace', 'module', 'mount', 'namespace', 'dup',
  // chown or truncate below a protected path (or an io_uring mkdirat, symlinkat, linkat), seen only when a security hook denied it
  'fileop',
  // a DNS answer that reached a workload's socket (no process: seen in the network stack)
  'dns',
  // a process moved to another cgroup (targetPid; from/to cgroup ids in id/flags; the policy that follows it in result)
  'cgroup_move',
  'mkdir', 'link', 'socket', 'bpf', 'userfaultfd', 'send',
  // io_uring: a ring set up, or the first operation of an opcode per process image
  'iouring',
] as const;
export type EventType = (typeof EVENT_TYPES)[number];

export type L4Protocol = 'tcp' | 'udp' | '';

/**
 * Event.pathFlags (probe.proto's OpenEvent.path_flags): how the file's path
 * was found. PATH_RESOLVED: `path` is the kernel's own name of the file
 * opened (walked from its dentries and mounts at the syscall's exit);
 * otherwise it is the string the caller passed.
 */
export const PATH_RESOLVED = 1;
/** The resolved walk was cut (deeper than 40 levels or longer than 512 bytes): `path` lacks its top. */
export const PATH_TRUNCATED = 2;
/** The caller's string was longer than 512 bytes: `pathRaw` is cut. */
export const PATH_RAW_TRUNCATED = 4;
/** The caller's string could not be read at all: `pathRaw` is empty. */
export const PATH_RAW_UNREADABLE = 8;
/** The caller's string was not readable at the syscall's entry (its page not yet mapped) and was read at its exit. */
export const PATH_RAW_REREAD = 16;
/** The file is above the process's root (a chroot into a directory). */
export const PATH_OUTSIDE_ROOT = 32;
/** Reached through a bind mount of a directory, named where its file system has it. */
export const PATH_BIND_MAPPED = 64;
/** `path` is the sensitive file this one is a hard link to (the probe compared device and inode). */
export const PATH_HARDLINK = 128;
/**
 * On the wire only: path_raw was left out as it is `path` (most opens). The decoders write `path` into
 * `pathRaw` and clear the bit, so no Event carries it.
 */
export const PATH_RAW_SAME = 256;

/**
 * How the kernel stopped a blocked event: denied before anything changed
 * (a BPF LSM hook, or fmod_ret on the security_* function), a connect
 * refused by the cgroup hook, or the caller killed at the syscall's entry
 * (the call itself completed). '' when not blocked.
 */
export type Mechanism = 'bpf-lsm' | 'fmod_ret' | 'cgroup' | 'kill-at-entry' | '';
/** probe.proto's vigil.v1.Mechanism, by number. */
export const MECHANISMS: readonly Mechanism[] = ['', 'bpf-lsm', 'fmod_ret', 'cgroup', 'kill-at-entry'];
/** Whether the mechanism denies the call before it changes anything (rather than stopping the caller after). */
export const deniesBefore = (m: Mechanism): boolean => m === 'bpf-lsm' || m === 'fmod_ret';
/** What each mechanism does to the operations it stops, in words (vigil status, the console). */
export const MECHANISM_SAYS: Readonly<Record<Mechanism, string>> = {
  'bpf-lsm': 'denied before they happen (BPF LSM)',
  fmod_ret: 'denied before they happen (fmod_ret on security_*)',
  cgroup: 'refused (cgroup connect hook)',
  'kill-at-entry': 'caller killed at syscall entry, the call completes',
  '': 'not stopped in the kernel',
};

/** What the mechanism did to one blocked call, in words (an alert's action detail). */
export function mechanismDid(m: Mechanism, exec: boolean): string {
  switch (m) {
    case 'bpf-lsm': return 'denied in the kernel by a BPF LSM hook (EPERM) before anything changed';
    case 'fmod_ret': return 'denied in the kernel by fmod_ret on its security_* function (EPERM) before anything changed';
    case 'cgroup': return 'refused in the kernel by the cgroup connect hook (EPERM)';
    default:
      return exec ? 'killed in the kernel at exec, before the new program ran an instruction' : 'killed in the kernel at the syscall\'s entry: the call itself completed';
  }
}

/**
 * What a node cannot stop before it happens, from what its probe said: the
 * operations only answered by a kill after the call or not at all, and no
 * network quarantine without the capability.
 */
export function enforcementGaps(hooks: readonly { operation: string; mechanism: Mechanism }[], capabilities: readonly string[]): string[] {
  const gaps: string[] = [];
  for (const m of ['kill-at-entry', ''] as const) {
    const ops = hooks.filter((h) => h.mechanism === m).map((h) => h.operation);
    if (ops.length) gaps.push(`${ops.join(', ')}: ${MECHANISM_SAYS[m]}`);
  }
  if (hooks.length === 0) gaps.push('the probe did not say how it enforces');
  if (!capabilities.includes('quarantine')) gaps.push('no network quarantine (no cgroup v2)');
  return gaps;
}

/** Event.exeLayer bits (bpf/events.h VIGIL_EXE_*). */
export const EXE_OVERLAY = 0x1;
export const EXE_UPPER_LAYER = 0x2;
/** The loginuid of a process nobody logged in (the kernel's (uid_t)-1). */
export const NO_LOGINUID = 4294967295;
/** A DNS answer as the workload received it (src/ingest/dns.ts parses it). */
export interface DnsAnswer {
  /** The name asked for: lower case, no trailing dot. */
  name: string;
  /** The question's type: 1 A, 28 AAAA, ... */
  qtype: number;
  /** The response code: 0 NOERROR, 3 NXDOMAIN, ... */
  rcode: number;
  /** CNAMEs followed from the name, in order. */
  cnames: string[];
  /** A and AAAA records of the name (or its CNAMEs), with their TTLs in seconds. */
  addresses: { addr: string; ttl: number }[];
  /** The message was cut (at 1024 bytes in the kernel, or a TCP answer spanning segments): records past the cut are missing. */
  truncated: boolean;
  /** Why the message could not be read, '' when it could. */
  error: string;
  /** Addresses the kernel put in the connect allow-list from this answer (enforce mode by name). */
  allowedInKernel: number;
}

/** A task's user and group ids: real, effective, saved, file system. */
export interface TaskIds {
  uid: number;
  euid: number;
  suid: number;
  fsuid: number;
  gid: number;
  egid: number;
  sgid: number;
  fsgid: number;
}

/**
 * exec's own fields (Event.more of an exec). Apart from the Event: only
 * exec events carry them, and an Event with them all would store their
 * defaults for every open (issue 25, item 1).
 */
export interface ExecMore {
  /** The name as passed to execve, argv, whether argv was cut, cwd. */
  filename: string;
  argv: string[];
  argvTruncated: boolean;
  /** The environment, "NAME=value" with values off the allow-list "<redacted>" (model/env.ts), and whether it was cut. */
  env: string[];
  envTruncated: boolean;
  cwd: string;
  /** The controlling terminal (major << 20 | minor), 0 if none. */
  tty: number;
  /** Where the executable is (EXE_OVERLAY, EXE_UPPER_LAYER: not from the container's image). */
  exeLayer: number;
  /** The pid in the process's own pid namespace (a container's). */
  vpid: number;
  /** The audit login uid, NO_LOGINUID when unset. */
  loginuid: number;
  /** Capability bits (bit n: capability n) after the call. */
  capEffective: number;
  capPermitted: number;
  /** The executable's content, sha256 in hex; '' when the probe could not read it. */
  sha256: string;
  /** What fds 0, 1 and 2 were, a STDIO_* byte each (stdioKind). */
  stdio: number;
}

/** setid's own fields (Event.more of a setid). */
export interface SetidMore {
  /** Capability bits after the call. */
  capEffective: number;
  capPermitted: number;
  /**
   * The caller's effective, saved and file system uid and gid as the call
   * found them, before it changed them (the real ones are Event.uid and gid).
   */
  euid: number;
  suid: number;
  egid: number;
  sgid: number;
  fsuid: number;
  fsgid: number;
  /** The caller's ids as the call left them; null from a probe that does not say. */
  idsAfter: TaskIds | null;
}

/** fork's own fields (Event.more of a fork). */
export interface ForkMore {
  /** The new process, and its pid in its own pid namespace. */
  childPid: number;
  vpid: number;
}

/** exit's own fields (Event.more of an exit): WEXITSTATUS and terminating signal. */
export interface ExitMore {
  exitCode: number;
  signal: number;
}

/** What Event.more holds: one shape per kind that has one (a dns event's is its answer). */
export type EventMore = ExecMore | SetidMore | ForkMore | ExitMore | DnsAnswer;

export interface Event {
  type: EventType;
  /** CLOCK_MONOTONIC nanoseconds, as the kernel stamped it. */
  ktimeNs: number;
  /** Unix time in milliseconds (fractional). */
  time: number;
  pid: number;
  tid: number;
  ppid: number;
  uid: number;
  gid: number;
  comm: string;
  cgroupId: number;
  nodeName: string;
  /** Vigil's kernel enforcement stopped it: denied, refused, or the caller killed. */
  blocked: boolean;
  /** How, when blocked. */
  blockedBy: Mechanism;
  /** Submitted through an io_uring ring rather than as a syscall (open, connect, iouring). */
  ioUring: boolean;

  /**
   * open/unlink/chmod/mkdir: the file (open: as the kernel names the file it
   * opened, see pathFlags); rename: the old name; exec: the executable;
   * module: the file; mount: the target; link: the new name.
   */
  path: string;
  /** open: the path as the caller passed it, joined to its directory when relative but not folded: `..` stays (Falco's fd.nameraw). */
  pathRaw: string;
  /** open: PATH_* bits. */
  pathFlags: number;
  /**
   * open: the file opened, exec: the file run, by inode number and its file
   * system's device (kernel dev_t). 0 when unknown. (The probe also sends an
   * open's link count and mode; nothing read them, so the Event does not keep them.)
   */
  ino: number;
  dev: number;
  /** rename: the new name; mount: the source; link: the target (a symlink's as given); iouring: the operation. */
  path2: string;
  /** open: O_* flags; rename: RENAME_* flags; mount: MS_* flags; socket: the SOCK_* type; bpf: the program type; userfaultfd, iouring, link: the flags. */
  flags: number;
  /** open/chmod/mkdir: the mode; bpf: the attach type (BPF_PROG_LOAD) or map type (BPF_MAP_CREATE). */
  mode: number;
  /** The syscall's return value: an fd, 0, or -errno. */
  result: number;

  /** connect/accept: the remote end; bind/listen: unused. */
  family: number;
  addr: string;
  port: number;
  /** bind/listen/accept: the local end. */
  localAddr: string;
  localPort: number;
  protocol: L4Protocol;
  /** AF_UNIX socket path (connect, bind). */
  unixPath: string;
  /** connect, send: the name the workload resolved the server address from (Falco's fd.sip.name), '' when unknown. */
  sipName: string;
  /** accept: the name the workload resolved the client address from (fd.cip.name), '' when unknown. */
  cipName: string;

  /** setid: the call name; module: init_module or finit_module; mount: fstype; namespace: setns or unshare;
   * link, send, dup, iouring: the call; bpf: the program's or map's name. */
  call: string;
  /**
   * setid: the requested id (-1 unchanged); ptrace: the request;
   * dup: the new descriptor (0, 1 or 2: only a socket duplicated onto
   * stdin/stdout/stderr is reported, with the socket's ends in
   * addr/port/localAddr/localPort, the old descriptor in `flags`);
   * namespace: for setns the namespace type asked for, for unshare the
   * CLONE_NEW* flags (also in `flags`); socket: the protocol; bpf: the
   * command; iouring: io_uring_setup's queue entries.
   */
  id: number;
  /** ptrace: the target. */
  targetPid: number;

  /**
   * The decoder's intern slots of path and comm (-1: not interned): a hint
   * for caches keyed by those strings (an array index, then a string
   * compare, instead of a Map lookup). Only ever a hint: a cache checks
   * the string itself.
   */
  pathKey: number;
  commKey: number;

  /**
   * The kind's own fields: exec ExecMore, setid SetidMore, fork ForkMore,
   * exit ExitMore, dns its DnsAnswer (null only on one made without it);
   * null for every other kind. One property for all, so that every Event
   * keeps one hidden class; read through execMore() and its siblings.
   */
  more: EventMore | null;

  /** Set by enrich. */
  process: Process | null;
  workload: Workload | null;
}

/**
 * An open whose path is incomplete: the walk from the file was cut, or
 * nothing was resolved and the caller's string was cut or unreadable.
 */
export function pathIncomplete(e: Event): boolean {
  if ((e.pathFlags & PATH_TRUNCATED) !== 0) return true;
  return (e.pathFlags & PATH_RESOLVED) === 0 && (e.pathFlags & (PATH_RAW_TRUNCATED | PATH_RAW_UNREADABLE)) !== 0;
}

/** What a standard descriptor was at exec (probe.proto's ExecEvent.stdio bytes), as Falco's fd.type names it; undefined when closed. */
const STDIO_KINDS: readonly (string | undefined)[] = [undefined, 'file', 'directory', 'pipe', 'ipv4', 'ipv6', 'unix', 'socket', 'other'];

export function stdioKind(stdio: number, fd: 0 | 1 | 2): string | undefined {
  const b = (stdio >>> (8 * fd)) & 0xff;
  return b < STDIO_KINDS.length ? STDIO_KINDS[b] : 'other';
}

/** A new exec's own fields at their defaults (the decoder's literal has the same field order: one hidden class). */
export function newExecMore(): ExecMore {
  return { filename: '', argv: [], argvTruncated: false, env: [], envTruncated: false, cwd: '', tty: 0, exeLayer: 0, vpid: 0, loginuid: 0, capEffective: 0, capPermitted: 0, sha256: '', stdio: 0 };
}
export function newSetidMore(): SetidMore {
  return { capEffective: 0, capPermitted: 0, euid: 0, suid: 0, egid: 0, sgid: 0, fsuid: 0, fsgid: 0, idsAfter: null };
}
export function newForkMore(): ForkMore {
  return { childPid: 0, vpid: 0 };
}
export function newExitMore(): ExitMore {
  return { exitCode: 0, signal: 0 };
}

/** The defaults a kind without the part reads (as every Event had them before they moved); frozen: never written. */
const NO_EXEC: ExecMore = Object.freeze({ ...newExecMore(), argv: Object.freeze([]) as unknown as string[], env: Object.freeze([]) as unknown as string[] });
const NO_SETID: SetidMore = Object.freeze(newSetidMore());
const NO_FORK: ForkMore = Object.freeze(newForkMore());
const NO_EXIT: ExitMore = Object.freeze(newExitMore());

/** An exec's own fields; for any other kind their defaults (frozen). */
export function execMore(e: Event): ExecMore {
  return e.type === 'exec' && e.more !== null ? (e.more as ExecMore) : NO_EXEC;
}
/** A setid's own fields; for any other kind their defaults (frozen). */
export function setidMore(e: Event): SetidMore {
  return e.type === 'setid' && e.more !== null ? (e.more as SetidMore) : NO_SETID;
}
/** A fork's own fields; for any other kind their defaults (frozen). */
export function forkMore(e: Event): ForkMore {
  return e.type === 'fork' && e.more !== null ? (e.more as ForkMore) : NO_FORK;
}
/** An exit's own fields; for any other kind their defaults (frozen). */
export function exitMore(e: Event): ExitMore {
  return e.type === 'exit' && e.more !== null ? (e.more as ExitMore) : NO_EXIT;
}
/** A dns event's answer; null for any other kind. */
export function dnsAnswer(e: Event): DnsAnswer | null {
  return e.type === 'dns' ? (e.more as DnsAnswer | null) : null;
}

/** The own fields a new event of the kind starts with (dns: none until its answer is set). */
export function newMore(type: EventType): EventMore | null {
  switch (type) {
    case 'exec': return newExecMore();
    case 'setid': return newSetidMore();
    case 'fork': return newForkMore();
    case 'exit': return newExitMore();
    default: return null;
  }
}

export function emptyEvent(type: EventType): Event {
  return {
    type, ktimeNs: 0, time: 0, pid: 0, tid: 0, ppid: 0, uid: 0, gid: 0, comm: '', cgroupId: 0, nodeName: '', blocked: false, blockedBy: '', ioUring: false,
    path: '', pathRaw: '', pathFlags: 0, ino: 0, dev: 0, path2: '', flags: 0, mode: 0, result: 0,
    family: 0, addr: '', port: 0, localAddr: '', localPort: 0, protocol: '', unixPath: '', sipName: '', cipName: '',
    call: '', id: 0, targetPid: 0,
    pathKey: -1, commKey: -1,
    more: newMore(type),
    process: null, workload: null,
  };
}
