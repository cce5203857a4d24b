// A workload is what a profile and an alert are about: off-cluster a
// configured name for a cgroup path prefix or else the cgroup path itself;
// in Kubernetes, the pod's owner. Resolvers (enrich/) say who it is.
import type { ContainerInfo } from './container.js';
import type { Mode } from './mode.js';

/** k8s: a pod's owner; container: a container outside Kubernetes (Docker), by label, Compose service or image. */
export type WorkloadKind = 'host' | 'cgroup' | 'named' | 'k8s' | 'container';

/** Who a workload is, as a resolver sees it. */
export interface WorkloadIdentity {
  /** Stable key profiles are stored under, e.g. "cgroup:/shop/web" or "k8s:shop/Deployment/web". */
  key: string;
  /** What users type and read. */
  name: string;
  kind: WorkloadKind;
  namespace?: string;
  pod?: string;
  container?: string;
  /** Default mode for this workload when it is first seen. */
  mode?: Mode;
  /** Pod labels (Kubernetes). */
  labels?: Record<string, string>;
  /** The container's id, when the cgroup path names one (known even while its runtime cannot be asked). */
  containerId?: string;
  /** The container as its runtime describes it, once asked. */
  containerInfo?: ContainerInfo | null;
  /** Not final yet (e.g. the pod is not in the watch yet): not cached, asked again on the cgroup's next event. */
  provisional?: boolean;
  /**
   * With provisional: settles once asking again can give the final
   * identity (the runtime has answered, or given up): the engine holds the
   * cgroup's events until then, for a bounded time.
   */
  ready?: Promise<void>;
}

export interface Workload extends Required<Omit<WorkloadIdentity, 'mode' | 'provisional' | 'ready' | 'containerId' | 'containerInfo'>> {
  /** The first cgroup path it was seen under (replicas may have several). */
  cgroupPath: string;
  mode: Mode;
  events: number;
  /** This cgroup's container id; '' when it is not a container. */
  containerId: string;
  /** This cgroup's container as its runtime describes it; null when not a container, or not known. */
  containerInfo: ContainerInfo | null;
  /** Opens whose path is incomplete (pathIncomplete in event.ts): a workload hiding files behind long or unreadable paths shows here. */
  pathsIncomplete: number;
}

/** A cgroup a workload runs in: its id and its path below the cgroup v2 mount. */
export interface WorkloadCgroup {
  id: number;
  path: string;
}

/** The node itself, for alerts about the engine and the probe rather than a workload. */
export function nodeWorkload(node: string): Workload {
  return { key: `node:${node}`, name: node, kind: 'host', namespace: '', pod: '', container: '', labels: {}, cgroupPath: '/', mode: 'learn', events: 0, containerId: '', containerInfo: null, pathsIncomplete: 0 };
}
