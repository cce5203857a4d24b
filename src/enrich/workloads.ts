// cgroup → workload. A workload is what a profile and an alert are about:
// off-cluster, a configured name for a cgroup path prefix or else the
// cgroup path itself; in Kubernetes (a later resolver), the pod's owner.
import type { Mode } from '../model/mode.js';
import type { Event } from '../model/event.js';
import type { Workload, WorkloadCgroup, WorkloadIdentity, WorkloadKind } from '../model/workload.js';
import type { CgroupPaths } from './cgroups.js';

/** Turns a cgroup path into a workload identity; null to let the next resolver try. */
export interface WorkloadResolver {
  identify(cgroupPath: string): WorkloadIdentity | null;
}

const CONTAINER_ID = /(?:^|[/-])[0-9a-f]{64}(?:\.scope)?$/;
const HOST_SLICES = /^\/(?:init\.scope|system\.slice|user\.slice)(?:\/|$)/;

/** The host itself rather than a container: the root cgroup and systemd's own slices. */
export function isHostCgroup(path: string): boolean {
  if (path === '/') return true;
  return HOST_SLICES.test(path) && !path.split('/').some((seg) => CONTAINER_ID.test(seg));
}

/** Off-cluster names from config: the longest matching prefix wins. */
export class LocalResolver implements WorkloadResolver {
  private readonly prefixes: { name: string; cgroup: string; mode?: Mode }[];

  constructor(named: readonly { name: string; cgroup: string; mode?: Mode }[]) {
    this.prefixes = [...named]
      .map((n) => ({ ...n, cgroup: n.cgroup.length > 1 ? n.cgroup.replace(/\/+$/, '') : n.cgroup }))
      .sort((a, b) => b.cgroup.length - a.cgroup.length);
  }

  identify(path: string): WorkloadIdentity | null {
    for (const p of this.prefixes) {
      if (path === p.cgroup || p.cgroup === '/' || path.startsWith(`${p.cgroup}/`)) {
        return { key: `named:${p.name}`, name: p.name, kind: 'named', mode: p.mode };
      }
    }
    return { key: `cgroup:${path}`, name: path, kind: isHostCgroup(path) ? 'host' : 'cgroup' };
  }
}

/** One pod and container of a workload whose replicas share it: mode and counters are the workload's. */
class WorkloadInstance implements Workload {
  constructor(
    private readonly of: Workload,
    readonly pod: string,
    readonly container: string,
    readonly labels: Record<string, string>,
    readonly cgroupPath: string,
  ) {}

  get key(): string { return this.of.key; }
  get name(): string { return this.of.name; }
  get kind(): WorkloadKind { return this.of.kind; }
  get namespace(): string { return this.of.namespace; }
  get mode(): Mode { return this.of.mode; }
  set mode(m: Mode) { this.of.mode = m; }
  get events(): number { return this.of.events; }
  set events(n: number) { this.of.events = n; }
}

export type NewCgroupListener = (w: Workload, cgroup: WorkloadCgroup) => void;
export type ModeListener = (w: Workload, from: Mode, to: Mode) => void;

export interface WorkloadRegistryOptions {
  cgroups: CgroupPaths;
  /** Tried in order; the first that names a cgroup's path wins. */
  resolvers: readonly WorkloadResolver[];
  /** The mode a workload starts in when nothing else says. */
  defaultMode: Mode;
  /** Default modes by Kubernetes namespace. */
  namespaceModes?: ReadonlyMap<string, Mode>;
}

export class WorkloadRegistry {
  private readonly byCgroup = new Map<number, Workload>();
  private readonly byKey = new Map<string, Workload>();
  private readonly cgroupsByKey = new Map<string, Map<number, string>>();
  private readonly newCgroupListeners: NewCgroupListener[] = [];
  private readonly modeListeners: ModeListener[] = [];

  private readonly cgroups: CgroupPaths;
  private readonly resolvers: readonly WorkloadResolver[];
  private readonly defaultMode: Mode;
  private readonly namespaceModes: ReadonlyMap<string, Mode>;

