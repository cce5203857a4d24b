// Kubernetes objects shaped as the API documents them (core/v1 Pod,
// apps/v1 ReplicaSet and Deployment ownership, batch/v1 Job and CronJob
// ownership), for the fake API server.
import { randomBytes, randomUUID } from 'node:crypto';

export const PODS = '/v1/pods';
export const REPLICASETS = 'apps/v1/replicasets';
export const JOBS = 'batch/v1/jobs';
export const NETWORKPOLICIES = 'networking.k8s.io/v1/networkpolicies';
export const PROFILES = 'vigil.dev/v1alpha1/workloadprofiles';

export function containerId(): string {
  return randomBytes(32).toString('hex');
}

export interface OwnerRef {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
  blockOwnerDeletion?: boolean;
}

export function ownerRef(apiVersion: string, kind: string, name: string): OwnerRef {
  return { apiVersion, kind, name, uid: randomUUID(), controller: true, blockOwnerDeletion: true };
}

export interface PodSpec {
  name: string;
  namespace: string;
  node: string;
  owner?: OwnerRef;
  labels?: Record<string, string>;
  /** Started containers: name → id; a container without id has not started yet. */
  containers: { name: string; id?: string; runtime?: string }[];
  uid?: string;
}

export function pod(p: PodSpec) {
  const started = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: p.name,
      namespace: p.namespace,
      uid: p.uid ?? randomUUID(),
      labels: p.labels ?? {},
      ...(p.owner ? { ownerReferences: [p.owner] } : {}),
    },
    spec: {
      nodeName: p.node,
      serviceAccountName: 'default',
      restartPolicy: 'Always',
      containers: p.containers.map((c) => ({ name: c.name, image: `registry.example/${c.name}:1.0`, imagePullPolicy: 'IfNotPresent' })),
    },
    status: {
      phase: 'Running',
      qosClass: 'Burstable',
      hostIP: '10.0.0.1',
      podIP: '10.244.1.7',
      startTime: started,
      containerStatuses: p.containers
        .filter((c) => c.id)
        .map((c) => ({
          name: c.name,
          containerID: `${c.runtime ?? 'containerd'}://${c.id}`,
          image: `registry.example/${c.name}:1.0`,
          imageID: `registry.example/${c.name}@sha256:${'0'.repeat(64)}`,
          ready: true,
          restartCount: 0,
          started: true,
          state: { running: { startedAt: started } },
        })),
    },
  };
}

export function replicaSet(namespace: string, name: string, owner: OwnerRef | null, hash: string) {
  return {
    apiVersion: 'apps/v1',
    kind: 'ReplicaSet',
    metadata: { name, namespace, labels: { 'pod-template-hash': hash }, ...(owner ? { ownerReferences: [owner] } : {}) },
    spec: { replicas: 3, selector: { matchLabels: { 'pod-template-hash': hash } }, template: { metadata: { labels: { 'pod-template-hash': hash } }, spec: { containers: [{ name: 'app', image: 'registry.example/app:1.0' }] } } },
    status: { replicas: 3, readyReplicas: 3, availableReplicas: 3, observedGeneration: 1 },
  };
}

export function job(namespace: string, name: string, owner: OwnerRef | null) {
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name, namespace, ...(owner ? { ownerReferences: [owner] } : {}) },
    spec: { backoffLimit: 6, completions: 1, parallelism: 1, template: { spec: { restartPolicy: 'Never', containers: [{ name: 'backup', image: 'registry.example/backup:1.0' }] } } },
    status: { active: 1, startTime: new Date().toISOString().replace(/\.\d+Z$/, 'Z') },
  };
}

/** The cgroup path the kubelet (systemd driver) and containerd give a container. */
export function cgroupOf(podUid: string, id: string, qos: 'burstable' | 'besteffort' = 'burstable'): string {
  const u = podUid.replace(/-/g, '_');
  return `/kubepods.slice/kubepods-${qos}.slice/kubepods-${qos}-pod${u}.slice/cri-containerd-${id}.scope`;
}
