// What a runtime says a container is, in one shape whatever the runtime:
// the CRI's ContainerStatus (+ its pod sandbox) or Docker's inspect.
import type { ContainerInfo, PodMeta } from '../../model/container.js';
import { digestOf, parseImageRef } from './image-ref.js';
import type { CriContainerStatus, CriPodSandbox } from './cri.js';
import type { DockerImageInspect, DockerInspect } from './docker.js';

const IMAGE_ID = /^(?:sha256:)?[0-9a-f]{64}$/;

/** The kubelet's own labels and annotations on pods and containers (io.kubernetes.pod.name …). */
function withoutKubeletKeys(m: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(m)) if (!k.startsWith('io.kubernetes.')) out[k] = v;
  return out;
}

export function podFromSandbox(s: CriPodSandbox): PodMeta | null {
  const m = s.metadata;
  if (!m) return null;
  return { uid: m.uid, name: m.name, namespace: m.namespace, labels: withoutKubeletKeys(s.labels), annotations: withoutKubeletKeys(s.annotations) };
}

/** The verbose detail containerd and CRI-O give under info["info"]; {} when absent or unreadable. */
export function criVerboseInfo(info: Record<string, string> | undefined): CriVerbose {
  const text = info?.info;
  if (!text) return {};
  try {
    return JSON.parse(text) as CriVerbose;
  } catch {
    return {};
  }
}

export interface CriVerbose {
  sandboxID?: string;
  pid?: number;
  /** CRI-O */
  privileged?: boolean;
  /** containerd: the CreateContainer request's config. */
  config?: { image?: { image?: string }; linux?: { security_context?: { privileged?: boolean } } };
  runtimeSpec?: { annotations?: Record<string, string> };
}

export function fromCri(runtime: string, s: CriContainerStatus, verbose: CriVerbose, pod: PodMeta | null): ContainerInfo {
  // The image as asked for; some runtimes answer with the image id here, the request's config and the spec's annotations still say it.
  let image = s.image?.image ?? '';
  if (image === '' || IMAGE_ID.test(image)) {
    image = verbose.config?.image?.image || verbose.runtimeSpec?.annotations?.['io.kubernetes.cri.image-name'] || image;
  }
  const ref = parseImageRef(image);
  return {
    id: s.id,
    name: s.metadata?.name ?? '',
    runtime,
    image,
    imageRepository: ref.repository,
    imageTag: ref.tag,
    imageDigest: digestOf(s.imageRef) || ref.digest,
    imageId: IMAGE_ID.test(s.imageRef) ? s.imageRef : '',
    privileged: verbose.config?.linux?.security_context?.privileged ?? verbose.privileged ?? false,
    labels: withoutKubeletKeys(s.labels),
    createdAt: s.createdAt / 1e6,
    pod,
    sandbox: false,
  };
}

/** A pod's infrastructure container: the pod, no image of its own worth naming. */
export function fromCriSandbox(runtime: string, id: string, s: CriPodSandbox): ContainerInfo {
  return {
    id, name: '', runtime, image: '', imageRepository: '', imageTag: '', imageDigest: '', imageId: '', privileged: false,
    labels: {}, createdAt: s.createdAt / 1e6, pod: podFromSandbox(s), sandbox: true,
  };
}

export function fromDocker(d: DockerInspect, image: DockerImageInspect | null): ContainerInfo {
  const ref = parseImageRef(d.Config?.Image ?? '');
  const labels = d.Config?.Labels ?? {};
  // The repo digest of this image's repository, when it came from a registry.
  const repoDigest = (image?.RepoDigests ?? []).find((r) => r.startsWith(`${ref.repository}@`)) ?? image?.RepoDigests?.[0] ?? '';
  // A container the kubelet made through cri-dockerd carries its pod in labels.
  const podName = labels['io.kubernetes.pod.name'];
  const podNamespace = labels['io.kubernetes.pod.namespace'];
  const podUid = labels['io.kubernetes.pod.uid'];
  return {
    id: d.Id,
    name: labels['io.kubernetes.container.name'] ?? d.Name.replace(/^\//, ''),
    runtime: 'docker',
    image: d.Config?.Image ?? '',
    imageRepository: ref.repository,
    imageTag: ref.tag,
    imageDigest: digestOf(repoDigest) || ref.digest,
    imageId: d.Image,
    privileged: d.HostConfig?.Privileged ?? false,
    labels: withoutKubeletKeys(labels),
    createdAt: Date.parse(d.Created) || 0,
    pod: podName && podNamespace && podUid ? { uid: podUid, name: podName, namespace: podNamespace, labels: {}, annotations: {} } : null,
    sandbox: false,
  };
}
