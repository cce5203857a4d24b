// TypeScript views of the probe.proto messages as protobufjs decodes them
// (camelCase fields, 64-bit integers as numbers, a oneof's name in its
// virtual field). Only what the engine reads or writes is typed.

export interface WireSockAddr {
  family: number;
  address: Uint8Array;
  port: number;
  path: string;
}

export interface WireEvent {
  ktimeNs: number;
  pid: number;
  tid: number;
  ppid: number;
  uid: number;
  gid: number;
  comm: string;
  cgroupId: number;
  blocked: boolean;
  kind?: string;
  exec?: { filename: string; exe: string; argv: string[]; argvTruncated: boolean; cwd: string; tty: number };
  fork?: { childPid: number };
  exit?: { exitCode: number; signal: number };
  open?: { path: string; flags: number; mode: number; result: number };
  unlink?: { path: string; dir: boolean; result: number };
  rename?: { oldPath: string; newPath: string; flags: number; result: number };
  chmod?: { path: string; mode: number; result: number };
  connect?: { remote?: WireSockAddr; protocol: number; result: number };
  accept?: { remote?: WireSockAddr; local?: WireSockAddr; result: number };
  bind?: { local?: WireSockAddr; protocol: number; result: number };
  listen?: { local?: WireSockAddr; backlog: number; result: number };
  setId?: { call: string; id: number; result: number };
  ptrace?: { request: number; targetPid: number; result: number };
  moduleLoad?: { call: string; path: string; result: number };
  mount?: { source: string; target: string; fstype: string; flags: number; result: number };
  namespace?: { call: string; flags: number; result: number };
  dup?: { oldFd: number; newFd: number; remote?: WireSockAddr; local?: WireSockAddr; protocol: number; result: number };
}

export interface WireHello {
  nodeName: string;
  probeVersion: string;
  probePid: number;
  bootToUnixNs: number;
  sessionId: string;
  hooks: string[];
  /** What the probe can do on its node: exec-kill, connect-refuse, write-kill, quarantine, capture, kill. */
  capabilities: string[];
}

export interface WireLossReport {
  ringbufFull: number;
  decodeErrors: number;
  queueFull: number;
  pathTruncated: number;
  eventsTotal: number;
  inflightFull: number;
  packetsLost: number;
  /** Not a loss: repeats the kernel counted instead of sending (bpf/dedup.bpf.h). */
  deduplicated: number;
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
  tty: number;
}

export interface WirePacket {
  captureId: number;
  ktimeNs: number;
  cgroupId: number;
  egress: boolean;
  len: number;
  data: Uint8Array;
}

export interface WireProbeMessage {
  msg?: 'hello' | 'batch' | 'loss' | 'snapshot' | 'ack' | 'packets';
  hello?: WireHello;
  batch?: { seq: number; events: WireEvent[] };
  loss?: WireLossReport;
  snapshot?: { processes: WireProcessInfo[]; last: boolean };
  ack?: { id: number; ok: boolean; error: string; detail: string };
  packets?: { packets: WirePacket[] };
}

/** A cgroup as commands name it: id, and path below the cgroup v2 mount. */
export interface WireCgroupRef {
  id: number;
  path: string;
}

export interface WireNetAllow {
  family: number;
  address: Uint8Array;
  prefixLen: number;
  port: number;
  protocol: number;
}

export interface WireSetPolicy {
  rootCgroupId: number;
  exec: boolean;
  connect: boolean;
  write: boolean;
  execAllow: string[];
  connectAllow: WireNetAllow[];
  writeAllow: string[];
}

/** Commands to the probe (probe.proto EngineCommand): exactly one kind set. */
export interface WireEngineCommand {
  id: number;
  /** Every batch up to this sequence number was processed (0: not an acknowledgement). */
  ackedSeq?: number;
  ping?: Record<string, never>;
  quarantine?: { cgroups: WireCgroupRef[] };
  release?: { cgroups: WireCgroupRef[] };
  startCapture?: { captureId: number; cgroups: WireCgroupRef[]; snaplen: number; maxPackets: number };
  stopCapture?: { captureId: number };
  kill?: { pid: number; signal: number; startKtimeNs: number };
  setPolicy?: WireSetPolicy;
  setProtectedPaths?: { prefixes: string[] };
}
