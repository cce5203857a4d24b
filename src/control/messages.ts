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
  /** informational: execs whose environment was cut at the probe's limit */
  envTruncated: number;
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
  /** the probe's check of its own kernel state (bpf/probe/selfcheck.cc) */
  selfCheck: SelfCheckStatus;
  /** enforcement pinned in bpffs, in force across a probe restart */
  pinning: PinningStatus;
  /** where its start-up snapshot takes each process's cgroup: "kernel" (task iterator) or "proc" (/proc/PID/cgroup, the fallback) */
  snapshotCgroups: string;
  /** its fairness budget toward this engine, as last reported */
  fairness: FairnessStatus;
}

/** As probe.proto's FairnessReport: every workload's share is a share of the budget. */
export interface FairnessStatus {
  /** events/s now; 0 when fairness is off */
  budget: number;
  /** events/s configured; 0: off */
  configured: number;
  /** times cut since the probe started (it halves on a backlog, or falls to what the engine acknowledges under a flood) */
  cuts: number;
  /** lowest since the probe started, events/s */
  lowest: number;
  /** workloads held to their share now */
  held: number;
}

export interface PinningStatus {
  /** "" when not pinned */
  dir: string;
  pinned: boolean;
  /** why not, when not */
  why: string;
  links: number;
  /** left by earlier probes: in force until the engine re-applied its policies */
  previousLinks: number;
  /** the engine re-applied its policies and the earlier probes' links were released */
  previousReleased: boolean;
  /** keep-while-enforcing | unpin */
  onExit: string;
}

/** What the probe checks of its own kernel state, and what it found. */
export interface SelfCheckStatus {
  /** checks run by this probe */
  checks: number;
  /** changes by someone else it found (each put back if it could, and alerted) */
  tampered: number;
  /** how often it checks */
  intervalMs: number;
  /** Unix time of the last check report; 0: none yet */
  lastCheckAtMs: number;
  /** what it checks: "global policies_active", "map policies", "link cgroup/connect4", ... */
  watched: string[];
  /** the latest change found, as a sentence; "" for none */
  lastFound: string;
  lastFoundAtMs: number;
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
  /** opens whose path is incomplete (cut or unreadable) */
  pathsIncomplete: number;
  /** Why it is never enforced here ("" when it may be): it holds Vigil's own processes. */
  notEnforceable: string;
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
  /** Processes moved to another cgroup (cgroup migration), out of a workload (each an alert), and of those the ones an enforce policy followed. */
  cgroupMoves: CgroupMoveStatus;
  /**
   * Vigil's own cgroups (the engine's, each probe's): never enforced,
   * quarantined or killed; and what of them is not known.
   */
  vigilCgroups: string[];
  userNames: UserNamesStatus;
}

/**
 * Where user.name and group.name come from: "direct", "through the probe"
 * (an engine without CAP_SYS_PTRACE), or "unavailable (why)": then ids print as numbers.
 */
export interface UserNamesStatus {
  containers: string;
  node: string;
  /** requests refused over the probe's rate; containers whose files could not be read (at most 10) and why */
  problems: string[];
}

