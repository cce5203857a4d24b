// Fields of the workload an event comes from: its container (Falco's
// container.* class), its Kubernetes identity (k8s.*), and Vigil's own
// workload.* fields.
import { nonEmpty, type FieldDef } from './field-def.js';

export const CONTAINER_FIELDS: Record<string, FieldDef> = {
  'container.id': { kind: 'string', desc: "the container id; 'host' for the host; off-cluster the cgroup's last path component", get: (e, x) => x.containerId(e.workload) },
  'container.name': { kind: 'string', desc: "the workload's name; 'host' for the host", get: (e) => (e.workload ? (e.workload.kind === 'host' ? 'host' : e.workload.name) : undefined) },
  'k8s.ns.name': { kind: 'string', desc: 'the Kubernetes namespace', get: (e) => (e.workload ? nonEmpty(e.workload.namespace) : undefined) },
  'k8s.pod.name': { kind: 'string', desc: 'the Kubernetes pod', get: (e) => (e.workload ? nonEmpty(e.workload.pod) : undefined) },
  'k8s.pod.label': {
    kind: 'string', desc: 'a pod label: k8s.pod.label[app]', arg: 'key',
    get: (e, _x, key) => (e.workload?.labels ? e.workload.labels[key as string] : undefined),
  },
  'workload.name': { kind: 'string', desc: "Vigil: the workload's name", get: (e) => e.workload?.name },
  'workload.key': { kind: 'string', desc: "Vigil: the workload's key (cgroup:/…, named:…, k8s:…)", get: (e) => e.workload?.key },
  'workload.kind': { kind: 'string', desc: 'Vigil: host, cgroup, named or k8s', get: (e) => e.workload?.kind },
  'workload.mode': { kind: 'string', desc: "Vigil: the workload's mode (learn, monitor, enforce)", get: (e) => e.workload?.mode },
};
