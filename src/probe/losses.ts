// Every loss is an alert. What the probe reports lost (ring buffer, syscall
// entries, its send queue, records it could not decode, batches missing on
// the stream) is raised per workload when the probe says whose events they
// were, per node when it cannot. One alert when an episode starts, one a
// minute while it goes on, one with the totals when it is over: shaped, never
// silent. Critical where it touches a workload in enforce mode (a loss no one
// can attribute touches them all); `vigil status` and /metrics keep the counts.
import type { Logger } from '../log.js';
import { alertAbout, type Alert, type Priority } from '../model/alert.js';
import { nodeWorkload, type Workload } from '../model/workload.js';
import type { WireCgroupLoss, WireLossReport } from './wire.js';

/** Where events go missing, as people read it. */
export const LOSS_PLACES = {
  ringbufFull: 'kernel ring buffer',
  inflightFull: 'kernel syscall entries',
  queueFull: 'probe queue',
  decodeErrors: 'probe decode',
  batchesMissing: 'batches missing',
  dnsDropped: 'DNS answers over their workload\'s budget',
} as const;
export type LossPlace = keyof typeof LOSS_PLACES;
const PER_CGROUP: readonly ('ringbufFull' | 'inflightFull' | 'queueFull')[] = ['ringbufFull', 'inflightFull', 'queueFull'];

/** One workload's losses since this engine started, for `vigil status` and /metrics. */
export interface WorkloadLosses {
  workload: string;
  ringbufFull: number;
  inflightFull: number;
  queueFull: number;
  shed: number;
}

type Kind = 'lost' | 'shed' | 'packets' | 'dns';
const RULES: Record<Kind, string> = { lost: 'Events lost', shed: 'Events shed', packets: 'Packets lost', dns: 'DNS answers dropped' };
/**
 * Sheds, packet losses and DNS answers over budget do not blind detection
 * to security events: a warning. Losses: error, critical in enforce mode.
 */
const BASE: Record<Kind, Priority> = { lost: 'error', shed: 'warning', packets: 'warning', dns: 'warning' };

interface Episode {
  kind: Kind;
  /** null: the node, not attributed to a workload. */
  workload: Workload | null;
  start: number;
  lastGrowth: number;
  lastAlert: number;
  counts: Record<string, number>;
  /** The sum of counts when the last alert went out. */
  alerted: number;
  /** Worst priority raised in this episode: the later ones keep it, so a filter that saw the start sees the end. */
  priority: Priority;
}

export interface LossOptions {
  node: string;
  /** The workload a cgroup's events belong to. */
  workloadOf(cgroupId: number): Workload;
  /** Workloads in enforce mode now. */
  enforcing(): readonly Workload[];
  raise(a: Alert): void;
  log: Logger;
  /** An episode is over after this long without growth. */
  quietMs?: number;
  /** A running episode is re-reported at most this often, while it grows. */
  updateMs?: number;
  now?: () => number;
}

const sum = (c: Record<string, number>): number => Object.values(c).reduce((n, v) => n + v, 0);
/**
 * 1234567 as "1,234,567", as toLocaleString('en-US') writes it, without
 * it: ICU's number formatting pages ~4.7 MiB of the node binary's ICU data
 * into the engine's memory at the first loss report (bench/README.md).
 */
const fmt = (n: number): string => (Number.isSafeInteger(n) ? String(n).replace(/\B(?=(\d{3})+$)/g, ',') : n.toLocaleString('en-US'));

export class LossEpisodes {
  private readonly open = new Map<string, Episode>();
  /** Last cumulative per-cgroup counts, per probe session (a report carries only the cgroups that grew). */
  private readonly lastByCgroup = new Map<string, Map<number, WireCgroupLoss>>();
  private readonly byWorkload = new Map<string, WorkloadLosses>();
  /** Episodes raised, by kind: `vigil status` and /metrics. */
  readonly episodes: Record<Kind, number> = { lost: 0, shed: 0, packets: 0, dns: 0 };
  private readonly quietMs: number;
  private readonly updateMs: number;
  private readonly now: () => number;

