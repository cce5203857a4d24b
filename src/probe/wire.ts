// Generated from proto/vigil/v1/probe.proto (the probe ⇄ engine stream) by scripts/proto-types.ts:
// do not edit. Change the .proto, then `npx tsx scripts/proto-types.ts`.

/** Opens a connection's command call: the token its Stream's hello named. */
export interface WireCommandsRequest {
  token: string;
}

export interface WireProbeMessage {
  hello?: WireHello;
  batch?: WireEventBatch;
  loss?: WireLossReport;
  snapshot?: WireProcessSnapshot;
  ack?: WireCommandAck;
  packets?: WirePacketBatch;
  selfCheck?: WireSelfCheck;
  /** Which of hello, batch, loss, snapshot, ack, packets, selfCheck is set. */
  msg?: 'hello' | 'batch' | 'loss' | 'snapshot' | 'ack' | 'packets' | 'selfCheck';
}

/**
 * The probe's check of its own kernel state (bpf/probe/selfcheck.cc),
 * sent after every check (about once a second): what it wrote into its
 * maps and globals is still there, and every link it attached is still
 * attached to its program. Anything else was changed by someone else
 * (bpftool, a bpf() call): the probe puts it back and says what it found.
 */
export interface WireSelfCheck {
  /** checks run since the probe started */
  checks: number;
  /** changes found since the probe started */
  tampered: number;
  /** changes found by this check */
  found: WireTampering[];
  /** how often it checks */
  intervalMs: number;
  /** what it checks: "global policies_active", "map policies", "link cgroup/connect4", ... */
  watched: string[];
}

export interface WireTampering {
  /** "global", "map" or "link" */
  object: string;
  /** the global, map or link: "policies_active", "policies", "cgroup/connect4" */
  name: string;
  /** which entry or field: "excluded_tgids[1]", "cgroup 1234", "attachment" */
  field: string;
  /** what was there */
  found: string;
  /** what the probe had put there */
  expected: string;
  /** put back */
  restored: boolean;
  /** why it could not be put back, when not restored */
  error: string;
}

export interface WireHello {
  nodeName: string;
  probeVersion: string;
  probePid: number;
  /** Offset to add to a monotonic kernel timestamp to get Unix time (ns). */
  bootToUnixNs: number;
  /** Probe restarts get a new session id; the engine uses it to detect gaps. */
  sessionId: string;
  /** attached kernel hooks, e.g. "tp/syscalls/sys_enter_openat" */
  hooks: string[];
  /**
   * What this probe can do on this node: "exec-kill", "connect-refuse",
   * "write-kill", "quarantine", "capture", "kill". The engine refuses a
   * mode change it cannot carry out instead of failing open.
   */
  capabilities: string[];
  /**
   * How each enforced operation is stopped on this node (chosen when the
   * probe started: the strongest mechanism this kernel took).
   */
  enforcement: WireEnforcementHook[];
  /**
   * Whether the enforcement state (policies, quarantines and their programs)
   * found in force at start survived the previous probe (pinned in bpffs),
   * so a restart left no gap in enforcement. False: it starts empty and the
   * engine puts it back; the restart alert says enforcement was off meanwhile.
   * Quarantines are not pinned: they are off until the engine puts them back.
   */
  enforcementKept: boolean;
  /** Where this probe pins its enforcement programs' links (bpf/README.md). */
  pinning?: WirePinning;
  /**
   * The cgroup v2 id of the probe's own process (0: no cgroup v2 mount, or
   * not found): the engine refuses to enforce, quarantine or kill there (it
   * is Vigil's own). From /proc/self/cgroup; in a private cgroup namespace,
   * the cgroup of the mounted tree whose cgroup.procs lists the probe.
   */
  cgroupId: number;
  /**
   * Random, fresh for each connection (unlike session_id, kept across
   * reconnects): the Commands call naming it takes this stream's commands
   * and acknowledgements.
   */
  commandsToken: string;
}

/**
 * Enforcement that outlives the probe: the links of the programs that
 * enforce, pinned in bpffs, stay attached (with the maps their programs
 * read) when the probe dies, until a new probe has taken over.
 */
