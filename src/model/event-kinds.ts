// One description per event kind, which the rest derive from: where it is
// on the wire (probe.proto's Event.kind), which syscalls it stands for
// (evt.type in rules), what its descriptor is (fd.* fields), and how it
// reads in a summary (logs, the event log, alerts). The decoder, the rule
// fields and eventSummary look kinds up here; test/unit/model/event-kinds.test.ts
// holds the table against probe.proto.
import { PATH_BIND_MAPPED, PATH_HARDLINK, PATH_OUTSIDE_ROOT, PATH_RAW_REREAD, PATH_RAW_TRUNCATED, PATH_RAW_UNREADABLE, PATH_TRUNCATED, dnsAnswer, execMore, exitMore, forkMore, setidMore, stdioKind, type Event, type EventType } from './event.js';
import { redactArgv } from './argv.js';

export interface EventKind {
  /** The Event.kind oneof field in probe.proto, as protobufjs names it (camelCase), and its number. */
  oneof: string;
  field: number;
  /** The message the field holds. */
  message: string;
  /** How evt.type reads when the event does not say which syscall it was. */
  syscall: string;
  /** Every syscall (Falco's names) the kind stands for. */
  syscalls: readonly string[];
  /** Whether the event's `call` says exactly which syscall it was. */
  exactCall: boolean;
  /** What the event's descriptor is (Falco's fd.* fields): a file (its path), a socket (its ends), or none. */
  fd: 'file' | 'socket' | null;
  /** Whether it reports the syscall's return value. */
  result: boolean;
  /** Adds the kind's own fields to a summary (eventSummary), leaving out zero-valued noise. */
  summarize(e: Event, out: Record<string, unknown>): void;
}

const PATH_FLAG_NAMES: readonly [number, string][] = [
  [PATH_TRUNCATED, 'truncated'], [PATH_RAW_TRUNCATED, 'raw-truncated'], [PATH_RAW_UNREADABLE, 'raw-unreadable'],
  [PATH_RAW_REREAD, 'raw-reread'], [PATH_OUTSIDE_ROOT, 'outside-root'], [PATH_BIND_MAPPED, 'bind-mapped'], [PATH_HARDLINK, 'hardlink'],
];

/** The PATH_* bits worth saying in a summary (resolved is the rule, not news). */
export function pathFlagNames(flags: number): string[] {
  return PATH_FLAG_NAMES.filter(([bit]) => (flags & bit) !== 0).map(([, name]) => name);
}

/** A socket event's summary: protocol and result, then the ends it has. */
function socketSummary(e: Event, out: Record<string, unknown>): void {
  Object.assign(out, { protocol: e.protocol, result: e.result });
  if (e.unixPath) out.unixPath = e.unixPath;
  if (e.addr) Object.assign(out, { addr: e.addr, port: e.port });
  if (e.localAddr || e.localPort) Object.assign(out, { localAddr: e.localAddr, localPort: e.localPort });
  if (e.sipName) out.sipName = e.sipName;
  if (e.cipName) out.cipName = e.cipName;
}

const SETID_CALLS = ['setuid', 'setgid', 'setreuid', 'setregid', 'setresuid', 'setresgid', 'setfsuid', 'setfsgid'];