  constructor(private readonly o: LossOptions) {
    this.quietMs = o.quietMs ?? 10_000;
    this.updateMs = o.updateMs ?? 60_000;
    this.now = o.now ?? Date.now;
  }

  /** A loss report: what grew since the previous one, per cgroup where the probe says, per node for the rest. */
  report(sessionId: string, previous: WireLossReport, current: WireLossReport): void {
    let last = this.lastByCgroup.get(sessionId);
    if (!last) this.lastByCgroup.set(sessionId, (last = new Map()));
    const attributed: Record<string, number> = {};
    for (const c of current.cgroups ?? []) {
      const before = last.get(c.cgroupId);
      last.set(c.cgroupId, c);
      const w = this.o.workloadOf(c.cgroupId);
      const grown: Record<string, number> = {};
      for (const k of PER_CGROUP) {
        const d = c[k] - (before?.[k] ?? 0);
        if (d > 0) {
          grown[k] = d;
          attributed[k] = (attributed[k] ?? 0) + d;
        }
      }
      const totals = this.totals(w);
      for (const [k, d] of Object.entries(grown)) totals[k as (typeof PER_CGROUP)[number]] += d;
      if (Object.keys(grown).length) this.grew('lost', w, grown);
      const shed = c.shed - (before?.shed ?? 0);
      if (shed > 0) {
        totals.shed += shed;
        const kinds: Record<string, number> = {};
        for (const [kind, n] of Object.entries(c.shedByKind ?? {})) {
          const d = n - (before?.shedByKind?.[kind] ?? 0);
          if (d > 0) kinds[kind] = d;
        }
        this.grew('shed', w, Object.keys(kinds).length ? kinds : { events: shed });
      }
    }
    // What no cgroup accounts for is the node's: whose it was is not known.
    const node: Record<string, number> = {};
    for (const k of ['ringbufFull', 'inflightFull', 'queueFull', 'decodeErrors'] as const) {
      const d = current[k] - previous[k] - (attributed[k] ?? 0);
      if (d > 0) node[k] = d;
    }
    if (Object.keys(node).length) this.grew('lost', null, node);
    const packets = current.packetsLost - previous.packetsLost;
    if (packets > 0) this.grew('packets', null, { packetsLost: packets });
    const dns = (current.dnsDropped ?? 0) - (previous.dnsDropped ?? 0);
    if (dns > 0) this.grew('dns', null, { dnsDropped: dns });
  }

  /** Batches missing by sequence number on a probe's stream: their events were never seen. */
  batchesMissing(missing: number): void {
    this.grew('lost', null, { batchesMissing: missing });
  }

  /** Forgets the per-cgroup counts of probe sessions other than these (gone for good: a new one restarted the counters). */
  forgetExcept(live: ReadonlySet<string>): void {
    for (const id of this.lastByCgroup.keys()) if (!live.has(id)) this.lastByCgroup.delete(id);
  }

  /** Ends quiet episodes and re-reports long ones; call it about once a second. */
  tick(): void {
    const now = this.now();
    for (const [key, e] of this.open) {
      if (now - e.lastGrowth >= this.quietMs) {
        this.open.delete(key);
        // One growth only: the first alert already had the whole count.
        if (sum(e.counts) > e.alerted) this.alert(e, 'over', now);
      } else if (now - e.lastAlert >= this.updateMs && sum(e.counts) > e.alerted) {
        this.alert(e, 'going on', now);
      }
    }
  }

  /** Per-workload counts since this engine started, most lost first. */
  workloads(): WorkloadLosses[] {
    return [...this.byWorkload.values()].sort((a, b) => b.ringbufFull + b.queueFull + b.inflightFull - (a.ringbufFull + a.queueFull + a.inflightFull) || b.shed - a.shed);
  }

  private totals(w: Workload): WorkloadLosses {
    let t = this.byWorkload.get(w.key);
    if (!t) this.byWorkload.set(w.key, (t = { workload: w.name, ringbufFull: 0, inflightFull: 0, queueFull: 0, shed: 0 }));
    return t;
  }