  constructor(opts: WorkloadRegistryOptions) {
    this.cgroups = opts.cgroups;
    this.resolvers = opts.resolvers;
    this.defaultMode = opts.defaultMode;
    this.namespaceModes = opts.namespaceModes ?? new Map();
  }

  /** The workload an event belongs to. */
  resolve(e: Event): Workload {
    return this.byCgroup.get(e.cgroupId) ?? this.resolveCgroup(e.cgroupId, e.pid);
  }

  /** The workload of a cgroup (`pid` is one of its processes, to find its path cheaply). */
  resolveCgroup(cgroupId: number, pid: number): Workload {
    const cached = this.byCgroup.get(cgroupId);
    if (cached) return cached;
    const path = this.cgroups.pathOf(cgroupId, pid);
    if (path === null) {
      // Not cached: a later event of the same cgroup tries again.
      return this.workloadFor({ key: `cgroup-id:${cgroupId}`, name: `cgroup-id:${cgroupId}`, kind: 'cgroup' }, '');
    }
    let identity: WorkloadIdentity | null = null;
    for (const r of this.resolvers) if ((identity = r.identify(path))) break;
    const id = identity ?? { key: `cgroup:${path}`, name: path, kind: 'cgroup' };
    const shared = this.workloadFor(id, path);
    // Replicas share one workload (one profile) but each alert names its own pod and container.
    const w = (id.pod ?? '') !== shared.pod || (id.container ?? '') !== shared.container
      ? new WorkloadInstance(shared, id.pod ?? '', id.container ?? '', id.labels ?? {}, path)
      : shared;
    if (!id.provisional) {
      this.byCgroup.set(cgroupId, w);
      let cgroups = this.cgroupsByKey.get(w.key);
      if (!cgroups) this.cgroupsByKey.set(w.key, (cgroups = new Map()));
      if (!cgroups.has(cgroupId)) {
        cgroups.set(cgroupId, path);
        for (const fn of this.newCgroupListeners) fn(w, { id: cgroupId, path });
      }
    }
    return w;
  }

  /** Where cgroup paths are rooted (the cgroup v2 mount), if there is one. */
  get cgroupMount(): string | null {
    return this.cgroups.mount;
  }

  /** The cgroups a workload has been seen in. */
  cgroupsOf(key: string): WorkloadCgroup[] {
    return [...(this.cgroupsByKey.get(key) ?? [])].map(([id, path]) => ({ id, path }));
  }

  /** Called when a workload is first seen in a cgroup (responses follow it there). */
  onNewCgroup(fn: NewCgroupListener): void {
    this.newCgroupListeners.push(fn);
  }

  /** Called after a workload's mode changes. */
  onModeChange(fn: ModeListener): void {
    this.modeListeners.push(fn);
  }

  /** Changes a workload's mode (every replica shares it). */
  setMode(w: Workload, mode: Mode): void {
    const shared = this.byKey.get(w.key) ?? w;
    const from = shared.mode;
    if (from === mode) return;
    shared.mode = mode;
    for (const fn of this.modeListeners) fn(shared, from, mode);
  }

  /** Registers a workload known before any of its events (a stored profile, an applied policy). */
  declare(id: WorkloadIdentity): Workload {
    return this.workloadFor(id, '');
  }

  private workloadFor(id: WorkloadIdentity, path: string): Workload {
    let w = this.byKey.get(id.key);
    if (!w) {
      w = {
        key: id.key, name: id.name, kind: id.kind, namespace: id.namespace ?? '', pod: id.pod ?? '',
        container: id.container ?? '', labels: id.labels ?? {}, cgroupPath: path, mode: id.mode ?? this.namespaceModes.get(id.namespace ?? '') ?? this.defaultMode, events: 0,
      };
      this.byKey.set(id.key, w);
    }
    return w;
  }

  /** Finds a workload by its name or key. */
  find(nameOrKey: string): Workload | undefined {
    const byKey = this.byKey.get(nameOrKey);
    if (byKey) return byKey;
    for (const w of this.byKey.values()) if (w.name === nameOrKey) return w;
    return undefined;
  }

  all(): Workload[] {
    return [...this.byKey.values()];
  }
}
