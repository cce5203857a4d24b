// A workload is what a profile and an alert are about: off-cluster a
// configured name for a cgroup path prefix or else the cgroup path itself;
// in Kubernetes, the pod's owner. Resolvers (enrich/) say who it is.
import type { Mode } from './mode.js';

export type WorkloadKind = 'host' | 'cgroup' | 'named' | 'k8s';

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
  /** Not final yet (e.g. the pod is not in the watch yet): not cached, asked again on the cgroup's next event. */
  provisional?: boolean;
}

export interface Workload extends Required<Omit<WorkloadIdentity, 'mode' | 'provisional'>> {
  /** The first cgroup path it was seen under (replicas may have several). */
  cgroupPath: string;
  mode: Mode;
  events: number;
}

/** A cgroup a workload runs in: its id and its path below the cgroup v2 mount. */
export interface WorkloadCgroup {
  id: number;
  path: string;
}

/** The node itself, for alerts about the engine and the probe rather than a workload. */
export function nodeWorkload(node: string): Workload {
  return { key: `node:${node}`, name: node, kind: 'host', namespace: '', pod: '', container: '', labels: {}, cgroupPath: '/', mode: 'learn', events: 0 };
}