export interface WirePinning {
  /** this probe's pin directory, e.g. /sys/fs/bpf/vigil/NODE/v1-SESSION; "" when not pinned */
  dir: string;
  /** its enforcement links are pinned there */
  pinned: boolean;
  /** why not, when not: pinning turned off, or what failed (bpffs absent, ...) */
  why: string;
  /** links pinned */
  links: number;
  /** links left pinned by earlier probes, in force until the engine has re-applied its policies */
  previousLinks: number;
  /**
   * On a clean stop (SIGTERM): "keep-while-enforcing" (pins stay while any
   * policy is in force, so an upgrade leaves no gap) or "unpin".
   */
  onExit: string;
}

export interface WireEnforcementHook {
  /**
   * open-write, create, truncate, unlink, rmdir, rename, chmod, chown,
   * mkdir, symlink, link, exec, connect
   */
  operation: string;
  mechanism: number;
  /** the kernel program, e.g. "lsm/file_open" */
  program: string;
  /** why not a stronger mechanism, when it is not the strongest */
  why: string;
}

export interface WireEventBatch {
  /** per-session batch sequence number, starts at 1 */
  seq: number;
  events: WireEvent[];
}

/** Losses since the probe started (cumulative, so a lost report loses nothing). */
export interface WireLossReport {
  /** kernel: bpf_ringbuf_reserve failed */
  ringbufFull: number;
  /** probe: malformed ring-buffer record */
  decodeErrors: number;
  /** probe: event dropped because the send queue was full */
  queueFull: number;
  /** informational: paths cut at the kernel buffer size */
  pathTruncated: number;
  /** events read from the ring buffer */
  eventsTotal: number;
  /** kernel: a syscall's entry could not be kept until its exit */
  inflightFull: number;
  /** kernel: a captured packet did not fit the packet ring buffer */
  packetsLost: number;
  /** not a loss: repeats counted in the kernel instead of sent (bpf/dedup.bpf.h) */
  deduplicated: number;
  /**
   * Who lost what, per cgroup: the engine raises one alert per workload and
   * episode (critical in enforce mode) and counts them in `vigil status`.
   * Cumulative like the totals above; a report carries only the cgroups whose
   * counts grew since the previous report (the engine keeps the last values),
   * at most 256 of them, the largest growth first. What the list leaves out
   * stays in the totals, and the engine reports it as not attributed.
   */
  cgroups: WireCgroupLoss[];
  /** kernel: DNS answers not sent, over a workload's per-second budget (bpf/dns.bpf.h) */
  dnsDropped: number;
  /** informational: execs whose environment was cut at the probe's limit (ExecEvent.env_truncated) */
  envTruncated: number;
  /** the node's fairness budget now (not a loss: what every workload's share is a share of) */
  fairness?: WireFairnessReport;
}

/**
 * The probe's fairness (bpf/probe/fairness.h): the rate it lets toward the
 * engine, shared max-min between workloads. Cut when events back up ahead
 * of a workload's next one, or to what the engine acknowledges while a
 * flood waits; grown back by a twentieth a tick.
 */
export interface WireFairnessReport {
  /** events/s now; 0 when fairness is off */
  budget: number;
  /** events/s configured (probe.fairness.eventsPerSec); 0: off */
  configured: number;
  /** times the budget was cut since the probe started */
  cuts: number;
  /** the lowest budget since the probe started, events/s */
  lowest: number;
  /** workloads held to their share now */
  held: number;
}

/** One cgroup's share of the losses, and of the fairness shedding (counts since the probe started). */
export interface WireCgroupLoss {
  cgroupId: number;
  /** kernel: its records that did not fit the ring buffer */
  ringbufFull: number;
  /** probe: its events dropped from the send queue */
  queueFull: number;
  /** kernel: its syscall entries that could not be kept until their exit */
  inflightFull: number;
  /**
   * Fairness: its events over its share of the ring buffer and queue, counted
   * instead of sent (never exec, privilege changes, protected writes, or what
   * a rule or enforcement needs). Not a loss of security events; reported.
   */
  shed: number;
  /** shed, by event kind ("open", "connect", ...) */
  shedByKind: Record<string, number>;
}

