// Profiles as custom resources, shared by every node's engine. Replicas of
// one Deployment run on many nodes and each node learns a part: a node
// publishes what it learned by re-reading the stored object, merging, and
// replacing it with the resourceVersion it read. The API server refuses a
// stale resourceVersion (409 Conflict), so the node reads again and merges
// again: no node's update is lost. A watch brings other nodes' updates and
// mode changes made with kubectl to every engine.
import { createHash } from 'node:crypto';
import { CustomObjectsApi, ListWatch, Watch, type KubeConfig, type KubernetesObject } from '@kubernetes/client-node';
import type { Mode } from '../model/mode.js';
import {
  PROFILE_API_VERSION,
  PROFILE_KIND,
  type WorkloadProfileDocument,
  type WorkloadProfileSpec,
} from '../detect/profile/document.js';
import type { Logger } from '../log.js';
import { describeError, statusOf } from '../enrich/k8s/pods.js';

export interface ResourceRef {
  group: string;
  version: string;
  plural: string;
  kind: string;
}

export const WORKLOAD_PROFILES: ResourceRef = { group: 'vigil.dev', version: 'v1alpha1', plural: 'workloadprofiles', kind: PROFILE_KIND };

export interface StoredObject<S, St = Record<string, unknown>> {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    resourceVersion?: string;
    uid?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    [k: string]: unknown;
  };
  spec: S;
  status?: St;
}

/** What a mutation yields: the object's next spec and status, or null to leave it as it is. */
export type Mutation<S, St> = { spec: S; status?: St; labels?: Record<string, string> } | null;

export type StoreEvent = 'added' | 'modified' | 'deleted';

export class UpdateConflictError extends Error {
  constructor(readonly namespace: string, readonly objectName: string, readonly attempts: number) {
    super(`${namespace}/${objectName}: still conflicting after ${attempts} attempts (other writers keep winning)`);
    this.name = 'UpdateConflictError';
  }
}

export interface ProfileStoreOptions {
  log: Logger;
  resource?: ResourceRef;
  /** Read–merge–write rounds before giving up on a contended object. */
  maxAttempts?: number;
}

/** A namespaced custom resource with optimistic-concurrency updates; generic over the spec. */
export class ProfileStore<S, St = Record<string, unknown>> {
  private readonly api: CustomObjectsApi;
  private readonly resource: ResourceRef;
  private readonly maxAttempts: number;
  private listWatch: ListWatch<StoredObject<S, St> & KubernetesObject> | null = null;
  /** resourceVersions this store wrote: their watch events are flagged as our own. */
  private readonly written = new Set<string>();
  /** 409 Conflicts met (and retried). */
  conflicts = 0;

  constructor(private readonly kc: KubeConfig, private readonly opts: ProfileStoreOptions) {
    this.api = kc.makeApiClient(CustomObjectsApi);
    this.resource = opts.resource ?? WORKLOAD_PROFILES;
    this.maxAttempts = opts.maxAttempts ?? 50;
  }

  private get base(): { group: string; version: string; plural: string } {
    return { group: this.resource.group, version: this.resource.version, plural: this.resource.plural };
  }

  async get(namespace: string, name: string): Promise<StoredObject<S, St> | null> {
    try {
      return (await this.api.getNamespacedCustomObject({ ...this.base, namespace, name })) as StoredObject<S, St>;
    } catch (err) {
      if (statusOf(err) === 404) return null;
      throw apiError(`get ${this.resource.plural} ${namespace}/${name}`, err);
    }
  }

  async list(): Promise<StoredObject<S, St>[]> {
    try {
      const list = (await this.api.listClusterCustomObject(this.base)) as { items?: StoredObject<S, St>[] };
      return list.items ?? [];
    } catch (err) {
      throw apiError(`list ${this.resource.plural}`, err);
    }
  }

  /** Creates the object; null when it exists already. */
  async create(namespace: string, name: string, m: NonNullable<Mutation<S, St>>): Promise<StoredObject<S, St> | null> {
    const body: StoredObject<S, St> = {
      apiVersion: `${this.resource.group}/${this.resource.version}`,
      kind: this.resource.kind,
      metadata: { name, namespace, ...(m.labels ? { labels: m.labels } : {}) },
      spec: m.spec,
      ...(m.status !== undefined ? { status: m.status } : {}),
    };
    try {
      const created = (await this.api.createNamespacedCustomObject({ ...this.base, namespace, body })) as StoredObject<S, St>;
      this.remember(created);
      return created;
    } catch (err) {
      if (statusOf(err) === 409) return null;
      throw apiError(`create ${this.resource.plural} ${namespace}/${name}`, err);
    }
  }

