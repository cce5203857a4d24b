// `vigil status`: what the engine is doing, assembled from the stages the
// engine wires, each read through the little it needs.
import { MECHANISMS } from '../model/event.js';
import type { Workload } from '../model/workload.js';
import type { SelfCheckState } from '../probe/selfcheck.js';
import type { WireFairnessReport } from '../probe/wire.js';
import { lossCounters, type ProbeSession } from '../probe/session.js';
import { VERSION } from '../version.js';
import type { ContainerStatus, FairnessStatus, PinningStatus, RuntimeStatus } from './messages.js';
import type { StatusReply, WorkloadLoss } from './methods.js';

export interface StatusSources {
  nodeName: string;
  startedAtMs: number;
  /** Probe sessions, live and gone. */
  probes(): readonly ProbeSession[];
  /** The connected probe: its capabilities are the node's. */
  currentProbe(): ProbeSession | undefined;
  eventsByType(): Iterable<[string, number]>;
  workloads(): readonly Workload[];
  processes(): number;
  malformedEvents(): number;
  unknownCgroups(): number;
  quarantined(): readonly { name: string }[];
  rules(): { loaded: number; skipped: number };
  alertsRaised(): number;
  /** Stalls, restarts and exits of probes; whether a session is stalled now. */
  gaps(): { stalls: number; restarts: number; exits: number; stalled(p: ProbeSession): boolean };
  /** Loss episodes and per-workload counts. */
  losses(): { episodes: number; workloads: readonly WorkloadLoss[] };
  /** The container runtimes asked, and what came of it. */
  runtimes(): RuntimeStatus[];
  containers(): ContainerStatus;
  dnsNames(): { answers: number; size: number; evicted: number };
  /** A probe session's self-check, null before its first report. */
  selfCheck(p: ProbeSession): SelfCheckState | null;
  cgroupMoves(): { moves: number; escapes: number; followed: number };
  /** The engine's and the probes' own cgroups, and what of them is not known. */
  vigilCgroups(): string[];
  /** Where user and group names come from, and the containers whose files could not be read. */
  userNames(): { containers: string; node: string; problems: string[] };
  /** Why a workload may not be enforced ('' when it may): it holds Vigil itself. */
  notEnforceable(w: Workload): string;
}

/** The probe's hook name for the DNS answer program (bpf/probe/loader.cc). */
export const DNS_HOOK = 'cgroup_skb/ingress:dns';
/** In the probe's hooks when its snapshot takes cgroups from the kernel's task iterator (bpf/snapshot.bpf.h), not /proc. */
export const TASK_ITER_HOOK = 'iter/task:cgroups';

/** The probe's last fairness report; all zero (off) from a probe that sent none. */
function fairnessStatus(f: WireFairnessReport | null | undefined): FairnessStatus {
  return { budget: Number(f?.budget ?? 0), configured: Number(f?.configured ?? 0), cuts: Number(f?.cuts ?? 0), lowest: Number(f?.lowest ?? 0), held: Number(f?.held ?? 0) };
}

export function statusReply(s: StatusSources): StatusReply {
  const rules = s.rules();
  const gaps = s.gaps();
  const losses = s.losses();
  return {
    nodeName: s.nodeName,
    engineVersion: VERSION,
    startedAtMs: s.startedAtMs,
    probes: s.probes().map((p) => ({
      nodeName: p.nodeName,
      sessionId: p.hello.sessionId,
      probeVersion: p.hello.probeVersion,
      probePid: p.hello.probePid,
      connected: p.connected,
      connectedAtMs: p.connectedAt,
      hooks: p.hello.hooks.length,
      batches: p.batches,
      events: p.events,
      batchGaps: p.batchGaps,
      losses: lossCounters(p.losses),
      lastBatchAtMs: p.lastBatchAt,
      lastHeardAtMs: p.lastHeardAt,
      stalled: p.connected && gaps.stalled(p),
      selfCheck: s.selfCheck(p) ?? { checks: 0, tampered: 0, intervalMs: 0, lastCheckAtMs: 0, watched: [], lastFound: '', lastFoundAtMs: 0 },
      pinning: pinningStatus(p),
      snapshotCgroups: p.hello.hooks.includes(TASK_ITER_HOOK) ? 'kernel' : 'proc',
      fairness: fairnessStatus(p.losses.fairness),
    })),
    eventsByType: Object.fromEntries(s.eventsByType()),
    workloads: [...s.workloads()]
      .sort((a, b) => b.events - a.events)
      .map((w) => ({ name: w.name, cgroupPath: w.cgroupPath, mode: w.mode, events: w.events, pathsIncomplete: w.pathsIncomplete, notEnforceable: s.notEnforceable(w) })),
    processes: s.processes(),
    malformedEvents: s.malformedEvents(),
    unknownCgroups: s.unknownCgroups(),
    quarantined: s.quarantined().map((q) => q.name),
    probeCapabilities: s.currentProbe()?.hello.capabilities ?? [],
    enforcement: (s.currentProbe()?.hello.enforcement ?? []).map((h) => ({
      operation: h.operation, mechanism: MECHANISMS[h.mechanism] ?? '', program: h.program, why: h.why,
    })),
    rulesLoaded: rules.loaded,
    rulesSkipped: rules.skipped,
    alertsRaised: s.alertsRaised(),
    probeStalls: gaps.stalls,
    probeRestarts: gaps.restarts,
    probeExits: gaps.exits,
    lossEpisodes: losses.episodes,
    workloadLosses: [...losses.workloads],
    runtimes: s.runtimes(),
    containers: s.containers(),
    dns: (() => {
      const n = s.dnsNames();
      return { seen: s.currentProbe()?.hello.hooks.includes(DNS_HOOK) ?? false, answers: n.answers, addresses: n.size, evicted: n.evicted };
    })(),
    cgroupMoves: { ...s.cgroupMoves() },
    vigilCgroups: s.vigilCgroups(),
    userNames: s.userNames(),
  };
}

/** Where the probe pinned its enforcement (an older probe says nothing: not pinned). */
function pinningStatus(p: ProbeSession): PinningStatus {
  const h = p.hello.pinning;
  return {
    dir: h?.dir ?? '', pinned: h?.pinned ?? false, why: h?.why || (h ? '' : 'this probe does not pin its enforcement'),
    links: h?.links ?? 0, previousLinks: h?.previousLinks ?? 0, previousReleased: p.previousPinsReleased, onExit: h?.onExit ?? '',
  };
}