export interface CgroupMoveStatus {
  moves: number;
  escapes: number;
  followed: number;
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

/** ControlService's messages as a protobufjs JSON descriptor (Root.fromJSON), for a client that does not parse the .proto. */
export const CONTROL_DESCRIPTOR = {"nested":{"vigil":{"nested":{"v1":{"nested":{"ControlService":{"methods":{"Status":{"requestType":"StatusRequest","responseType":"StatusReply"},"Quarantine":{"requestType":"WorkloadRequest","responseType":"ActionReply"},"Release":{"requestType":"WorkloadRequest","responseType":"ActionReply"},"Capture":{"requestType":"CaptureRequest","responseType":"CaptureReply"},"Kill":{"requestType":"KillRequest","responseType":"ActionReply"},"SetMode":{"requestType":"SetModeRequest","responseType":"SetModeReply"},"ExportPolicy":{"requestType":"ExportPolicyRequest","responseType":"PolicyText"},"ApplyPolicy":{"requestType":"PolicyText","responseType":"ApplyPolicyReply"},"DiffPolicy":{"requestType":"PolicyText","responseType":"PolicyText"}}},"SetModeRequest":{"fields":{"workload":{"type":"string","id":1},"mode":{"type":"string","id":2}}},"SetModeReply":{"fields":{"ok":{"type":"bool","id":1},"error":{"type":"string","id":2},"from":{"type":"string","id":3},"warnings":{"rule":"repeated","type":"string","id":4}}},"ExportPolicyRequest":{"fields":{"workload":{"type":"string","id":1},"format":{"type":"string","id":2}}},"PolicyText":{"fields":{"text":{"type":"string","id":1},"source":{"type":"string","id":2},"ok":{"type":"bool","id":3},"error":{"type":"string","id":4}}},"ApplyPolicyReply":{"fields":{"ok":{"type":"bool","id":1},"error":{"type":"string","id":2},"applied":{"rule":"repeated","type":"string","id":3},"warnings":{"rule":"repeated","type":"string","id":4}}},"WorkloadRequest":{"fields":{"workload":{"type":"string","id":1},"reason":{"type":"string","id":2}}},"ActionReply":{"fields":{"ok":{"type":"bool","id":1},"error":{"type":"string","id":2},"detail":{"type":"string","id":3}}},"CaptureRequest":{"fields":{"workload":{"type":"string","id":1},"seconds":{"type":"uint32","id":2},"maxPackets":{"type":"uint32","id":3,"protoName":"max_packets"}}},"CaptureReply":{"fields":{"ok":{"type":"bool","id":1},"error":{"type":"string","id":2},"file":{"type":"string","id":3},"packets":{"type":"uint64","id":4},"bytes":{"type":"uint64","id":5},"ended":{"type":"string","id":6}}},"KillRequest":{"fields":{"pid":{"type":"uint32","id":1}}},"StatusRequest":{"fields":{}},"LossCounters":{"fields":{"ringbufFull":{"type":"uint64","id":1,"protoName":"ringbuf_full"},"decodeErrors":{"type":"uint64","id":2,"protoName":"decode_errors"},"queueFull":{"type":"uint64","id":3,"protoName":"queue_full"},"pathTruncated":{"type":"uint64","id":4,"protoName":"path_truncated"},"eventsTotal":{"type":"uint64","id":5,"protoName":"events_total"},"inflightFull":{"type":"uint64","id":6,"protoName":"inflight_full"},"packetsLost":{"type":"uint64","id":7,"protoName":"packets_lost"},"deduplicated":{"type":"uint64","id":8},"dnsDropped":{"type":"uint64","id":9,"protoName":"dns_dropped"},"envTruncated":{"type":"uint64","id":10,"protoName":"env_truncated"}}},"ProbeStatus":{"fields":{"nodeName":{"type":"string","id":1,"protoName":"node_name"},"sessionId":{"type":"string","id":2,"protoName":"session_id"},"probeVersion":{"type":"string","id":3,"protoName":"probe_version"},"probePid":{"type":"uint32","id":4,"protoName":"probe_pid"},"connected":{"type":"bool","id":5},"connectedAtMs":{"type":"int64","id":6,"protoName":"connected_at_ms"},"hooks":{"type":"uint32","id":7},"batches":{"type":"uint64","id":8},"events":{"type":"uint64","id":9},"batchGaps":{"type":"uint64","id":10,"protoName":"batch_gaps"},"losses":{"type":"LossCounters","id":11},"lastBatchAtMs":{"type":"int64","id":12,"protoName":"last_batch_at_ms"},"lastHeardAtMs":{"type":"int64","id":13,"protoName":"last_heard_at_ms"},"stalled":{"type":"bool","id":14},"selfCheck":{"type":"SelfCheckStatus","id":15,"protoName":"self_check"},"pinning":{"type":"PinningStatus","id":16},"snapshotCgroups":{"type":"string","id":17,"protoName":"snapshot_cgroups"},"fairness":{"type":"FairnessStatus","id":18}}},"FairnessStatus":{"fields":{"budget":{"type":"uint64","id":1},"configured":{"type":"uint64","id":2},"cuts":{"type":"uint64","id":3},"lowest":{"type":"uint64","id":4},"held":{"type":"uint32","id":5}}},"PinningStatus":{"fields":{"dir":{"type":"string","id":1},"pinned":{"type":"bool","id":2},"why":{"type":"string","id":3},"links":{"type":"uint32","id":4},"previousLinks":{"type":"uint32","id":5,"protoName":"previous_links"},"previousReleased":{"type":"bool","id":6,"protoName":"previous_released"},"onExit":{"type":"string","id":7,"protoName":"on_exit"}}},"SelfCheckStatus":{"fields":{"checks":{"type":"uint64","id":1},"tampered":{"type":"uint64","id":2},"intervalMs":{"type":"uint32","id":3,"protoName":"interval_ms"},"lastCheckAtMs":{"type":"int64","id":4,"protoName":"last_check_at_ms"},"watched":{"rule":"repeated","type":"string","id":5},"lastFound":{"type":"string","id":6,"protoName":"last_found"},"lastFoundAtMs":{"type":"int64","id":7,"protoName":"last_found_at_ms"}}},"WorkloadLoss":{"fields":{"workload":{"type":"string","id":1},"ringbufFull":{"type":"uint64","id":2,"protoName":"ringbuf_full"},"inflightFull":{"type":"uint64","id":3,"protoName":"inflight_full"},"queueFull":{"type":"uint64","id":4,"protoName":"queue_full"},"shed":{"type":"uint64","id":5}}},"WorkloadStatus":{"fields":{"name":{"type":"string","id":1},"cgroupPath":{"type":"string","id":2,"protoName":"cgroup_path"},"mode":{"type":"string","id":3},"events":{"type":"uint64","id":4},"pathsIncomplete":{"type":"uint64","id":5,"protoName":"paths_incomplete"},"notEnforceable":{"type":"string","id":6,"protoName":"not_enforceable"}}},"StatusReply":{"fields":{"nodeName":{"type":"string","id":1,"protoName":"node_name"},"engineVersion":{"type":"string","id":2,"protoName":"engine_version"},"startedAtMs":{"type":"int64","id":3,"protoName":"started_at_ms"},"probes":{"rule":"repeated","type":"ProbeStatus","id":4},"eventsByType":{"keyType":"string","type":"uint64","id":5,"protoName":"events_by_type"},"workloads":{"rule":"repeated","type":"WorkloadStatus","id":6},"processes":{"type":"uint32","id":7},"malformedEvents":{"type":"uint64","id":8,"protoName":"malformed_events"},"unknownCgroups":{"type":"uint64","id":9,"protoName":"unknown_cgroups"},"quarantined":{"rule":"repeated","type":"string","id":10},"probeCapabilities":{"rule":"repeated","type":"string","id":11,"protoName":"probe_capabilities"},"rulesLoaded":{"type":"uint32","id":12,"protoName":"rules_loaded"},"rulesSkipped":{"type":"uint32","id":13,"protoName":"rules_skipped"},"alertsRaised":{"type":"uint64","id":14,"protoName":"alerts_raised"},"enforcement":{"rule":"repeated","type":"EnforcementStatus","id":15},"probeStalls":{"type":"uint64","id":16,"protoName":"probe_stalls"},"probeRestarts":{"type":"uint64","id":17,"protoName":"probe_restarts"},"probeExits":{"type":"uint64","id":18,"protoName":"probe_exits"},"lossEpisodes":{"type":"uint64","id":19,"protoName":"loss_episodes"},"workloadLosses":{"rule":"repeated","type":"WorkloadLoss","id":20,"protoName":"workload_losses"},"runtimes":{"rule":"repeated","type":"RuntimeStatus","id":21},"containers":{"type":"ContainerStatus","id":22},"dns":{"type":"DnsStatus","id":23},"cgroupMoves":{"type":"CgroupMoveStatus","id":24,"protoName":"cgroup_moves"},"vigilCgroups":{"rule":"repeated","type":"string","id":25,"protoName":"vigil_cgroups"},"userNames":{"type":"UserNamesStatus","id":26,"protoName":"user_names"}}},"UserNamesStatus":{"fields":{"containers":{"type":"string","id":1},"node":{"type":"string","id":2},"problems":{"rule":"repeated","type":"string","id":3}}},"CgroupMoveStatus":{"fields":{"moves":{"type":"uint64","id":1},"escapes":{"type":"uint64","id":2},"followed":{"type":"uint64","id":3}}},"DnsStatus":{"fields":{"seen":{"type":"bool","id":1},"answers":{"type":"uint64","id":2},"addresses":{"type":"uint64","id":3},"evicted":{"type":"uint64","id":4}}},"EnforcementStatus":{"fields":{"operation":{"type":"string","id":1},"mechanism":{"type":"string","id":2},"program":{"type":"string","id":3},"why":{"type":"string","id":4}}},"RuntimeStatus":{"fields":{"kind":{"type":"string","id":1},"socket":{"type":"string","id":2},"runtime":{"type":"string","id":3},"version":{"type":"string","id":4},"up":{"type":"bool","id":5}}},"ContainerStatus":{"fields":{"known":{"type":"uint64","id":1},"lookups":{"type":"uint64","id":2},"failed":{"type":"uint64","id":3},"unnamed":{"type":"uint64","id":4},"held":{"type":"uint64","id":5},"heldTimedOut":{"type":"uint64","id":6,"protoName":"held_timed_out"}}}}}}}}};
