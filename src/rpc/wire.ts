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
  kind?: string;
  exec?: { filename: string; exe: string; argv: string[]; argvTruncated: boolean; cwd: string };
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
}

export interface WireHello {
  nodeName: string;
  probeVersion: string;
  probePid: number;
  bootToUnixNs: number;
  sessionId: string;
  hooks: string[];
}

export interface WireLossReport {
  ringbufFull: number;
  decodeErrors: number;
  queueFull: number;
  pathTruncated: number;
  eventsTotal: number;
  inflightFull: number;
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
}

export interface WireProbeMessage {
  msg?: 'hello' | 'batch' | 'loss' | 'snapshot' | 'ack';
  hello?: WireHello;
  batch?: { seq: number; events: WireEvent[] };
  loss?: WireLossReport;
  snapshot?: { processes: WireProcessInfo[]; last: boolean };
  ack?: { id: number; ok: boolean; error: string };
}

/** Commands to the probe; more kinds arrive with the response issue. */
export interface WireEngineCommand {
  id: number;
  ping?: Record<string, never>;
}
