// cgroup → workload. A workload is what a profile and an alert are about:
// off-cluster, a configured name for a cgroup path prefix or else the
// cgroup path itself; in Kubernetes (a later resolver), the pod's owner.
import type { Mode } from '../model/mode.js';
import type { Event } from '../model/event.js';
import type { ContainerInfo } from '../model/container.js';
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
    readonly containerId: string,
    readonly containerInfo: ContainerInfo | null,
  ) {}

  get key(): string { return this.of.key; }
  get name(): string { return this.of.name; }
  get kind(): WorkloadKind { return this.of.kind; }
  get namespace(): string { return this.of.namespace; }
  get mode(): Mode { return this.of.mode; }
  set mode(m: Mode) { this.of.mode = m; }
  get events(): number { return this.of.events; }
  set events(n: number) { this.of.events = n; }
  get pathsIncomplete(): number { return this.of.pathsIncomplete; }
  set pathsIncomplete(n: number) { this.of.pathsIncomplete = n; }
}

/**
 * A pod or a container as a response's target (quarantine, capture): the
 * workload's fields, but its own key and name, so a response reaches that
 * pod's or container's cgroups and not every replica's.
 */
class TargetView implements Workload {
  constructor(
    private readonly of: Workload,
    readonly key: string,
    readonly name: string,
  ) {}

  get kind(): WorkloadKind { return this.of.kind; }
  get namespace(): string { return this.of.namespace; }
  get pod(): string { return this.of.pod; }
  get container(): string { return this.of.container; }
  get labels(): Record<string, string> { return this.of.labels; }
  get cgroupPath(): string { return this.of.cgroupPath; }
  get containerId(): string { return this.of.containerId; }
  get containerInfo(): ContainerInfo | null { return this.of.containerInfo; }
  get mode(): Mode { return this.of.mode; }
  get events(): number { return this.of.events; }
  get pathsIncomplete(): number { return this.of.pathsIncomplete; }
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

/** Slots of the cgroup front cache (a power of two). */
const FRONT = 1024;

export class WorkloadRegistry {
  private readonly byCgroup = new Map<number, Workload>();
  /**
   * In front of byCgroup for cached(), read for every event: slot
   * `cgroupId & (FRONT - 1)` holds a cgroup id and its workload, an
   * array index and a number compare instead of a Map lookup. Holds only
   * what byCgroup holds (a slot is emptied when its cgroup is forgotten).
   */
  private readonly frontIds = new Float64Array(FRONT).fill(-1);
  private readonly frontWorkloads = new Array<Workload | null>(FRONT).fill(null);
  private readonly byKey = new Map<string, Workload>();
  /** Cgroups by workload key, and by pod (pod:<namespace>/<name>) and container (container:<id>) target keys. */
  private readonly cgroupsByKey = new Map<string, Map<number, string>>();
  /** Pods and containers seen, as response targets, by their target keys. */
  private readonly targets = new Map<string, TargetView>();
  /** The target keys each cgroup is under. */
  private readonly targetKeysByCgroup = new Map<number, string[]>();
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

  /** The cgroup's workload if it is final; undefined while not known or provisional. */
  cached(cgroupId: number): Workload | undefined {
    const i = cgroupId & (FRONT - 1);
    if (this.frontIds[i] === cgroupId) return this.frontWorkloads[i]!;
    const w = this.byCgroup.get(cgroupId);
    if (w !== undefined) {
      this.frontIds[i] = cgroupId;
      this.frontWorkloads[i] = w;
    }
    return w;
  }

  /** Empties the cgroup's front slot (its entry in byCgroup changed or went). */
  private unfront(cgroupId: number): void {
    const i = cgroupId & (FRONT - 1);
    if (this.frontIds[i] !== cgroupId) return;
    this.frontIds[i] = -1;
    this.frontWorkloads[i] = null;
  }

  /**
   * The workload of an event's cgroup, or — when a resolver is still
   * asking (a container runtime) — the promise that settles when asking
   * again is worthwhile: the caller may hold the event until then.
   */
  resolveOrWait(e: Event): Workload | Promise<void> {
    return this.resolveCgroupOrWait(e.cgroupId, e.pid);
  }

  /** resolveOrWait for a cgroup (`pid` is one of its processes): nothing is registered while a resolver asks. */
  resolveCgroupOrWait(cgroupId: number, pid: number): Workload | Promise<void> {
    const cached = this.byCgroup.get(cgroupId);
    if (cached) return cached;
    const r = this.identify(cgroupId, pid);
    if (r.id.provisional && r.id.ready) return r.id.ready;
    return this.settle(cgroupId, r.path, r.id);
  }

  /** The workload of a cgroup (`pid` is one of its processes, to find its path cheaply). */
  resolveCgroup(cgroupId: number, pid: number): Workload {
    const cached = this.byCgroup.get(cgroupId);
    if (cached) return cached;
    const r = this.identify(cgroupId, pid);
    return this.settle(cgroupId, r.path, r.id);
  }