  private grew(kind: Kind, workload: Workload | null, grown: Record<string, number>): void {
    const now = this.now();
    const key = `${kind}\0${workload?.key ?? ''}`;
    const e = this.open.get(key);
    if (e) {
      e.lastGrowth = now;
      for (const [k, n] of Object.entries(grown)) e.counts[k] = (e.counts[k] ?? 0) + n;
      return;
    }
    const started: Episode = { kind, workload, start: now, lastGrowth: now, lastAlert: now, counts: { ...grown }, alerted: 0, priority: BASE[kind] };
    this.open.set(key, started);
    this.episodes[kind]++;
    this.alert(started, 'started', now);
  }

  private alert(e: Episode, phase: 'started' | 'going on' | 'over', now: number): void {
    const enforcing = this.o.enforcing();
    const touches = e.workload ? (e.workload.mode === 'enforce' ? [e.workload] : []) : enforcing;
    // A loss of events can hide what enforcement should have answered: critical where it touches enforce mode.
    const priority: Priority = e.kind === 'lost' && touches.length > 0 ? 'critical' : e.priority;
    e.priority = priority;
    e.lastAlert = now;
    e.alerted = sum(e.counts);
    const total = e.alerted;
    const parts = Object.entries(e.counts).map(([k, n]) => `${LOSS_PLACES[k as LossPlace] ?? k} ${fmt(n)}`).join(', ');
    const whose = e.workload ? `of ${e.workload.name}` : `on ${this.o.node} (whose is not known)`;
    const seconds = Math.max(1, Math.round((now - e.start) / 1000));
    const since = new Date(e.start).toISOString();
    let message: string;
    if (e.kind === 'lost') {
      const unit = e.counts.batchesMissing && Object.keys(e.counts).length === 1 ? 'batches of events' : 'events';
      message = phase === 'started'
        ? `${fmt(total)} ${unit} ${whose} were lost before the engine saw them (${parts}); counting until it stops`
        : phase === 'going on'
          ? `${fmt(total)} ${unit} ${whose} lost since ${since} (${seconds} s) and counting (${parts})`
          : `episode over: ${fmt(total)} ${unit} ${whose} lost between ${since} and ${new Date(e.lastGrowth).toISOString()} (${parts})`;
      if (touches.length) message += `. In enforce mode (${touches.map((w) => w.name).join(', ')}): the kernel kept enforcing, but rules, profiles and responses did not see these events`;
    } else if (e.kind === 'shed') {
      message = `${phase === 'over' ? 'episode over: ' : ''}${fmt(total)} events ${whose} over its fair share of the ring buffer and queue were counted instead of sent (${parts})${phase === 'over' ? ` between ${since} and ${new Date(e.lastGrowth).toISOString()}` : phase === 'going on' ? ` since ${since} (${seconds} s)` : ''}; exec, privilege changes, protected writes and what rules or enforcement need still went through`;
    } else if (e.kind === 'dns') {
      message = `${phase === 'over' ? 'episode over: ' : ''}${fmt(total)} DNS answers ${whose} over a workload's budget (1000 a second) were counted instead of sent${phase === 'started' ? '' : ` since ${since}`}: connects to their addresses are judged by address, not name (the kernel's enforce-mode allow-list still took them)`;
    } else {
      message = `${phase === 'over' ? 'episode over: ' : ''}${fmt(total)} captured packets did not fit the packet ring buffer${phase === 'started' ? '' : ` since ${since}`}: packet captures are incomplete`;
    }
    const fields: Alert['fields'] = { 'vigil.loss.phase': phase, 'vigil.loss.total': total, 'vigil.loss.since': since };
    for (const [k, n] of Object.entries(e.counts)) fields[`vigil.loss.${k}`] = n;
    this.o.log[priority === 'warning' ? 'warn' : 'error']({ workload: e.workload?.name ?? null, counts: e.counts, phase }, RULES[e.kind]);
    this.o.raise(alertAbout(e.workload ?? nodeWorkload(this.o.node), this.o.node, { source: 'engine', rule: RULES[e.kind], priority, message, fields, tags: ['vigil', 'visibility'] }));
  }
}
