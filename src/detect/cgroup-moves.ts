// A process that leaves its workload's cgroups (it, or whoever can write
// a cgroup.procs, moves it elsewhere, even into the root cgroup) would
// leave its workload's profile and policy behind. The kernel keeps an
// enforce policy on it wherever it goes (bpf/enforce.bpf.h); this raises
// the move itself: critical when an enforce policy followed it, else by
// the mode of the workload it left. Moves between cgroups that are no
// workload of interest (the node's own services, a container being
// started by its runtime) are counted, not alerted.
import type { Alert, Priority } from '../model/alert.js';
import { alertAbout } from '../model/alert.js';
import type { Event } from '../model/event.js';
import type { Workload } from '../model/workload.js';
import type { DetectContext, Detector } from './detector.js';

export interface CgroupMoveOptions {
  node: string;
  /** The workload of a cgroup (its id), as the engine resolves it. */
  workloadOf(cgroupId: number, pid: number): Workload;
}

const BY_MODE: Record<Workload['mode'], Priority> = { learn: 'warning', monitor: 'error', enforce: 'critical' };

export class CgroupMoves implements Detector {
  readonly name = 'cgroup-moves';
  readonly types = ['cgroup_move'] as const;
  /** Moves seen; moves out of a workload (each an alert); of those, the ones an enforce policy followed. */
  readonly counts = { moves: 0, escapes: 0, followed: 0 };

  constructor(private readonly o: CgroupMoveOptions) {}

  onEvent(e: Event, ctx: DetectContext): void {
    if (e.type !== 'cgroup_move') return;
    this.counts.moves++;
    const pid = e.targetPid;
    const policyRoot = e.result;
    const to = this.o.workloadOf(e.flags, pid);
    // Where it came from: the cgroup its thread was last seen in; unknown (0) when it made no watched syscall since the probe started.
    const from = e.id ? this.o.workloadOf(e.id, pid) : null;
    const followed = policyRoot !== 0;
    const left = from !== null && from.key !== to.key && (from.kind !== 'cgroup' && from.kind !== 'host' || from.mode !== 'learn');
    if (!followed && !left) return;
    this.counts.escapes++;
    if (followed) this.counts.followed++;
    const home = followed ? this.o.workloadOf(policyRoot, pid) : from!;
    const mover = e.pid === pid ? 'itself' : `by pid ${e.pid} (${e.comm})`;
    const message = `${e.call} (pid ${pid}) was moved out of workload ${home.name}'s cgroups ${mover}, into ${to.name} (cgroup ${e.flags})` +
      (followed ? `: ${home.name}'s enforce policy keeps applying to it (and to its children) wherever it is` : `: it is no longer watched as ${home.name} (its profile and rules no longer see it as that workload)`);
    const alert: Alert = alertAbout(home, this.o.node, {
      source: 'engine', rule: 'Process left its workload', priority: followed ? 'critical' : BY_MODE[home.mode], message,
      fields: {
        'proc.pid': pid, 'proc.name': e.call, 'vigil.mover.pid': e.pid, 'vigil.mover.comm': e.comm,
        'vigil.cgroup.from': e.id, 'vigil.cgroup.to': e.flags, 'vigil.workload.to': to.name, 'vigil.policy.followed': followed,
      },
      tags: ['vigil', 'tampering', 'T1562.001', 'defense_evasion'],
    });
    ctx.raise(alert);
  }
}