/** Processes already running when the probe started. */
export interface WireProcessSnapshot {
  processes: WireProcessInfo[];
  /** the snapshot may span several messages */
  last: boolean;
}

export interface WireProcessInfo {
  pid: number;
  ppid: number;
  uid: number;
  gid: number;
  comm: string;
  exe: string;
  argv: string[];
  cwd: string;
  cgroupId: number;
  startKtimeNs: number;
  /** as ExecEvent.tty */
  tty: number;
  /** as ExecEvent (from /proc/PID/status) */
  capEffective: number;
  capPermitted: number;
  /** 4294967295 when unset */
  loginuid: number;
  /** the pid in its own pid namespace (last NSpid) */
  vpid: number;
}

/** Fields every event carries. */
export interface WireEvent {
  /** CLOCK_MONOTONIC, as bpf_ktime_get_ns() */
  ktimeNs: number;
  /** thread-group id (the "process id" users see) */
  pid: number;
  tid: number;
  /** real parent's tgid */
  ppid: number;
  uid: number;
  gid: number;
  comm: string;
  /** cgroup v2 id (inode of the cgroup directory) */
  cgroupId: number;
  /** Vigil's enforcement stopped it (denied, refused, or the caller killed) */
  blocked: boolean;
  /** how, when blocked */
  blockedBy: number;
  /** submitted through an io_uring ring, not as a syscall (open, connect, io_uring) */
  ioUring: boolean;
  exec?: WireExecEvent;
  fork?: WireForkEvent;
  exit?: WireExitEvent;
  open?: WireOpenEvent;
  unlink?: WireUnlinkEvent;
  rename?: WireRenameEvent;
  chmod?: WireChmodEvent;
  connect?: WireConnectEvent;
  accept?: WireAcceptEvent;
  bind?: WireBindEvent;
  listen?: WireListenEvent;
  setId?: WireSetIdEvent;
  ptrace?: WirePtraceEvent;
  moduleLoad?: WireModuleLoadEvent;
  mount?: WireMountEvent;
  namespace?: WireNamespaceEvent;
  dup?: WireDupEvent;
  fileOp?: WireFileOpEvent;
  dns?: WireDnsEvent;
  cgroupMove?: WireCgroupMoveEvent;
  mkdir?: WireMkdirEvent;
  link?: WireLinkEvent;
  socket?: WireSocketEvent;
  bpf?: WireBpfEvent;
  userfaultfd?: WireUserfaultfdEvent;
  send?: WireSendEvent;
  ioUringOp?: WireIoUringEvent;
  /** Which of exec, fork, exit, open, unlink, rename, chmod, connect, accept, bind, listen, setId, ptrace, moduleLoad, mount, namespace, dup, fileOp, dns, cgroupMove, mkdir, link, socket, bpf, userfaultfd, send, ioUringOp is set. */
  kind?: 'exec' | 'fork' | 'exit' | 'open' | 'unlink' | 'rename' | 'chmod' | 'connect' | 'accept' | 'bind' | 'listen' | 'setId' | 'ptrace' | 'moduleLoad' | 'mount' | 'namespace' | 'dup' | 'fileOp' | 'dns' | 'cgroupMove' | 'mkdir' | 'link' | 'socket' | 'bpf' | 'userfaultfd' | 'send' | 'ioUringOp';
}

/**
 * A process moved to another cgroup (tp_btf/cgroup_attach_task): the
 * Event's own fields are the mover's (who wrote cgroup.procs, often the
 * process itself). A process that leaves the cgroups of an enforce policy
 * keeps that policy (bpf/enforce.bpf.h): policy_root_cgroup_id says which.
 */
export interface WireCgroupMoveEvent {
  /** the process moved */
  pid: number;
  /** its command name */
  comm: string;
  /** where its thread was at its last watched syscall; 0: not known */
  fromCgroupId: number;
  toCgroupId: number;
  /** the enforce policy that keeps applying to it, 0 for none */
  policyRootCgroupId: number;
  /** the whole process (cgroup.procs), not one thread (cgroup.threads) */
  threadgroup: boolean;
}

