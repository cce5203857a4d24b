// cgroup path → workload, for containers: the path gives the container's
// id, the node's runtime (the directory) says who it is, and its pod's
// owner or its Docker label, Compose service or image names the workload
// (identity.ts). With the Kubernetes API on, the API names a pod's workload
// (owner references) and the runtime adds the container.
//
// A container's first events arrive before anyone has asked its runtime
// about it. While the runtime is asked, identify() answers `provisional`
// with a `ready` promise: the engine holds that cgroup's events (bounded in
// time and number, enrich/hold.ts) and releases them once the runtime has
// answered, so they carry the container's identity. A runtime that cannot
// answer (down, slow, busy) costs no wait: the container is named by its
// cgroup path, with its id, and asked about again on later events; after
// `pendingMs` it keeps that name (counted in `unresolved`) until the runtime
// announces the container, when it is asked again.
import type { Logger } from '../../log.js';
import type { ContainerInfo } from '../../model/container.js';
import type { WorkloadIdentity } from '../../model/workload.js';
import { LRUCache } from 'lru-cache';
import type { WorkloadResolver } from '../workloads.js';
import { containerOfCgroup } from './cgroup-ids.js';
import type { ContainerDirectory } from './directory.js';
import { workloadOfContainer, type IdentityOptions } from './identity.js';

export interface ContainerResolverOptions {
  directory: ContainerDirectory;
  /** Resolvers that know pods from the API server (Kubernetes), asked for a pod's workload first. */
  cluster: readonly WorkloadResolver[];
  identity: IdentityOptions;
  log: Logger;
  /** How long a container no runtime can name is asked about again before it keeps its cgroup's name. */
  pendingMs?: number;
  now?: () => number;
}

export class ContainerResolver implements WorkloadResolver {
  private readonly pendingSince = new LRUCache<string, number>({ max: 8192 });
  /** Containers named by their cgroup path after `pendingMs`, by id: asked again when the runtime announces them. */
  private readonly gaveUp = new LRUCache<string, string>({ max: 8192 });
  private readonly pendingMs: number;
  private readonly now: () => number;
  /** Container cgroups given up on (named by their path). */
  unresolved = 0;

  constructor(private readonly opts: ContainerResolverOptions) {
    this.pendingMs = opts.pendingMs ?? 30_000;
    this.now = opts.now ?? Date.now;
  }

  private fromCluster(path: string): WorkloadIdentity | null {
    for (const r of this.opts.cluster) {
      const id = r.identify(path);
      if (id) return id;
    }
    return null;
  }

  identify(path: string): WorkloadIdentity | null {
    const c = containerOfCgroup(path);
    // Not a container (a pod's own cgroup, CRI-O's conmon, the host): the cluster's resolvers, then the next one.
    if (!c) return this.fromCluster(path);
    const l = this.opts.directory.lookup(c);
    const api = this.fromCluster(path);
    if (l.state === 'known') {
      this.pendingSince.delete(path);
      return this.named(l.info, api);
    }
    const byPath: WorkloadIdentity = api ?? { key: `cgroup:${path}`, name: path, kind: 'cgroup' };
    if (l.state === 'pending') return { ...byPath, containerId: c.id, provisional: true, ready: l.ready };
    // Nothing to wait for: no runtime is configured, so asking again changes nothing.
    if (this.opts.directory.sources.length === 0) return { ...byPath, containerId: c.id };
    return { ...byPath, containerId: c.id, provisional: byPath.provisional || this.stillPending(path, c.id, l.reason) };
  }

  /** The workload of a container the runtime described. */
  private named(info: ContainerInfo, api: WorkloadIdentity | null): WorkloadIdentity {
    if (api && !api.provisional && api.kind === 'k8s') {
      // The API's owner wins (it reads owner references); the runtime adds the container.
      return { ...api, container: api.container || info.name, containerId: info.id, containerInfo: info };
    }
    const w = workloadOfContainer(info, this.opts.identity);
    return { ...w, containerId: info.id, containerInfo: info, ...(api?.mode ? { mode: api.mode } : {}) };
  }

  /** Whether a container no runtime named yet is still worth asking about on its next event. */
  private stillPending(path: string, id: string, reason: string): boolean {
    const now = this.now();
    const since = this.pendingSince.get(path);
    if (since === undefined) {
      this.pendingSince.set(path, now);
      return true;
    }
    if (now - since < this.pendingMs) return true;
    this.pendingSince.delete(path);
    this.gaveUp.set(id, path);
    this.unresolved++;
    this.opts.log.warn({ cgroupPath: path, container: id, reason, waitedMs: now - since }, 'no container runtime names this container: it is named by its cgroup');
    return false;
  }

  /** The cgroup path of a container given up on, once (when its runtime later announces it). */
  takeGivenUp(id: string): string | undefined {
    const path = this.gaveUp.get(id);
    if (path !== undefined) this.gaveUp.delete(id);
    return path;
  }
}
