// The cgroups Vigil itself runs in: the engine's own (/proc/self/cgroup)
// and each connected probe's (its Hello, or /proc/PID/cgroup when this
// engine sees its pid). Enforcement, quarantine and kills must never reach
// them: a policy over one of their cgroups or an ancestor would cover Vigil
// (a restarted probe there would have bpf() refused by the pinned policy of
// the old one), a quarantine would cut it off, a kill would stop it.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { WorkloadCgroup } from '../model/workload.js';

/** One of Vigil's cgroups and whose it is. */
export interface VigilCgroup {
  /** "the engine (pid 123)", "the probe (pid 456)". */
  who: string;
  /** 0 when not known (no cgroup v2 mount, or a path this engine cannot see). */
  id: number;
  /** Below the cgroup v2 mount; '' when not known. */
  path: string;
}

export interface VigilCgroupsOptions {
  mount: string | null;
  /** A cgroup id's path (enrich/cgroups.ts CgroupPaths.pathOf). */
  pathOf: (id: number, pid: number) => string | null;
  /** The engine's own /proc/PID/cgroup text (tests give another process's). */
  selfCgroup?: string;
  /** The engine's pid, as it names itself in `who`. */
  selfPid?: number;
}

/** The v2 line ("0::/path") of a /proc/PID/cgroup text, or null. */
export function cgroupV2Path(text: string): string | null {
  const line = text.split('\n').find((l) => l.startsWith('0::'));
  return line ? line.slice(3) || '/' : null;
}

/** Whether the cgroup directory `dir` holds process `pid` (as this pid namespace numbers it). */
function listsPid(dir: string, pid: number): boolean {
  try {
    return readFileSync(join(dir, 'cgroup.procs'), 'utf8').split('\n').includes(String(pid));
  } catch {
    return false;
  }
}

/** The cgroup (below `mount`) whose cgroup.procs lists `pid`, by a walk of the tree; null when none does. */
function findPid(mount: string, pid: number): string | null {
  const walk = (rel: string, depth: number): string | null => {
    if (listsPid(join(mount, rel), pid)) return rel || '/';
    if (depth > 32) return null;
    let entries;
    try {
      entries = readdirSync(join(mount, rel), { withFileTypes: true });
    } catch {
      return null;
    }
    for (const d of entries) {
      if (!d.isDirectory()) continue;
      const found = walk(`${rel}/${d.name}`, depth + 1);
      if (found) return found;
    }
    return null;
  };
  return walk('', 0);
}

export class VigilCgroups {
  private readonly mount: string | null;
  private readonly pathOf: (id: number, pid: number) => string | null;
  /** The engine's own cgroup; null when it cannot be read (said in `unknown`). */
  readonly engine: VigilCgroup | null;
  /** Why a cgroup of Vigil's is not known (shown in `vigil status`). */
  readonly unknown: string[] = [];
  private readonly probes = new Map<string, VigilCgroup & { pid: number }>();
  /** The engine's pid as events name it (0: the probe sees another pid namespace). */
  private enginePid = 0;
  private readonly selfPid: number;

  constructor(opts: VigilCgroupsOptions) {
    this.mount = opts.mount;
    this.pathOf = opts.pathOf;
    const pid = (this.selfPid = opts.selfPid ?? process.pid);
    let text = opts.selfCgroup;
    if (text === undefined) {
      try {
        text = readFileSync('/proc/self/cgroup', 'utf8');
      } catch {
        text = '';
      }
    }
    let path = cgroupV2Path(text);
    // In a private cgroup namespace (a container) the path is relative to the
    // namespace's root, not to the mount (the host's tree): the mount's own
    // cgroup.procs says where this process really is.
    if (path && this.mount && !listsPid(join(this.mount, path), pid) && existsSync(join(this.mount, path, 'cgroup.procs'))) {
      path = findPid(this.mount, pid);
      if (!path) this.unknown.push(`the engine's own cgroup: /proc/self/cgroup names one (${cgroupV2Path(text)}) whose cgroup.procs under ${this.mount} does not list pid ${pid}, and no cgroup there does`);
    }
    const id = path ? this.idOf(path) : 0;
    this.engine = path ? { who: `the engine (pid ${pid})`, id, path } : null;
    if (!path && !this.unknown.length) this.unknown.push('the engine\'s own cgroup (no cgroup v2 line in /proc/self/cgroup)');
    else if (path && !id) this.unknown.push(`the engine's own cgroup ${path} is not under the cgroup v2 mount ${this.mount ?? '(none)'}: only its path is compared`);
  }

