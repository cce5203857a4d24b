// Fields of the workload an event comes from: its container (Falco's
// container.* class: what its runtime says), its Kubernetes identity
// (k8s.*), and Vigil's own workload.* fields.
import type { ContainerInfo } from '../../model/container.js';
import type { Event } from '../../model/event.js';
import { nonEmpty, type FieldDef } from './field-def.js';

/** The event's container as its runtime describes it, when known. */
function info(e: Event): ContainerInfo | null | undefined {
  return e.workload?.containerInfo;
}

export const CONTAINER_FIELDS: Record<string, FieldDef> = {
  'container.id': {
    kind: 'string', desc: "the container's id, 12 characters (as Falco prints it); 'host' for the host; a cgroup that is no container's: its path's last component",
    get: (e, x) => x.containerId(e.workload),
  },
  'container.full_id': { kind: 'string', desc: "the container's whole id (64 hex characters)", get: (e) => (e.workload ? nonEmpty(e.workload.containerId) : undefined) },
  'container.name': {
    kind: 'string', desc: "the container's name (Docker's, or Kubernetes' container name) as its runtime says; else the workload's name; 'host' for the host",
    get: (e) => (e.workload ? (e.workload.kind === 'host' ? 'host' : e.workload.containerInfo?.name || e.workload.name) : undefined),
  },
  'container.type': { kind: 'string', desc: 'the runtime that runs the container: containerd, cri-o or docker', get: (e) => nonEmpty(info(e)?.runtime ?? '') },
  'container.image': { kind: 'string', desc: 'the image as the container was created from it (docker.io/library/nginx:1.25)', get: (e) => nonEmpty(info(e)?.image ?? '') },
  'container.image.repository': { kind: 'string', desc: "the image's repository (docker.io/library/nginx), as the runtime writes it", get: (e) => nonEmpty(info(e)?.imageRepository ?? '') },
  'container.image.tag': { kind: 'string', desc: "the image's tag (latest when the reference has neither tag nor digest)", get: (e) => nonEmpty(info(e)?.imageTag ?? '') },
  'container.image.digest': { kind: 'string', desc: "the image's repository digest (sha256:…), when it came from a registry", get: (e) => nonEmpty(info(e)?.imageDigest ?? '') },
  'container.image.id': { kind: 'string', desc: "the image's id (sha256:… of its config)", get: (e) => nonEmpty(info(e)?.imageId ?? '') },
  'container.privileged': { kind: 'bool', desc: 'the container runs privileged (every capability, every device)', get: (e) => info(e)?.privileged },
  'container.label': { kind: 'string', desc: 'a container label: container.label[com.example/team]', arg: 'key', get: (e, _x, key) => info(e)?.labels[key as string] },
  'container.labels': {
    kind: 'string', desc: 'every container label, key:value separated by commas',
    get: (e) => {
      const i = info(e);
      return i ? Object.entries(i.labels).map(([k, v]) => `${k}:${v}`).join(',') : undefined;
    },
  },
  'container.start_ts': { kind: 'number', desc: 'when the container was created, nanoseconds since the epoch', get: (e) => (info(e) ? Math.round(info(e)!.createdAt * 1e6) : undefined) },
  'k8s.ns.name': { kind: 'string', desc: 'the Kubernetes namespace', get: (e) => (e.workload ? nonEmpty(e.workload.namespace) : undefined) },
  'k8s.pod.name': { kind: 'string', desc: 'the Kubernetes pod', get: (e) => (e.workload ? nonEmpty(e.workload.pod) : undefined) },
  'k8s.pod.uid': { kind: 'string', desc: "the pod's uid (from the runtime's pod sandbox)", get: (e) => nonEmpty(info(e)?.pod?.uid ?? '') },
  'k8s.pod.label': {
    kind: 'string', desc: 'a pod label: k8s.pod.label[app]', arg: 'key',
    get: (e, _x, key) => (e.workload?.labels ? e.workload.labels[key as string] : undefined),
  },
  'k8s.pod.labels': {
    kind: 'string', desc: 'every pod label, key:value separated by commas',
    get: (e) => (e.workload?.pod ? Object.entries(e.workload.labels).map(([k, v]) => `${k}:${v}`).join(',') : undefined),
  },
  'workload.name': { kind: 'string', desc: "Vigil: the workload's name", get: (e) => e.workload?.name },
  'workload.key': { kind: 'string', desc: "Vigil: the workload's key (cgroup:/…, named:…, k8s:…)", get: (e) => e.workload?.key },
  'workload.kind': { kind: 'string', desc: 'Vigil: host, cgroup, named, k8s or container', get: (e) => e.workload?.kind },
  'workload.mode': { kind: 'string', desc: "Vigil: the workload's mode (learn, monitor, enforce)", get: (e) => e.workload?.mode },
};
