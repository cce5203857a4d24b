// A Kubernetes container's cgroup path → the pod's uid and the container's id.
// The kubelet names the pod's cgroup and the runtime names the container's
// under it; the forms differ by cgroup driver and runtime:
//
//   systemd driver (dashes in the uid become underscores; guaranteed pods
//   have no QoS slice; kind nests it all under kubelet.slice/kubelet-…):
//     /kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod<uid>.slice/cri-containerd-<id>.scope
//     /kubepods.slice/kubepods-pod<uid>.slice/crio-<id>.scope[/container]      (crun puts the process in container/)
//     /kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod<uid>.slice/docker-<id>.scope
//     …/kubepods-burstable-pod<uid>.slice/crio-conmon-<id>.scope             (CRI-O's monitor, not the container)
//   cgroupfs driver:
//     /kubepods/burstable/pod<uid>/<id>                                      (containerd, Docker)
//     /kubepods/pod<uid>/crio-<id>                                           (CRI-O)
//
// Anything may come before (a node in a container: /docker/<id>/kubelet.slice/…)
// and after (a container's own sub-cgroups); the innermost pod segment wins.

export type ContainerRuntime = 'containerd' | 'cri-o' | 'docker';
export type QosClass = 'guaranteed' | 'burstable' | 'besteffort';
export type CgroupDriver = 'systemd' | 'cgroupfs';

export interface PodCgroup {
  /** The pod's metadata.uid, with dashes. */
  podUid: string;
  qos: QosClass;
  driver: CgroupDriver;
  /** The container's 64-hex id; null for the pod's own cgroup and for CRI-O's conmon. */
  containerId: string | null;
  /** From the scope prefix; null where the path does not say (cgroupfs containerd/Docker). */
  runtime: ContainerRuntime | null;
  /** CRI-O's container monitor (conmon): runtime plumbing in the pod's cgroup, not the workload's code. */
  conmon: boolean;
}

// A UUID, or the 32-hex config hash static pods get as their uid.
const UID = '[0-9a-f]{8}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{12}|[0-9a-f]{32}';
const SYSTEMD_POD = new RegExp(`^(?:[a-z0-9_]+-)?kubepods(?:-(burstable|besteffort))?-pod(${UID})\\.slice$`);
const CGROUPFS_POD = new RegExp(`^pod(${UID})$`);
const ID = '[0-9a-f]{64}';
const CONTAINER = new RegExp(`^(?:(cri-containerd|crio|docker)-)?(conmon-)?(${ID})(?:\\.scope)?$`);
const PREFIX_RUNTIME: Record<string, ContainerRuntime> = { 'cri-containerd': 'containerd', crio: 'cri-o', docker: 'docker' };

/** The pod and container a cgroup path belongs to; null when it is not under a Kubernetes pod. */
export function parsePodCgroup(path: string): PodCgroup | null {
  const segs = path.split('/').filter((s) => s.length > 0);
  for (let i = segs.length - 1; i >= 0; i--) {
    const seg = segs[i]!;
    const systemd = SYSTEMD_POD.exec(seg);
    const cgroupfs = systemd ? null : CGROUPFS_POD.exec(seg);
    if (!systemd && !cgroupfs) continue;
    let qos: QosClass;
    if (systemd) {
      qos = (systemd[1] as QosClass | undefined) ?? 'guaranteed';
    } else {
      // cgroupfs: …/kubepods/<qos>/pod<uid> or …/kubepods/pod<uid>.
      const parent = segs[i - 1];
      if (parent === 'burstable' || parent === 'besteffort') {
        if (segs[i - 2] !== 'kubepods') continue;
        qos = parent;
      } else if (parent === 'kubepods') {
        qos = 'guaranteed';
      } else {
        continue;
      }
    }
    const podUid = (systemd ? systemd[2]! : cgroupfs![1]!).replace(/_/g, '-');
    const result: PodCgroup = { podUid, qos, driver: systemd ? 'systemd' : 'cgroupfs', containerId: null, runtime: null, conmon: false };
    const next = segs[i + 1];
    const c = next === undefined ? null : CONTAINER.exec(next);
    if (c) {
      const scoped = next!.endsWith('.scope');
      // A bare id or a prefix without .scope only in cgroupfs; .scope only in systemd.
      if (scoped === (result.driver === 'systemd') && (scoped ? c[1] !== undefined : true)) {
        result.runtime = c[1] ? PREFIX_RUNTIME[c[1]]! : null;
        if (c[2]) {
          if (c[1] !== 'crio') return result; // only CRI-O has a conmon scope
          result.conmon = true;
        } else {
          result.containerId = c[3]!;
        }
      }
    }
    return result;
  }
  return null;
}

/** "containerd://<id>" (a containerStatuses[].containerID) → its runtime and id; null if unparseable. */
export function parseContainerId(statusId: string): { runtime: string; id: string } | null {
  const m = /^([a-z0-9-]+):\/\/([0-9a-f]{64})$/.exec(statusId);
  return m ? { runtime: m[1]!, id: m[2]! } : null;
}