  /**
   * Reads the object, applies `mutate` to it (null: it does not exist yet)
   * and writes the result with the resourceVersion read; on a 409 Conflict
   * reads again and applies `mutate` again, until it wins. `mutate` must be
   * a pure function of what it is given: it may run several times.
   */
  async update(namespace: string, name: string, mutate: (current: StoredObject<S, St> | null) => Mutation<S, St>): Promise<StoredObject<S, St> | null> {
    for (let attempt = 1; attempt <= this.maxAttempts; attempt++) {
      const current = await this.get(namespace, name);
      const next = mutate(current);
      if (next === null) return current;
      if (current === null) {
        const created = await this.create(namespace, name, next);
        if (created) return created;
        this.conflicts++; // created by another node meanwhile: merge into theirs
      } else {
        if (sameContent(current, next)) return current;
        const body: StoredObject<S, St> = {
          ...current,
          metadata: { ...current.metadata, ...(next.labels ? { labels: { ...current.metadata.labels, ...next.labels } } : {}) },
          spec: next.spec,
          ...(next.status !== undefined ? { status: next.status } : {}),
        };
        try {
          const replaced = (await this.api.replaceNamespacedCustomObject({ ...this.base, namespace, name, body })) as StoredObject<S, St>;
          this.remember(replaced);
          return replaced;
        } catch (err) {
          const status = statusOf(err);
          if (status !== 409 && status !== 404) throw apiError(`update ${this.resource.plural} ${namespace}/${name}`, err);
          this.conflicts++; // someone else wrote (or deleted) it since we read it
        }
      }
      // Spread the contenders out a little; the next round re-reads anyway.
      await new Promise((r) => setTimeout(r, Math.random() * Math.min(5 * attempt, 100)));
    }
    throw new UpdateConflictError(namespace, name, this.maxAttempts);
  }

  /** Lists and watches every object of the kind; resolves once the first list is in. */
  async watch(onEvent: (type: StoreEvent, obj: StoredObject<S, St>, ours: boolean) => void): Promise<void> {
    const path = `/apis/${this.resource.group}/${this.resource.version}/${this.resource.plural}`;
    const lw = new ListWatch<StoredObject<S, St> & KubernetesObject>(
      path,
      new Watch(this.kc),
      async () => (await this.api.listClusterCustomObject(this.base)) as { items: (StoredObject<S, St> & KubernetesObject)[]; metadata?: { resourceVersion?: string } },
      false,
    );
    const emit = (type: StoreEvent) => (obj: StoredObject<S, St>): void =>
      onEvent(type, obj, this.written.has(obj.metadata.resourceVersion ?? ''));
    lw.on('add', emit('added'));
    lw.on('update', emit('modified'));
    lw.on('delete', emit('deleted'));
    let retryMs = 1000;
    lw.on('connect', () => {
      retryMs = 1000;
    });
    lw.on('error', (err: unknown) => {
      if (this.listWatch !== lw) return;
      this.opts.log.warn({ err: describeError(err), retryInMs: retryMs }, `${this.resource.plural} watch failed: watching again`);
      setTimeout(() => {
        if (this.listWatch === lw) void lw.start();
      }, retryMs).unref();
      retryMs = Math.min(retryMs * 2, 30_000);
    });
    this.listWatch = lw;
    await lw.start();
  }

  async stop(): Promise<void> {
    const lw = this.listWatch;
    this.listWatch = null;
    await lw?.stop();
  }

  private remember(obj: StoredObject<S, St>): void {
    const rv = obj.metadata.resourceVersion;
    if (!rv) return;
    this.written.add(rv);
    if (this.written.size > 1024) this.written.delete(this.written.values().next().value!);
  }
}

function sameContent<S, St>(current: StoredObject<S, St>, next: NonNullable<Mutation<S, St>>): boolean {
  if (JSON.stringify(current.spec) !== JSON.stringify(next.spec)) return false;
  if (next.status !== undefined && JSON.stringify(current.status) !== JSON.stringify(next.status)) return false;
  if (next.labels) for (const [k, v] of Object.entries(next.labels)) if (current.metadata.labels?.[k] !== v) return false;
  return true;
}

function apiError(what: string, err: unknown): Error {
  return new Error(`Kubernetes API: ${what}: ${describeError(err)}`);
}

// ---- WorkloadProfile --------------------------------------------------

