// A pod → the workload that owns it: the controller owner reference, one
// level further for ReplicaSet (→ Deployment) and Job (→ CronJob), read
// from the API and cached. All replicas of a Deployment map to one owner,
// whichever ReplicaSet (rollout) they come from.
import { AppsV1Api, BatchV1Api, type KubeConfig } from '@kubernetes/client-node';
import { LRUCache } from 'lru-cache';
import type { Logger } from '../../log.js';
import { describeError, statusOf, type OwnerReference, type PodInfo } from './pods.js';

export interface Owner {
  kind: string;
  name: string;
}

/** Reads the owner references of a ReplicaSet or a Job. */
export interface OwnerApi {
  ownerReferencesOf(kind: 'ReplicaSet' | 'Job', namespace: string, name: string): Promise<OwnerReference[]>;
}

export class KubernetesOwnerApi implements OwnerApi {
  private readonly apps: AppsV1Api;
  private readonly batch: BatchV1Api;

  constructor(kc: KubeConfig) {
    this.apps = kc.makeApiClient(AppsV1Api);
    this.batch = kc.makeApiClient(BatchV1Api);
  }

  async ownerReferencesOf(kind: 'ReplicaSet' | 'Job', namespace: string, name: string): Promise<OwnerReference[]> {
    const obj = kind === 'ReplicaSet'
      ? await this.apps.readNamespacedReplicaSet({ namespace, name })
      : await this.batch.readNamespacedJob({ namespace, name });
    return (obj.metadata?.ownerReferences ?? []).map((r) => ({ apiVersion: r.apiVersion, kind: r.kind, name: r.name, uid: r.uid, controller: r.controller }));
  }
}

/** The controlling owner reference (or the only one). */
export function controllerOf(refs: readonly OwnerReference[]): OwnerReference | undefined {
  return refs.find((r) => r.controller) ?? (refs.length === 1 ? refs[0] : undefined);
}

export class OwnerResolver {
  private readonly cache: LRUCache<string, Owner>;
  /** Lookups in flight: the pods of one ReplicaSet start together and share one read. */
  private readonly inflight = new Map<string, Promise<Owner>>();
  /** Lookups that failed and fell back to names (see `fallback`). */
  fallbacks = 0;

  constructor(
    private readonly api: OwnerApi,
    private readonly log: Logger,
    opts: { cacheSize?: number; ttlMs?: number } = {},
  ) {
    this.cache = new LRUCache({ max: opts.cacheSize ?? 4096, ttl: opts.ttlMs ?? 10 * 60_000 });
  }

  /** The workload a pod belongs to. */
  async ownerOf(pod: PodInfo): Promise<Owner> {
    const ref = controllerOf(pod.ownerReferences);
    // A bare pod, or a static pod mirrored by the kubelet (owner: the Node; name: <manifest>-<node>).
    if (!ref) return { kind: 'Pod', name: pod.name };
    if (ref.kind === 'Node') {
      const suffix = `-${ref.name}`;
      return { kind: 'Pod', name: pod.name.endsWith(suffix) ? pod.name.slice(0, -suffix.length) : pod.name };
    }
    if (ref.kind !== 'ReplicaSet' && ref.kind !== 'Job') return { kind: ref.kind, name: ref.name };
    const cacheKey = `${pod.namespace}/${ref.kind}/${ref.name}`;
    const cached = this.cache.get(cacheKey) ?? this.inflight.get(cacheKey);
    if (cached) return cached;
    const lookup = this.lookup(ref, ref.kind, pod, cacheKey).finally(() => this.inflight.delete(cacheKey));
    this.inflight.set(cacheKey, lookup);
    return lookup;
  }

  private async lookup(ref: OwnerReference, kind: 'ReplicaSet' | 'Job', pod: PodInfo, cacheKey: string): Promise<Owner> {
    let owner: Owner;
    try {
      const parent = controllerOf(await this.api.ownerReferencesOf(kind, pod.namespace, ref.name));
      owner = parent ? { kind: parent.kind, name: parent.name } : { kind: ref.kind, name: ref.name };
    } catch (err) {
      this.fallbacks++;
      owner = fallback(ref, pod);
      this.log.warn(
        { namespace: pod.namespace, owner: `${ref.kind}/${ref.name}`, err: describeError(err), as: `${owner.kind}/${owner.name}` },
        'cannot read the owner of a pod: naming its workload from the names',
      );
      if (statusOf(err) !== 404) return owner; // not cached: the next pod of this owner asks again
    }
    this.cache.set(cacheKey, owner);
    return owner;
  }
}

/**
 * The owner from names alone, when the API cannot be read: the Deployment
 * controller names a ReplicaSet "<deployment>-<pod-template-hash>" and labels
 * its pods with the hash; the CronJob controller names a Job
 * "<cronjob>-<scheduled time in minutes>".
 */
export function fallback(ref: OwnerReference, pod: PodInfo): Owner {
  if (ref.kind === 'ReplicaSet') {
    const hash = pod.labels['pod-template-hash'];
    if (hash && ref.name.endsWith(`-${hash}`)) return { kind: 'Deployment', name: ref.name.slice(0, -hash.length - 1) };
  }
  if (ref.kind === 'Job') {
    const m = /^(.+)-\d{8,}$/.exec(ref.name);
    if (m) return { kind: 'CronJob', name: m[1]! };
  }
  return { kind: ref.kind, name: ref.name };
}