export interface WireExecEvent {
  /** as passed to execve */
  filename: string;
  /** the executed file, absolute (symlinks resolved) */
  exe: string;
  argv: string[];
  argvTruncated: boolean;
  cwd: string;
  /** controlling terminal (major << 20 | minor), 0 if none */
  tty: number;
  /** capability bits after the exec (bit n: capability n) */
  capEffective: number;
  capPermitted: number;
  /** audit login uid; 4294967295 when unset */
  loginuid: number;
  /** the pid in the process's own pid namespace (a container's) */
  vpid: number;
  /** the executable is on an overlay file system (a container's root)… */
  exeOnOverlay: boolean;
  /** …on its upper (writable) layer: not from the image */
  exeUpperLayer: boolean;
  /** the file run: inode number and its file system's device (kernel dev_t) */
  exeIno: number;
  exeDev: number;
  /** its content, hex; the probe hashes each (dev, inode, change time) once; "" when it could not read it */
  exeSha256: string;
  /** what fds 0, 1 and 2 were at exec: a STDIO_* byte each, fd 0 lowest */
  stdio: number;
  /**
   * The environment at exec, in its order, "NAME=value": every variable's
   * name, but the value only for an allow-list (the dynamic loader's, the
   * proxies', PATH; bpf/probe/environ.cc); any other value reads
   * "NAME=<redacted>" and never leaves the probe, nor a proxy URL's user
   * and password. At most 8 KiB of the block and 256 variables.
   */
  env: string[];
  /** the environment was longer: the variables past the limit are missing */
  envTruncated: boolean;
}

export interface WireForkEvent {
  childPid: number;
  /** the child's pid in its own pid namespace */
  childVpid: number;
}

export interface WireExitEvent {
  /** WEXITSTATUS */
  exitCode: number;
  /** terminating signal, 0 if none */
  signal: number;
}

export interface WireOpenEvent {
  /** absolute: the file opened, as the kernel names it (PATH_RESOLVED); else path_raw */
  path: string;
  /** O_* flags as passed */
  flags: number;
  mode: number;
  /** fd, or -errno */
  result: number;
  /** the path as the caller passed it, joined to its directory when relative, not folded (Falco's fd.nameraw); left out when it is path (PATH_RAW_SAME) */
  pathRaw: string;
  /** PATH_* bits below */
  pathFlags: number;
  /** the file opened: inode number, its file system's device, hard links, type and mode */
  ino: number;
  /** kernel dev_t (major << 20 | minor) */
  dev: number;
  nlink: number;
  /** S_IFMT | permission bits */
  fileMode: number;
  /**
   * Fields 2-4 and 6-10 at fixed offsets (below): what the probe sends, as
   * the eight are read in one go, not field by field (bench/README.md, "An
   * open's numbers in one field"). Where present it stands for those fields,
   * wherever they are on the wire; they remain for hand-built events.
   */
  numbers: Uint8Array;
}

export interface WireUnlinkEvent {
  path: string;
  /** rmdir / AT_REMOVEDIR */
  dir: boolean;
  result: number;
}

export interface WireRenameEvent {
  oldPath: string;
  newPath: string;
  flags: number;
  result: number;
}

export interface WireChmodEvent {
  /** for fchmod: the file behind the fd */
  path: string;
  mode: number;
  result: number;
}

export interface WireSockAddr {
  /** AF_INET = 2, AF_INET6 = 10, AF_UNIX = 1 */
  family: number;
  /** 4 or 16 bytes in network order */
  address: Uint8Array;
  port: number;
  /** AF_UNIX */
  path: string;
}

export interface WireConnectEvent {
  remote?: WireSockAddr;
  protocol: number;
  /** 0, or -errno (-EINPROGRESS for non-blocking sockets) */
  result: number;
}

export interface WireAcceptEvent {
  remote?: WireSockAddr;
  local?: WireSockAddr;
  /** new fd, or -errno */
  result: number;
}

export interface WireBindEvent {
  local?: WireSockAddr;
  protocol: number;
  result: number;
}

