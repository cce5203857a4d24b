// A container as its runtime describes it (CRI or Docker), and its pod when
// the kubelet made it: what alerts, rules (container.*, k8s.pod.*) and
// workload names read. enrich/runtime/ fills it in.

export interface PodMeta {
  uid: string;
  name: string;
  namespace: string;
  /** The pod's own labels (the kubelet's io.kubernetes.* bookkeeping left out). */
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

export interface ContainerInfo {
  id: string;
  /** The container's name: Kubernetes' container name, or Docker's without the leading "/". */
  name: string;
  /** containerd, cri-o, docker: what answered. */
  runtime: string;
  /** The image as the container was created from it ("docker.io/library/nginx:1.25"). */
  image: string;
  imageRepository: string;
  imageTag: string;
  /** The repository digest (sha256:…) when the runtime knows one (images pulled from a registry). */
  imageDigest: string;
  /** The image's id (the digest of its config). */
  imageId: string;
  privileged: boolean;
  labels: Record<string, string>;
  /** When it was created, Unix ms. */
  createdAt: number;
  /** The pod, for a container the kubelet made (CRI, or Docker through cri-dockerd). */
  pod: PodMeta | null;
  /** The pod's infrastructure ("pause") container rather than one of its containers. */
  sandbox: boolean;
}