export type ProfileStatus = NonNullable<WorkloadProfileDocument['status']>;
export type WorkloadProfileStore = ProfileStore<WorkloadProfileSpec, ProfileStatus>;

/** Merges what a node learned into the stored spec; the profile stage's (profiles are not this module's). */
export type MergeSpecs = (stored: WorkloadProfileSpec, learned: WorkloadProfileSpec) => WorkloadProfileSpec;

const NAME_MAX = 253;

/**
 * The object name for a workload: "<kind>.<name>" in the workload's
 * namespace (e.g. shop/deployment.web), a DNS subdomain as Kubernetes
 * requires; hashed when it would be too long.
 */
export function profileName(workload: { kind: string; name: string }): string {
  const raw = `${workload.kind}.${workload.name}`.toLowerCase().replace(/[^a-z0-9.-]+/g, '-').replace(/^[^a-z0-9]+|[^a-z0-9]+$/g, '');
  if (raw.length > 0 && raw.length <= NAME_MAX) return raw;
  const hash = createHash('sha256').update(`${workload.kind}/${workload.name}`).digest('hex').slice(0, 16);
  return `${raw.slice(0, NAME_MAX - hash.length - 1).replace(/[^a-z0-9]+$/, '')}-${hash}`.replace(/^-/, '');
}

/** namespace, owner kind and name from a "k8s:<ns>/<Kind>/<name>" key; null for other keys (host workloads are per node). */
export function parseWorkloadKey(key: string): { namespace: string; kind: string; name: string } | null {
  const m = /^k8s:([^/]+)\/([^/]+)\/(.+)$/.exec(key);
  return m ? { namespace: m[1]!, kind: m[2]!, name: m[3]! } : null;
}

/**
 * Publishes what this node learned about a Kubernetes workload: merges it
 * into the cluster's profile (or creates it) and records the node among
 * the contributors. The stored mode wins: modes change by kubectl (or
 * `setProfileMode`), never by a node's learning.
 */
export async function publishProfile(
  store: WorkloadProfileStore,
  learned: WorkloadProfileSpec,
  merge: MergeSpecs,
  node: string,
  now: () => Date = () => new Date(),
): Promise<WorkloadProfileDocument> {
  const where = parseWorkloadKey(learned.workload.key);
  if (!where) throw new Error(`${learned.workload.key}: not a Kubernetes workload key (k8s:<namespace>/<Kind>/<name>)`);
  const name = profileName(where);
  const result = await store.update(where.namespace, name, (current) => {
    if (!current) {
      return { spec: learned, status: { learningSince: now().toISOString(), lastNewBehaviour: now().toISOString(), nodes: [node] } };
    }
    const merged = { ...merge(current.spec, learned), mode: current.spec.mode };
    const grew = JSON.stringify(merged) !== JSON.stringify(current.spec);
    const nodes = [...new Set([...(current.status?.nodes ?? []), node])].sort();
    return {
      spec: merged,
      status: { ...current.status, nodes, ...(grew ? { lastNewBehaviour: now().toISOString() } : {}) },
    };
  });
  return asDocument(result!);
}

/** Sets a workload's mode cluster-wide (what `kubectl patch … spec.mode` does). */
export async function setProfileMode(store: WorkloadProfileStore, key: string, mode: Mode): Promise<WorkloadProfileDocument | null> {
  const where = parseWorkloadKey(key);
  if (!where) throw new Error(`${key}: not a Kubernetes workload key (k8s:<namespace>/<Kind>/<name>)`);
  const result = await store.update(where.namespace, profileName(where), (current) =>
    current ? { spec: { ...current.spec, mode }, status: current.status } : null,
  );
  return result ? asDocument(result) : null;
}

export function asDocument(obj: StoredObject<WorkloadProfileSpec, ProfileStatus>): WorkloadProfileDocument {
  return {
    apiVersion: PROFILE_API_VERSION,
    kind: PROFILE_KIND,
    metadata: {
      name: obj.metadata.name,
      ...(obj.metadata.namespace ? { namespace: obj.metadata.namespace } : {}),
      ...(obj.metadata.labels ? { labels: obj.metadata.labels } : {}),
      ...(obj.metadata.annotations ? { annotations: obj.metadata.annotations } : {}),
      ...(obj.metadata.resourceVersion ? { resourceVersion: obj.metadata.resourceVersion } : {}),
    },
    spec: obj.spec,
    ...(obj.status ? { status: obj.status } : {}),
  };
}