export interface WireListenEvent {
  local?: WireSockAddr;
  backlog: number;
  result: number;
}

export interface WireSetIdEvent {
  /** setuid, setgid, setreuid, setregid, setresuid, setresgid, setfsuid, setfsgid */
  call: string;
  /** the requested (effective) id; -1 if unchanged */
  id: number;
  result: number;
  /** capabilities after the call */
  capEffective: number;
  capPermitted: number;
  /**
   * The caller's effective, saved and file system ids as the call found
   * them, before it changed them (the real ones are Event.uid and
   * Event.gid): root's no-op setuid(0) tells apart from a process taking
   * root back.
   */
  euid: number;
  suid: number;
  egid: number;
  sgid: number;
  fsuid: number;
  fsgid: number;
  /**
   * The caller's ids as the call left them: whether a change took effect
   * (setfsuid returns the old fsuid whether it changed it or not). Absent
   * from a probe that does not read them.
   */
  after?: WireTaskIds;
}

/** A task's user and group ids: real, effective, saved, file system. */
export interface WireTaskIds {
  uid: number;
  euid: number;
  suid: number;
  fsuid: number;
  gid: number;
  egid: number;
  sgid: number;
  fsgid: number;
}

export interface WirePtraceEvent {
  /** PTRACE_* request */
  request: number;
  targetPid: number;
  result: number;
}

export interface WireModuleLoadEvent {
  /** init_module, finit_module */
  call: string;
  /** finit_module: the file behind the fd */
  path: string;
  result: number;
}

export interface WireMountEvent {
  source: string;
  target: string;
  fstype: string;
  flags: number;
  result: number;
}

export interface WireNamespaceEvent {
  /** setns, unshare */
  call: string;
  /** setns: nstype; unshare: CLONE_NEW* flags */
  flags: number;
  result: number;
}

/**
 * A change below a protected path denied by a security hook, of a call
 * the probe does not otherwise watch (bpf/deny.bpf.h).
 */
export interface WireFileOpEvent {
  /** mkdir, symlink, link, chown, truncate */
  call: string;
  /** what would have been created or changed */
  path: string;
  /** -EPERM */
  result: number;
}

/**
 * A DNS answer arriving at a workload's socket (bpf/dns.bpf.h), seen
 * before the workload can read it. No task runs it: the Event's pid,
 * tid, ppid, uid, gid and comm are empty; cgroup_id is the socket's. The
 * engine parses the message (src/ingest/dns.ts).
 */
export interface WireDnsEvent {
  /** the DNS message from its header on, at most 1024 bytes */
  message: Uint8Array;
  /** its length in the packet (more than message holds when cut) */
  length: number;
  /** the resolver that answered (port 53) */
  server?: WireSockAddr;
  protocol: number;
  /** addresses it added to the kernel's connect allow-list (enforce mode by name) */
  allowed: number;
}

/** An IP socket duplicated onto stdin, stdout or stderr. */
export interface WireDupEvent {
  oldFd: number;
  newFd: number;
  remote?: WireSockAddr;
  local?: WireSockAddr;
  protocol: number;
  result: number;
  /** dup2, dup3, dup, fcntl (F_DUPFD, F_DUPFD_CLOEXEC) */
  call: string;
}

export interface WireMkdirEvent {
  path: string;
  mode: number;
  result: number;
}

/** symlink, symlinkat, link, linkat: a new name `path` for `target`. */
export interface WireLinkEvent {
  call: string;
  /** symlink: the target string as given (not resolved); link: the existing file */
  target: string;
  /** the new name */
  path: string;
  /** linkat: AT_* flags */
  flags: number;
  result: number;
}

/** A raw socket (SOCK_RAW, any family) or a packet socket (AF_PACKET) made. */
export interface WireSocketEvent {
  family: number;
  /** SOCK_* with SOCK_NONBLOCK/SOCK_CLOEXEC */
  type: number;
  protocol: number;
  /** the fd, or -errno */
  result: number;
}

