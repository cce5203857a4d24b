// Generated from proto/vigil/v1/control.proto (the CLI ⇄ engine control API) by scripts/proto-types.ts:
// do not edit. Change the .proto, then `npx tsx scripts/proto-types.ts`.

export interface SetModeRequest {
  workload: string;
  /** learn, monitor, enforce */
  mode: string;
}

export interface SetModeReply {
  ok: boolean;
  error: string;
  from: string;
  /** what this node cannot enforce */
  warnings: string[];
}

export interface ExportPolicyRequest {
  /** empty: every profiled workload */
  workload: string;
  /** yaml (WorkloadProfile), networkpolicy or ciliumnetworkpolicy */
  format: string;
}

/** Policy YAML one way or the other; `source` names it in errors. */
export interface PolicyText {
  text: string;
  source: string;
  ok: boolean;
  error: string;
}

export interface ApplyPolicyReply {
  ok: boolean;
  error: string;
  applied: string[];
  warnings: string[];
}

/** A workload by name (as `vigil status` lists it) or key. */
export interface WorkloadRequest {
  workload: string;
  reason: string;
}

export interface ActionReply {
  ok: boolean;
  /** why not, when !ok */
  error: string;
  /** what was done, when ok */
  detail: string;
}

export interface CaptureRequest {
  workload: string;
  /** 0: the config's default */
  seconds: number;
  /** 0: the config's default */
  maxPackets: number;
}

/** Answered when the capture has ended. */
export interface CaptureReply {
  ok: boolean;
  error: string;
  file: string;
  packets: number;
  bytes: number;
  /** time, packets, bytes, disk cap, stopped */
  ended: string;
}

export interface KillRequest {
  pid: number;
}

export type StatusRequest = Record<string, never>;

export interface LossCounters {
  ringbufFull: number;
  decodeErrors: number;
  queueFull: number;
  pathTruncated: number;
  eventsTotal: number;
  inflightFull: number;
  packetsLost: number;
  /** not a loss: repeats counted in the kernel instead of sent */
  deduplicated: number;
  /** DNS answers not sent: over a workload's per-second budget (bpf/dns.bpf.h) */
  dnsDropped: number;
}

export interface ProbeStatus {
  nodeName: string;
  sessionId: string;
  probeVersion: string;
  probePid: number;
  connected: boolean;
  /** Unix time */
  connectedAtMs: number;
  hooks: number;
  batches: number;
  events: number;
  /** batches missing by sequence number */
  batchGaps: number;
  /** as last reported by the probe */
  losses: LossCounters;
  /** Unix time, 0 if none yet */
  lastBatchAtMs: number;
  /** Unix time of its last message (it reports its counters every second: a heartbeat) */
  lastHeardAtMs: number;
  /** connected, but silent for longer than engine.probeStallSeconds */
  stalled: boolean;
}

/** One workload's events lost before the engine saw them, and shed over its fair share, since the engine started. */
export interface WorkloadLoss {
  workload: string;
  ringbufFull: number;
  inflightFull: number;
  queueFull: number;
  /** not sent but counted (fairness); never security-relevant kinds */
  shed: number;
}

export interface WorkloadStatus {
  name: string;
  cgroupPath: string;
  mode: string;
  events: number;
}

export interface StatusReply {
  nodeName: string;
  engineVersion: string;
  startedAtMs: number;
  probes: ProbeStatus[];
  eventsByType: Record<string, number>;
  workloads: WorkloadStatus[];
  /** entries in the process tree */
  processes: number;
  /** rejected by the engine's decoder */
  malformedEvents: number;
  /** events whose cgroup id had no path */
  unknownCgroups: number;
  /** workloads under network quarantine */
  quarantined: string[];
  probeCapabilities: string[];
  /** signature rules running */
  rulesLoaded: number;
  /** rules that could not run here (vigil rules list says why) */
  rulesSkipped: number;
  alertsRaised: number;
  /** How the connected probe stops each enforced operation on this node. */
  enforcement: EnforcementStatus[];
  /** a connected probe went silent (each an alert) */
  probeStalls: number;
  /** a probe came back as a new process: a gap in what was observed */
  probeRestarts: number;
  /** the probe `vigil run` supervises exited */
  probeExits: number;
  /** episodes of lost events (each alerted when it starts, while it goes on, when over) */
  lossEpisodes: number;
  /** by workload, most lost first; events no cgroup accounts for are the node's */
  workloadLosses: WorkloadLoss[];
  /** container runtimes this engine asks who a container is */
  runtimes: RuntimeStatus[];
  containers: ContainerStatus;
  /** Names from DNS answers seen in the kernel (docs/dns.md). */
  dns: DnsStatus;
}

export interface DnsStatus {
  /** the probe watches answers on this node; false: connects are judged by address only */
  seen: boolean;
  /** answers with addresses taken in */
  answers: number;
  /** addresses held with the name they were resolved from */
  addresses: number;
  /** addresses forgotten early: their workload's table was full */
  evicted: number;
}

export interface EnforcementStatus {
  /** open-write, create, truncate, unlink, rmdir, rename, chmod, chown, mkdir, symlink, link, exec, connect */
  operation: string;
  /** bpf-lsm, fmod_ret, cgroup, kill-at-entry, or "" (not stopped in the kernel) */
  mechanism: string;
  /** the kernel program */
  program: string;
  /** why not a stronger mechanism */
  why: string;
}

export interface RuntimeStatus {
  /** cri | docker */
  kind: string;
  socket: string;
  /** containerd, cri-o, docker */
  runtime: string;
  /** as the runtime says, "" until it answered */
  version: string;
  /** answering now */
  up: boolean;
}

export interface ContainerStatus {
  /** containers the runtimes have described */
  known: number;
  /** times a runtime was asked about a container */
  lookups: number;
  /** lookups no runtime could answer (down, slow) */
  failed: number;
  /** container cgroups no runtime named in time: named by their cgroup */
  unnamed: number;
  /** events that waited for their container's identity */
  held: number;
  /** containers whose events went on unnamed after the hold time */
  heldTimedOut: number;
}

/** ControlService's methods (all unary): each one's request and reply message, by name and by type. */
export const CONTROL_METHODS = {
  Status: { request: 'StatusRequest', reply: 'StatusReply' },
  Quarantine: { request: 'WorkloadRequest', reply: 'ActionReply' },
  Release: { request: 'WorkloadRequest', reply: 'ActionReply' },
  Capture: { request: 'CaptureRequest', reply: 'CaptureReply' },
  Kill: { request: 'KillRequest', reply: 'ActionReply' },
  SetMode: { request: 'SetModeRequest', reply: 'SetModeReply' },
  ExportPolicy: { request: 'ExportPolicyRequest', reply: 'PolicyText' },
  ApplyPolicy: { request: 'PolicyText', reply: 'ApplyPolicyReply' },
  DiffPolicy: { request: 'PolicyText', reply: 'PolicyText' },
} as const;

export interface ControlServiceTypes {
  Status: { request: StatusRequest; reply: StatusReply };
  Quarantine: { request: WorkloadRequest; reply: ActionReply };
  Release: { request: WorkloadRequest; reply: ActionReply };
  Capture: { request: CaptureRequest; reply: CaptureReply };
  Kill: { request: KillRequest; reply: ActionReply };
  SetMode: { request: SetModeRequest; reply: SetModeReply };
  ExportPolicy: { request: ExportPolicyRequest; reply: PolicyText };
  ApplyPolicy: { request: PolicyText; reply: ApplyPolicyReply };
  DiffPolicy: { request: PolicyText; reply: PolicyText };
}
