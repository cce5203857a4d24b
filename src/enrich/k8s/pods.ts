// The pods of this node, from a list+watch of the API server
// (fieldSelector spec.nodeName=<node>): pod uid → pod, container id → name.
import { CoreV1Api, ListWatch, Watch, type KubeConfig, type V1Pod } from '@kubernetes/client-node';
import type { Logger } from '../../log.js';
import { parseContainerId } from './cgroup-path.js';

export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid?: string;
  controller?: boolean;
}

/** What the resolver needs of a pod. */
export interface PodInfo {
  uid: string;
  namespace: string;
  name: string;
  nodeName: string;
  labels: Record<string, string>;
  ownerReferences: OwnerReference[];
  /** Container id (64 hex) → container name: init, app and ephemeral containers that have started. */
  containers: Map<string, string>;
  resourceVersion: string;
}

/** A pod as the API returns it (list items are typed models, watch objects plain JSON: the same field names). */
type PodObject = Pick<V1Pod, 'metadata' | 'spec' | 'status'>;

export function podInfo(pod: PodObject): PodInfo | null {
  const m = pod.metadata;
  if (!m?.uid || !m.name || !m.namespace) return null;
  const containers = new Map<string, string>();
  const s = pod.status;
  for (const list of [s?.initContainerStatuses, s?.containerStatuses, s?.ephemeralContainerStatuses]) {
    for (const c of list ?? []) {
      const id = c.containerID ? parseContainerId(c.containerID) : null;
      if (id) containers.set(id.id, c.name);
    }
  }
  return {
    uid: m.uid,
    namespace: m.namespace,
    name: m.name,
    nodeName: pod.spec?.nodeName ?? '',
    labels: { ...(m.labels ?? {}) },
    ownerReferences: (m.ownerReferences ?? []).map((r) => ({ apiVersion: r.apiVersion, kind: r.kind, name: r.name, uid: r.uid, controller: r.controller })),
    containers,
    resourceVersion: m.resourceVersion ?? '',
  };
}

export type PodChange = 'add' | 'update' | 'delete';

export interface PodWatcherOptions {
  kubeConfig: KubeConfig;
  nodeName: string;
  log: Logger;
  /** First delay before re-watching after an error; doubles up to 30 s. */
  retryMs?: number;
}

export class PodWatcher {
  private readonly byUid = new Map<string, PodInfo>();
  private readonly listWatch: ListWatch<V1Pod>;
  private readonly listeners = new Set<(change: PodChange, pod: PodInfo) => void>();
  private retryMs: number;
  private retryTimer: NodeJS.Timeout | null = null;
  private stopped = false;
  /** Watch errors so far (each followed by a re-watch). */
  errors = 0;

  constructor(private readonly opts: PodWatcherOptions) {
    this.retryMs = opts.retryMs ?? 1000;
    const fieldSelector = `spec.nodeName=${opts.nodeName}`;
    const core = opts.kubeConfig.makeApiClient(CoreV1Api);
    this.listWatch = new ListWatch<V1Pod>(
      '/api/v1/pods',
      new Watch(opts.kubeConfig),
      () => core.listPodForAllNamespaces({ fieldSelector }),
      false,
      undefined,
      fieldSelector,
    );
    this.listWatch.on('add', (p) => this.apply('add', p));
    this.listWatch.on('update', (p) => this.apply('update', p));
    this.listWatch.on('delete', (p) => this.apply('delete', p));
    this.listWatch.on('connect', () => {
      this.retryMs = opts.retryMs ?? 1000;
    });
    this.listWatch.on('error', (err: unknown) => this.failed(err));
  }

  /** Lists this node's pods and starts watching; resolves once the first list is in. */
  async start(): Promise<void> {
    this.stopped = false;
    await this.listWatch.start();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    await this.listWatch.stop();
  }

  onChange(fn: (change: PodChange, pod: PodInfo) => void): void {
    this.listeners.add(fn);
  }

  pod(uid: string): PodInfo | undefined {
    return this.byUid.get(uid);
  }

  pods(): PodInfo[] {
    return [...this.byUid.values()];
  }

  private apply(change: PodChange, obj: PodObject): void {
    const p = podInfo(obj);
    if (!p) return;
    if (change === 'delete') this.byUid.delete(p.uid);
    else this.byUid.set(p.uid, p);
    for (const fn of this.listeners) fn(change, p);
  }

  // The informer stops on an error other than 410 Gone: start it again, backing off.
  private failed(err: unknown): void {
    this.errors++;
    if (this.stopped) return;
    this.opts.log.warn({ err: describeError(err), retryInMs: this.retryMs }, 'pod watch failed: watching again');
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      if (!this.stopped) void this.listWatch.start().catch((e: unknown) => this.failed(e));
    }, this.retryMs);
    this.retryMs = Math.min(this.retryMs * 2, 30_000);
  }
}

/** An API error as "403 Forbidden: <message>" without request details (which may carry a token). */
export function describeError(err: unknown): string {
  if (err && typeof err === 'object') {
    const e = err as { code?: unknown; statusCode?: unknown; body?: unknown; message?: unknown };
    const code = typeof e.code === 'number' ? e.code : typeof e.statusCode === 'number' ? e.statusCode : undefined;
    let message = '';
    if (typeof e.body === 'string') {
      try {
        message = String((JSON.parse(e.body) as { message?: unknown }).message ?? '');
      } catch {
        message = '';
      }
    } else if (e.body && typeof e.body === 'object') {
      message = String((e.body as { message?: unknown }).message ?? '');
    }
    if (!message && typeof e.message === 'string') message = e.message.split('\n')[0]!;
    return code !== undefined ? `${code}${message ? `: ${message}` : ''}` : message || 'unknown error';
  }
  return String(err);
}

/** The HTTP status of an API error, if it has one. */
export function statusOf(err: unknown): number | undefined {
  if (err && typeof err === 'object') {
    const e = err as { code?: unknown; statusCode?: unknown };
    if (typeof e.code === 'number') return e.code;
    if (typeof e.statusCode === 'number') return e.statusCode;
  }
  return undefined;
}