/** bpf(): a command that loads, attaches or reaches into a BPF object. */
export interface WireBpfEvent {
  /** BPF_* command number */
  cmd: number;
  /** BPF_PROG_LOAD */
  progType: number;
  /** BPF_PROG_LOAD: the expected attach type; BPF_MAP_CREATE: the map type */
  subType: number;
  /** the program's or map's name */
  name: string;
  result: number;
}

export interface WireUserfaultfdEvent {
  flags: number;
  result: number;
}

/**
 * sendto or sendmsg to an explicit address on a connectionless socket:
 * the first to each peer per process image within the window.
 */
export interface WireSendEvent {
  /** sendto, sendmsg */
  call: string;
  remote?: WireSockAddr;
  protocol: number;
  result: number;
}

/**
 * io_uring: a ring set up, or the first operation of an opcode a process
 * image submitted (its opens and connects are OpenEvent and ConnectEvent
 * with Event.io_uring set).
 */
export interface WireIoUringEvent {
  /** io_uring_setup, or io_uring_enter for an operation submitted */
  call: string;
  /** io_uring_setup: IORING_SETUP_* (SQPOLL = 2) */
  flags: number;
  /** io_uring_setup: submission queue entries */
  entries: number;
  /** io_uring_setup: the ring's fd, or -errno */
  result: number;
  /** io_uring_enter: the operation, IORING_OP_* in lower case ("send", "socket", ...) */
  op: string;
}

/** Captured packets, each starting at its IP header. */
export interface WirePacketBatch {
  packets: WirePacket[];
}

export interface WirePacket {
  captureId: number;
  ktimeNs: number;
  cgroupId: number;
  egress: boolean;
  /** bytes on the wire; data may be shorter (snap length) */
  len: number;
  data: Uint8Array;
}

/**
 * Commands from the engine. Each is answered by a CommandAck with its id.
 * A message with no command set and acked_seq > 0 only acknowledges
 * batches: the probe keeps every batch until it is acknowledged and
 * resends the unacknowledged ones after a reconnect.
 */
export interface WireEngineCommand {
  id: number;
  /** every batch up to this sequence number was processed */
  ackedSeq: number;
  ping?: WirePing;
  quarantine?: WireQuarantine;
  release?: WireRelease;
  startCapture?: WireStartCapture;
  stopCapture?: WireStopCapture;
  kill?: WireKill;
  setPolicy?: WireSetPolicy;
  setProtectedPaths?: WireSetProtectedPaths;
  enforcementApplied?: WireEnforcementApplied;
  readUserFiles?: WireReadUserFiles;
  /** Which of ping, quarantine, release, startCapture, stopCapture, kill, setPolicy, setProtectedPaths, enforcementApplied, readUserFiles is set. */
  cmd?: 'ping' | 'quarantine' | 'release' | 'startCapture' | 'stopCapture' | 'kill' | 'setPolicy' | 'setProtectedPaths' | 'enforcementApplied' | 'readUserFiles';
}

/**
 * Read a container's /etc/passwd and /etc/group for the engine, which may
 * not read other processes' roots (no CAP_SYS_PTRACE; the probe holds it
 * for its snapshot). Through /proc/<pid>/root of the first of `pids` that
 * is in cgroup `cgroup_id` before and after the read; never following a
 * symlink (etc, then the file, O_NOFOLLOW), regular files only, at most
 * 4 MiB each. Answered by a CommandAck carrying `files` (passwd, then
 * group); ok false with why when no pid would do or over the probe's rate.
 * Read off the probe's command thread: a read that has not finished in 2 s
 * (a filesystem under the container's /etc not answering) is answered ok
 * false, its error starting "timed out: ", and the cgroup is refused
 * ("backed off: ...") while it hangs and for 60 s after.
 */
export interface WireReadUserFiles {
  /** candidates, tried in order (at most 8) */
  pids: number[];
  /** each must be in this cgroup (by the directory's inode) */
  cgroupId: number;
  /**
   * The node's own files instead: through /proc/1/root (the probe shares
   * the node's pid namespace, hostPID), no cgroup check; pids ignored.
   */
  node: boolean;
  /** the signature the engine holds: the content is not sent again when unchanged */
  knownPasswd: string;
  knownGroup: string;
}