  private idOf(path: string): number {
    if (!this.mount) return 0;
    try {
      return statSync(join(this.mount, path)).ino;
    } catch {
      return 0;
    }
  }

  /**
   * A probe connected: its cgroup is Vigil's too. `cgroupId` is what its
   * Hello says (0 from a probe older than that field: then its
   * /proc/PID/cgroup, when this engine shares its pid namespace).
   */
  probeConnected(sessionId: string, pid: number, cgroupId: number, pidVisible: boolean): VigilCgroup | null {
    // Sharing the probe's pid namespace, events name this engine by its own pid.
    this.enginePid = pidVisible ? this.selfPid : 0;
    let id = cgroupId;
    let path: string | null = null;
    if (id) path = this.pathOf(id, pidVisible ? pid : 0);
    else if (pidVisible) {
      try {
        path = cgroupV2Path(readFileSync(`/proc/${pid}/cgroup`, 'utf8'));
      } catch {
        path = null;
      }
      id = path ? this.idOf(path) : 0;
    }
    // Where its pid is visible here, the tree says where it really is (a probe
    // in a private cgroup namespace reads its own cgroup as the namespace's root).
    if (pidVisible && this.mount && !(path && listsPid(join(this.mount, path), pid))) {
      const found = findPid(this.mount, pid);
      if (found) {
        path = found;
        id = this.idOf(found);
      }
    }
    const c = { who: `the probe (pid ${pid})`, id, path: path ?? '', pid: pidVisible ? pid : 0 };
    this.probes.set(sessionId, c);
    return id || path ? c : null;
  }

  /** Probes gone for good: their cgroups are no longer Vigil's concern. */
  forgetProbesExcept(sessionIds: ReadonlySet<string>): void {
    for (const s of [...this.probes.keys()]) if (!sessionIds.has(s)) this.probes.delete(s);
  }

  /** Every cgroup of Vigil's known now. */
  list(): VigilCgroup[] {
    return [...(this.engine ? [this.engine] : []), ...[...this.probes.values()].filter((p) => p.id || p.path)];
  }

  /**
   * Why a policy or quarantine over these cgroups (each with its subtree)
   * would reach Vigil itself; '' when it would not.
   */
  covering(roots: readonly WorkloadCgroup[]): string {
    for (const v of this.list()) {
      for (const r of roots) {
        const sameId = v.id !== 0 && r.id === v.id;
        const below = v.path !== '' && r.path !== '' && (r.path === '/' || v.path === r.path || v.path.startsWith(`${r.path}/`));
        if (sameId || below) return `it holds Vigil's own processes: ${v.who} runs in cgroup ${v.path || `id ${v.id}`}`;
      }
    }
    return '';
  }

  /**
   * Why a process is Vigil's own ('' when it is not): the engine's or a
   * probe's pid, or a process in exactly one of Vigil's cgroups (except the
   * root cgroup, which every unconfined process shares: there only the pids count).
   */
  process(pid: number, cgroupId: number): string {
    if (pid && pid === this.enginePid) return `pid ${pid} is the engine`;
    for (const p of this.probes.values()) if (pid && pid === p.pid) return `pid ${pid} is ${p.who}`;
    if (!cgroupId) return '';
    const v = this.list().find((c) => c.id === cgroupId && c.path !== '/');
    return v ? `it runs in Vigil's own cgroup ${v.path || `id ${v.id}`} (${v.who})` : '';
  }

  /** What `vigil status` shows: each of Vigil's cgroups, and what is not known. */
  describe(): string[] {
    const lost = [...this.probes.values()].filter((p) => !p.id && !p.path).map((p) => `${p.who}: cgroup not known (a probe older than Hello.cgroup_id, in another pid namespace): not protected from enforcement`);
    return [...this.list().map((c) => `${c.who}: ${c.path || '(path not seen here)'}${c.id ? ` (cgroup id ${c.id})` : ''}`), ...this.unknown, ...lost];
  }
}
