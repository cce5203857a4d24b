// A container → the workload it belongs to, from the runtime alone (no API
// server): what profiles are kept per and what users name.
//   - a pod's container: the pod's owner from its name and labels
//     (owner.ts), keyed k8s:<namespace>/<Kind>/<name> as the API path keys it;
//   - a Docker container: the value of a configured label (default
//     vigil.dev/workload), else its Compose project and service, else its
//     image repository: docker:label/<value>, docker:compose/<project>/<service>,
//     docker:image/<repository>.
import type { ContainerInfo } from '../../model/container.js';
import { ownerOfPod } from './owner.js';

export interface ContainerWorkload {
  key: string;
  name: string;
  kind: 'k8s' | 'container';
  namespace: string;
  pod: string;
  container: string;
  labels: Record<string, string>;
}

export interface IdentityOptions {
  /** A container label whose value names its workload. */
  workloadLabel: string;
  /** This node's name in the cluster (static pods are named <manifest>-<node>). */
  nodeName: string;
}

export function workloadOfContainer(c: ContainerInfo, opts: IdentityOptions): ContainerWorkload {
  if (c.pod) {
    const owner = ownerOfPod(c.pod, opts.nodeName);
    return {
      key: `k8s:${c.pod.namespace}/${owner.kind}/${owner.name}`,
      name: `${c.pod.namespace}/${owner.name}`,
      kind: 'k8s',
      namespace: c.pod.namespace,
      pod: c.pod.name,
      container: c.name,
      labels: c.pod.labels,
    };
  }
  const base = { kind: 'container' as const, namespace: '', pod: '', container: c.name, labels: c.labels };
  const named = opts.workloadLabel ? c.labels[opts.workloadLabel] : undefined;
  if (named) return { ...base, key: `docker:label/${named}`, name: named };
  const project = c.labels['com.docker.compose.project'];
  const service = c.labels['com.docker.compose.service'];
  if (project && service) return { ...base, key: `docker:compose/${project}/${service}`, name: `${project}/${service}` };
  // An image known only by its id (no repository) still groups its containers.
  const image = c.imageRepository || c.imageId || c.id;
  return { ...base, key: `docker:image/${image}`, name: image };
}