  private identify(cgroupId: number, pid: number): { path: string | null; id: WorkloadIdentity } {
    const path = this.cgroups.pathOf(cgroupId, pid);
    // Not cached: a later event of the same cgroup tries again.
    if (path === null) return { path, id: { key: `cgroup-id:${cgroupId}`, name: `cgroup-id:${cgroupId}`, kind: 'cgroup', provisional: true } };
    let identity: WorkloadIdentity | null = null;
    for (const r of this.resolvers) if ((identity = r.identify(path))) break;
    return { path, id: identity ?? { key: `cgroup:${path}`, name: path, kind: 'cgroup' } };
  }

  private settle(cgroupId: number, path: string | null, id: WorkloadIdentity): Workload {
    const shared = this.workloadFor(id, path ?? '');
    if (path === null) return shared;
    const containerId = id.containerInfo?.id ?? id.containerId ?? '';
    const info = id.containerInfo ?? null;
    // Replicas share one workload (one profile) but each alert names its own pod and container.
    const w = (id.pod ?? '') !== shared.pod || (id.container ?? '') !== shared.container || containerId !== shared.containerId || info !== shared.containerInfo
      ? new WorkloadInstance(shared, id.pod ?? '', id.container ?? '', id.labels ?? {}, path, containerId, info)
      : shared;
    if (!id.provisional) {
      this.byCgroup.set(cgroupId, w);
      this.unfront(cgroupId);
      this.addCgroup(w.key, cgroupId, path);
      const targetKeys: string[] = [];
      if (w.pod) targetKeys.push(this.target(w, `pod:${w.namespace}/${w.pod}`, w.namespace ? `${w.namespace}/${w.pod}` : w.pod));
      if (containerId) targetKeys.push(this.target(w, `container:${containerId}`, w.container || containerId.slice(0, 12)));
      for (const k of targetKeys) this.addCgroup(k, cgroupId, path);
      if (targetKeys.length) this.targetKeysByCgroup.set(cgroupId, targetKeys);
      for (const fn of this.newCgroupListeners) fn(w, { id: cgroupId, path });
    }
    return w;
  }

  private addCgroup(key: string, id: number, path: string): void {
    let cgroups = this.cgroupsByKey.get(key);
    if (!cgroups) this.cgroupsByKey.set(key, (cgroups = new Map()));
    cgroups.set(id, path);
  }

  private target(w: Workload, key: string, name: string): string {
    if (!this.targets.has(key)) this.targets.set(key, new TargetView(w, key, name));
    return key;
  }

  /**
   * Forgets a cgroup that is gone (its container was removed), so its
   * entries do not pile up on a node where containers come and go. The
   * workload and its profile stay.
   */
  forget(cgroupId: number): void {
    const w = this.byCgroup.get(cgroupId);
    if (!w) return;
    this.byCgroup.delete(cgroupId);
    this.unfront(cgroupId);
    for (const key of [w.key, ...(this.targetKeysByCgroup.get(cgroupId) ?? [])]) {
      const set = this.cgroupsByKey.get(key);
      set?.delete(cgroupId);
      if (set?.size === 0 && key !== w.key) {
        this.cgroupsByKey.delete(key);
        this.targets.delete(key);
      }
    }
    this.targetKeysByCgroup.delete(cgroupId);
  }

  /** Forgets the cgroup at `path` so its next event asks the resolvers again (its runtime now knows it). */
  forgetPath(path: string): void {
    for (const [id, w] of this.byCgroup) if (w.cgroupPath === path) this.forget(id);
  }

  /** Where cgroup paths are rooted (the cgroup v2 mount), if there is one. */
  get cgroupMount(): string | null {
    return this.cgroups.mount;
  }

  /** The cgroups a workload (or a pod or container target) has been seen in. */
  cgroupsOf(key: string): WorkloadCgroup[] {
    return [...(this.cgroupsByKey.get(key) ?? [])].map(([id, path]) => ({ id, path }));
  }

  /** The pod and container target keys a cgroup is under. */
  targetKeysOf(cgroupId: number): readonly string[] {
    return this.targetKeysByCgroup.get(cgroupId) ?? [];
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
        containerId: id.containerInfo?.id ?? id.containerId ?? '', containerInfo: id.containerInfo ?? null, pathsIncomplete: 0,
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

  /**
   * What a response names: a workload (name or key), else a pod
   * ("namespace/pod", or the pod's name alone when only one has it), else
   * a container (its name, or its id or the first 12 or more characters of it).
   */
  findTarget(name: string): Workload | undefined {
    const w = this.find(name);
    if (w) return w;
    const exact = this.targets.get(name) ?? this.targets.get(`pod:${name}`) ?? this.targets.get(`container:${name}`);
    if (exact) return exact;
    const matches = [...this.targets.values()].filter((t) =>
      t.key.startsWith('pod:') ? t.pod === name : t.name === name || (name.length >= 12 && /^[0-9a-f]+$/.test(name) && t.key.startsWith(`container:${name}`)),
    );
    return matches.length === 1 ? matches[0] : undefined;
  }

  all(): Workload[] {
    return [...this.byKey.values()];
  }
}