/** One file read for ReadUserFiles. */
export interface WireUserFile {
  /** "passwd" or "group" */
  name: string;
  /** dev:ino:size:mtime_ns:ctime_ns; "" when not read */
  signature: string;
  /** empty when unchanged */
  content: Uint8Array;
  /** the signature is the one the engine holds */
  unchanged: boolean;
  /** longer than 4 MiB: the rest is not read */
  truncated: boolean;
  /** why it could not be read (then no signature) */
  error: string;
  /** the process read through */
  pid: number;
}

/**
 * The engine has put back every policy (and protected path) it holds
 * into this probe after it connected: the links earlier probes left pinned
 * are released (their programs detach), the new probe's programs enforce
 * alone. Answered with how many were released.
 */
export type WireEnforcementApplied = Record<string, never>;

export type WirePing = Record<string, never>;

/** A cgroup: its id, and its path below the cgroup v2 mount ("/shop/web"). */
export interface WireCgroupRef {
  id: number;
  path: string;
}

/** Drop every packet in and out of these cgroups (and their descendants). */
export interface WireQuarantine {
  cgroups: WireCgroupRef[];
}

export interface WireRelease {
  cgroups: WireCgroupRef[];
}

export interface WireStartCapture {
  captureId: number;
  cgroups: WireCgroupRef[];
  /** bytes kept per packet (at most 1536) */
  snaplen: number;
  /** across all the cgroups */
  maxPackets: number;
}

export interface WireStopCapture {
  captureId: number;
}

export interface WireKill {
  pid: number;
  /** default SIGKILL */
  signal: number;
  /** if set, the process must have started then (±50 ms): guards pid reuse */
  startKtimeNs: number;
}

/** An allowed destination for connect: an address or prefix, a port (0: any) and a protocol. */
export interface WireNetAllow {
  /** 2 or 10 */
  family: number;
  /** 4 or 16 bytes */
  address: Uint8Array;
  /** 32/128 for one address */
  prefixLen: number;
  port: number;
  protocol: number;
}

/**
 * Replaces the enforcement policy of a policy root cgroup (and its
 * descendants). All switches off removes it.
 */
export interface WireSetPolicy {
  rootCgroupId: number;
  /** kill an exec not in exec_allow */
  exec: boolean;
  /** refuse a connect not in connect_allow */
  connect: boolean;
  /** kill a write below a protected path not in write_allow */
  write: boolean;
  /** absolute executable paths */
  execAllow: string[];
  connectAllow: WireNetAllow[];
  /** absolute paths */
  writeAllow: string[];
  /**
   * Names whose answers' addresses the kernel adds to connect_allow as
   * they arrive (bpf/dns.bpf.h): "api.example.com", or "*.example.com"
   * for any name below it.
   */
  connectNames: WireNameAllow[];
  /**
   * Executables allowed only as the file learned: an exec_allow path named
   * here is allowed by these identities alone (dev 0 and ino 0: by none,
   * the file there now is not one learned).
   */
  execIdentity: WireExecIdentity[];
  /**
   * Refuse bpf() (every command) where a security hook can (BPF LSM or
   * fmod_ret on security_bpf); elsewhere it is only alerted.
   */
  bpf: boolean;
}

/** An allowed name and a port it may be connected to (0: any). */
export interface WireNameAllow {
  name: string;
  port: number;
  protocol: number;
}

export interface WireExecIdentity {
  path: string;
  /** kernel dev_t */
  dev: number;
  ino: number;
  /** its change time (a write, chmod or new link makes it another identity), */
  ctimeSec: number;
  /** in two parts: the engine's int64 are JavaScript numbers */
  ctimeNsec: number;
}

/** Path prefixes below which writes need a write_allow entry in enforce mode (at most 16, 64 bytes each). */
export interface WireSetProtectedPaths {
  prefixes: string[];
}

export interface WireCommandAck {
  id: number;
  ok: boolean;
  /** why, when !ok */
  error: string;
  /** what was done, when ok */
  detail: string;
  /** ReadUserFiles' answer */
  files: WireUserFile[];
}