/** In the order of EVENT_TYPES and of probe.proto's field numbers. */
export const EVENT_KINDS: Readonly<Record<EventType, EventKind>> = {
  exec: {
    oneof: 'exec', field: 16, message: 'ExecEvent', syscall: 'execve', syscalls: ['execve', 'execveat'], exactCall: false, fd: null, result: true,
    summarize(e, out) {
      const x = execMore(e);
      // Secrets redacted (model/argv.ts): a summary goes to alerts and the event log.
      Object.assign(out, { exe: e.path, filename: x.filename, argv: redactArgv(x.argv), cwd: x.cwd });
      if (x.argvTruncated) out.argvTruncated = true;
      // Redacted as the probe sent it (model/env.ts): names, and the allowed values only.
      if (x.env.length > 0) out.env = x.env;
      if (x.envTruncated) out.envTruncated = true;
      if (x.tty) out.tty = x.tty;
      if (x.sha256) out.sha256 = x.sha256;
      const stdio = [0, 1, 2].map((fd) => stdioKind(x.stdio, fd as 0 | 1 | 2) ?? 'closed');
      if (x.stdio && stdio.some((k) => k !== 'file' && k !== 'pipe')) out.stdio = stdio;
    },
  },
  fork: {
    oneof: 'fork', field: 17, message: 'ForkEvent', syscall: 'clone', syscalls: ['clone', 'clone3', 'fork', 'vfork'], exactCall: false, fd: null, result: true,
    summarize(e, out) {
      out.childPid = forkMore(e).childPid;
    },
  },
  exit: {
    oneof: 'exit', field: 18, message: 'ExitEvent', syscall: 'procexit', syscalls: ['procexit'], exactCall: false, fd: null, result: false,
    summarize(e, out) {
      const { exitCode, signal } = exitMore(e);
      Object.assign(out, { exitCode, signal });
    },
  },
  open: {
    oneof: 'open', field: 19, message: 'OpenEvent', syscall: 'openat', syscalls: ['open', 'openat', 'openat2', 'creat'], exactCall: false, fd: 'file', result: true,
    summarize(e, out) {
      Object.assign(out, { path: e.path, flags: e.flags, mode: e.mode, result: e.result });
      if (e.pathRaw !== '' && e.pathRaw !== e.path) out.pathRaw = e.pathRaw;
      const how = pathFlagNames(e.pathFlags);
      if (how.length > 0) out.pathFlags = how;
    },
  },
  unlink: {
    oneof: 'unlink', field: 20, message: 'UnlinkEvent', syscall: 'unlinkat', syscalls: ['unlink', 'unlinkat', 'rmdir'], exactCall: false, fd: 'file', result: true,
    summarize(e, out) {
      Object.assign(out, { path: e.path, result: e.result });
    },
  },
  rename: {
    oneof: 'rename', field: 21, message: 'RenameEvent', syscall: 'rename', syscalls: ['rename', 'renameat', 'renameat2'], exactCall: false, fd: 'file', result: true,
    summarize(e, out) {
      Object.assign(out, { path: e.path, newPath: e.path2, result: e.result });
    },
  },
  chmod: {
    oneof: 'chmod', field: 22, message: 'ChmodEvent', syscall: 'chmod', syscalls: ['chmod', 'fchmod', 'fchmodat'], exactCall: false, fd: 'file', result: true,
    summarize(e, out) {
      Object.assign(out, { path: e.path, result: e.result, mode: e.mode });
    },
  },
  connect: {
    oneof: 'connect', field: 23, message: 'ConnectEvent', syscall: 'connect', syscalls: ['connect'], exactCall: false, fd: 'socket', result: true,
    summarize: socketSummary,
  },
  accept: {
    oneof: 'accept', field: 24, message: 'AcceptEvent', syscall: 'accept', syscalls: ['accept', 'accept4'], exactCall: false, fd: 'socket', result: true,
    summarize: socketSummary,
  },
  bind: {
    oneof: 'bind', field: 25, message: 'BindEvent', syscall: 'bind', syscalls: ['bind'], exactCall: false, fd: 'socket', result: true,
    summarize: socketSummary,
  },
  listen: {
    oneof: 'listen', field: 26, message: 'ListenEvent', syscall: 'listen', syscalls: ['listen'], exactCall: false, fd: 'socket', result: true,
    summarize: socketSummary,
  },
  setid: {
    oneof: 'setId', field: 27, message: 'SetIdEvent', syscall: 'setuid', syscalls: SETID_CALLS, exactCall: true, fd: null, result: true,
    summarize(e, out) {
      Object.assign(out, { call: e.call, id: e.id, result: e.result });
      // What the caller was before and after the call, of the kind of id it asked to change.
      const m = setidMore(e);
      const a = m.idsAfter;
      if (e.call.includes('uid')) {
        Object.assign(out, { prevEuid: m.euid, prevSuid: m.suid, prevFsuid: m.fsuid });
        if (a) Object.assign(out, { newUid: a.uid, newEuid: a.euid, newSuid: a.suid, newFsuid: a.fsuid });
      } else {
        Object.assign(out, { prevEgid: m.egid, prevSgid: m.sgid, prevFsgid: m.fsgid });
        if (a) Object.assign(out, { newGid: a.gid, newEgid: a.egid, newSgid: a.sgid, newFsgid: a.fsgid });
      }
    },
  },
  ptrace: {
    oneof: 'ptrace', field: 28, message: 'PtraceEvent', syscall: 'ptrace', syscalls: ['ptrace'], exactCall: false, fd: null, result: true,
    summarize(e, out) {
      Object.assign(out, { request: e.id, targetPid: e.targetPid, result: e.result });
    },
  },
  module: {
    oneof: 'moduleLoad', field: 29, message: 'ModuleLoadEvent', syscall: 'init_module', syscalls: ['init_module', 'finit_module'], exactCall: true, fd: 'file', result: true,
    summarize(e, out) {
      Object.assign(out, { call: e.call, path: e.path, result: e.result });
    },
  },
  mount: {
    oneof: 'mount', field: 30, message: 'MountEvent', syscall: 'mount', syscalls: ['mount'], exactCall: false, fd: null, result: true,
    summarize(e, out) {
      Object.assign(out, { source: e.path2, target: e.path, fstype: e.call, flags: e.flags, result: e.result });
    },
  },
  namespace: {
    oneof: 'namespace', field: 31, message: 'NamespaceEvent', syscall: 'setns', syscalls: ['setns', 'unshare'], exactCall: true, fd: null, result: true,
    summarize(e, out) {
      Object.assign(out, { call: e.call, flags: e.flags, result: e.result });
    },
  },
  dup: {
    oneof: 'dup', field: 32, message: 'DupEvent', syscall: 'dup', syscalls: ['dup', 'dup2', 'dup3', 'fcntl'], exactCall: true, fd: 'socket', result: true,
    summarize(e, out) {
      Object.assign(out, { call: e.call, oldFd: e.flags, newFd: e.id, protocol: e.protocol, addr: e.addr, port: e.port, localAddr: e.localAddr, localPort: e.localPort, result: e.result });
    },
  },
  // Seen only when a security hook denied the call (chown and truncate are
  // not watched as syscalls, nor io_uring's mkdirat, symlinkat, linkat:
  // bpf/deny.bpf.h): no Falco syscall name stands for it (only its own,
  // 'fileop'), or a rule would seem to watch every chown while it sees only
  // the denied ones.
  fileop: {
    oneof: 'fileOp', field: 33, message: 'FileOpEvent', syscall: 'fileop', syscalls: ['fileop'], exactCall: false, fd: null, result: true,
    summarize(e, out) {
      Object.assign(out, { call: e.call, path: e.path, result: e.result });
    },
  },
  // Seen in the network stack as the answer reaches the socket, before
  // the workload reads it: no process, no syscall (bpf/dns.bpf.h).
  dns: {
    oneof: 'dns', field: 34, message: 'DnsEvent', syscall: 'dns', syscalls: ['dns'], exactCall: false, fd: null, result: false,
    summarize(e, out) {
      const d = dnsAnswer(e);
      Object.assign(out, { server: e.addr, port: e.port, protocol: e.protocol });
      if (!d) return;
      Object.assign(out, { name: d.name, rcode: d.rcode, addresses: d.addresses.map((a) => a.addr) });
      if (d.cnames.length) out.cnames = d.cnames;
      if (d.truncated) out.truncated = true;
      if (d.error) out.error = d.error;
      if (d.allowedInKernel) out.allowedInKernel = d.allowedInKernel;
    },
  },
  // A process moved to another cgroup (tp_btf/cgroup_attach_task): no
  // syscall of the process's own. The event's pid is the mover's; the
  // moved process is targetPid (its comm in `call`), the cgroups it left
  // and entered are `id` and `flags`, the enforce policy that follows it
  // `result` (0: none).
  cgroup_move: {
    oneof: 'cgroupMove', field: 35, message: 'CgroupMoveEvent', syscall: 'cgroup_move', syscalls: ['cgroup_move'], exactCall: false, fd: null, result: false,
    summarize(e, out) {
      Object.assign(out, { movedPid: e.targetPid, movedComm: e.call, fromCgroupId: e.id, toCgroupId: e.flags });
      if (e.result) out.policyRootCgroupId = e.result;
    },
  },
  mkdir: {
    oneof: 'mkdir', field: 36, message: 'MkdirEvent', syscall: 'mkdir', syscalls: ['mkdir', 'mkdirat'], exactCall: false, fd: 'file', result: true,
    summarize(e, out) {
      Object.assign(out, { path: e.path, mode: e.mode, result: e.result });
    },
  },
  link: {
    oneof: 'link', field: 37, message: 'LinkEvent', syscall: 'symlinkat', syscalls: ['symlink', 'symlinkat', 'link', 'linkat'], exactCall: true, fd: 'file', result: true,
    summarize(e, out) {
      Object.assign(out, { call: e.call, path: e.path, target: e.path2, result: e.result });
    },
  },
  // Raw (SOCK_RAW) and packet (AF_PACKET) sockets only: other sockets show in connect, bind, send.
  socket: {
    oneof: 'socket', field: 38, message: 'SocketEvent', syscall: 'socket', syscalls: ['socket'], exactCall: false, fd: null, result: true,
    summarize(e, out) {
      Object.assign(out, { family: e.family, type: e.flags, protocol: e.id, result: e.result });
    },
  },
  bpf: {
    oneof: 'bpf', field: 39, message: 'BpfEvent', syscall: 'bpf', syscalls: ['bpf'], exactCall: false, fd: null, result: true,
    summarize(e, out) {
      Object.assign(out, { cmd: e.id, result: e.result });
      if (e.flags) out.progType = e.flags;
      if (e.call) out.name = e.call;
    },
  },
  userfaultfd: {
    oneof: 'userfaultfd', field: 40, message: 'UserfaultfdEvent', syscall: 'userfaultfd', syscalls: ['userfaultfd'], exactCall: false, fd: null, result: true,
    summarize(e, out) {
      Object.assign(out, { flags: e.flags, result: e.result });
    },
  },
  // The first datagram to each peer per process image within the window, on a connectionless socket.
  send: {
    oneof: 'send', field: 41, message: 'SendEvent', syscall: 'sendto', syscalls: ['sendto', 'sendmsg'], exactCall: true, fd: 'socket', result: true,
    summarize(e, out) {
      out.call = e.call;
      socketSummary(e, out);
    },
  },
  iouring: {
    oneof: 'ioUringOp', field: 42, message: 'IoUringEvent', syscall: 'io_uring_setup', syscalls: ['io_uring_setup', 'io_uring_enter'], exactCall: true, fd: null, result: true,
    summarize(e, out) {
      out.call = e.call;
      if (e.path2) out.op = e.path2;
      else Object.assign(out, { flags: e.flags, entries: e.id, result: e.result });
    },
  },
};

/** A plain object for logs, the event log and alerts: what happened, without zero-valued noise. */
export function eventSummary(e: Event): Record<string, unknown> {
  const out: Record<string, unknown> = {
    time: new Date(e.time).toISOString(),
    type: e.type,
    pid: e.pid,
    ppid: e.ppid,
    uid: e.uid,
    gid: e.gid,
    comm: e.comm,
    cgroupId: e.cgroupId,
  };
  if (e.blocked) out.blocked = true;
  if (e.blockedBy) out.blockedBy = e.blockedBy;
  if (e.ioUring) out.ioUring = true;
  EVENT_KINDS[e.type].summarize(e, out);
  return out;
}
