// cgroup path → Kubernetes workload: the path names the pod (uid) and the
// container (id); the pod watch names the pod, its labels and containers;
// the owner lookup names the workload. Profiles key on namespace + owner
// kind + owner name, so every replica of a Deployment shares one.
//
// A container can start before its pod reaches this node's watch (the
// watch lags, or is reconnecting), and its id reaches the pod's status
// only after it started. Until then identify() answers `provisional`: the
// registry does not cache it and asks again on the cgroup's next event, so
// the first event after the watch catches up gets the real identity. A
// cgroup still unknown after `pendingMs` is given up on (counted in
// `unresolved`) and named by its path like any other cgroup.
import type { KubeConfig } from '@kubernetes/client-node';
import type { Mode } from '../../model/mode.js';
import { LRUCache } from 'lru-cache';
import type { Logger } from '../../log.js';
import type { WorkloadResolver } from '../workloads.js';
import type { WorkloadIdentity } from '../../model/workload.js';
import { parsePodCgroup } from './cgroup-path.js';
import { controllerOf, KubernetesOwnerApi, OwnerResolver, type Owner } from './owners.js';
import { PodWatcher, type PodChange, type PodInfo } from './pods.js';

export interface PodSource {
  start(): Promise<void>;
  stop(): Promise<void>;
  onChange(fn: (change: PodChange, pod: PodInfo) => void): void;
}

export interface KubernetesResolverOptions {
  pods: PodSource;
  owners: Pick<OwnerResolver, 'ownerOf'>;
  log: Logger;
  /** How long a cgroup whose pod or container is not in the watch yet is asked about again. */
  pendingMs?: number;
  /** How long a deleted pod stays known, for events of its last processes still in flight. */
  deletedGraceMs?: number;
  /** The mode a workload starts in when first seen here (the cluster's profile, if it has one). */
  modeOf?: (key: string) => Mode | undefined;
  now?: () => number;
}

/** The key profiles are stored under: "k8s:<namespace>/<OwnerKind>/<name>". */
export function workloadKey(namespace: string, owner: Owner): string {
  return `k8s:${namespace}/${owner.kind}/${owner.name}`;
}

export class KubernetesResolver implements WorkloadResolver {
  private readonly pods = new Map<string, PodInfo>();
  private readonly owners = new Map<string, Owner>();
  private readonly ownerLookups = new Map<string, Promise<void>>();
  private readonly deletedAt = new Map<string, number>();
  private readonly pendingSince = new LRUCache<string, number>({ max: 8192 });
  private readonly pendingMs: number;
  private readonly deletedGraceMs: number;
  private readonly now: () => number;
  /** Cgroups of pods given up on after `pendingMs`. */
  unresolved = 0;

  constructor(private readonly opts: KubernetesResolverOptions) {
    this.pendingMs = opts.pendingMs ?? 30_000;
    this.deletedGraceMs = opts.deletedGraceMs ?? 60_000;
    this.now = opts.now ?? Date.now;
    opts.pods.onChange((change, pod) => this.onPod(change, pod));
  }

  /** The resolver for this node, talking to the API server `kc` points at. */
  static forNode(kc: KubeConfig, nodeName: string, log: Logger, opts: Pick<KubernetesResolverOptions, 'pendingMs' | 'modeOf'> = {}): KubernetesResolver {
    const k8sLog = log.child({ component: 'kubernetes' });
    return new KubernetesResolver({
      pods: new PodWatcher({ kubeConfig: kc, nodeName, log: k8sLog }),
      owners: new OwnerResolver(new KubernetesOwnerApi(kc), k8sLog),
      log: k8sLog,
      ...opts,
    });
  }

  /** Starts the pod watch; resolves once this node's pods and their owners are known. */
  async start(): Promise<void> {
    await this.opts.pods.start();
    await this.settled();
    this.opts.log.info({ pods: this.pods.size }, 'watching this node\'s pods');
  }

  async stop(): Promise<void> {
    await this.opts.pods.stop();
  }

  /** Resolves when every owner lookup started so far has finished. */
  async settled(): Promise<void> {
    while (this.ownerLookups.size > 0) await Promise.all(this.ownerLookups.values());
  }

  identify(cgroupPath: string): WorkloadIdentity | null {
    const pc = parsePodCgroup(cgroupPath);
    if (!pc || pc.conmon) return null;
    const pod = this.pods.get(pc.podUid);
    const owner = this.owners.get(pc.podUid);
    if (!pod || !owner) {
      return this.pending(cgroupPath) ? { key: `cgroup:${cgroupPath}`, name: cgroupPath, kind: 'cgroup', provisional: true } : null;
    }
    const container = pc.containerId ? pod.containers.get(pc.containerId) : '';
    const key = workloadKey(pod.namespace, owner);
    const mode = this.opts.modeOf?.(key);
    const id: WorkloadIdentity = {
      key,
      name: `${pod.namespace}/${owner.name}`,
      kind: 'k8s',
      namespace: pod.namespace,
      pod: pod.name,
      container: container ?? '',
      labels: pod.labels,
      ...(mode ? { mode } : {}),
    };
    // The pod is known but this container's id is not in its status yet.
    if (container === undefined && this.pending(cgroupPath)) id.provisional = true;
    else this.pendingSince.delete(cgroupPath);
    return id;
  }

  /** Whether a cgroup not (fully) known yet is still worth asking about again. */
  private pending(cgroupPath: string): boolean {
    const now = this.now();
    const since = this.pendingSince.get(cgroupPath);
    if (since === undefined) {
      this.pendingSince.set(cgroupPath, now);
      return true;
    }
    if (now - since < this.pendingMs) return true;
    this.pendingSince.delete(cgroupPath);
    this.unresolved++;
    this.opts.log.warn({ cgroupPath, waitedMs: now - since }, 'no pod in the watch for this container cgroup');
    return false;
  }

  private onPod(change: PodChange, pod: PodInfo): void {
    this.forgetDeleted();
    if (change === 'delete') {
      this.deletedAt.set(pod.uid, this.now());
      return;
    }
    const previous = this.pods.get(pod.uid);
    this.pods.set(pod.uid, pod);
    const ref = controllerOf(pod.ownerReferences);
    const prevRef = previous && controllerOf(previous.ownerReferences);
    const sameOwner = previous && ref?.kind === prevRef?.kind && ref?.name === prevRef?.name;
    if (sameOwner && (this.owners.has(pod.uid) || this.ownerLookups.has(pod.uid))) return;
    // A newer lookup for the same pod (its owner changed meanwhile) supersedes this one.
    const lookup: Promise<void> = this.opts.owners
      .ownerOf(pod)
      .then(
        (owner) => {
          if (this.ownerLookups.get(pod.uid) === lookup) this.owners.set(pod.uid, owner);
        },
        (err: unknown) => this.opts.log.error({ err, pod: `${pod.namespace}/${pod.name}` }, 'owner lookup failed'),
      )
      .finally(() => {
        if (this.ownerLookups.get(pod.uid) === lookup) this.ownerLookups.delete(pod.uid);
      });
    this.ownerLookups.set(pod.uid, lookup);
  }

  private forgetDeleted(): void {
    const now = this.now();
    for (const [uid, at] of this.deletedAt) {
      if (now - at < this.deletedGraceMs) continue;
      this.deletedAt.delete(uid);
      this.pods.delete(uid);
      this.owners.delete(uid);
    }
  }
}
