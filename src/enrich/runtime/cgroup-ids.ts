// A cgroup path → the container it belongs to: its id, the runtime the
// path names, and its pod's uid when the kubelet made the cgroup. Both
// cgroup drivers' forms:
//
//   cgroupfs:  /docker/<id>                          (dockerd)
//              /kubepods[/<qos>]/pod<uid>/<id>        (containerd, Docker via cri-dockerd)
//              /kubepods[/<qos>]/pod<uid>/crio-<id>   (CRI-O)
//   systemd:   /system.slice/docker-<id>.scope
//              /kubepods.slice/…/kubepods-<qos>-pod<uid>.slice/cri-containerd-<id>.scope
//              /kubepods.slice/…/crio-<id>.scope, …/docker-<id>.scope
//
// Anything may come before (a node that is itself a container:
// /docker/<node>/kubepods/…) and after (a container's own sub-cgroups);
// the innermost container wins.
import { parsePodCgroup, type ContainerRuntime } from '../k8s/cgroup-path.js';

export interface CgroupContainer {
  /** The container's 64-hex id. */
  id: string;
  /** The runtime the path names; null where it does not say (cgroupfs under a pod). */
  runtime: ContainerRuntime | null;
  /** The pod's uid when the cgroup is under a kubelet's pod cgroup. */
  podUid: string | null;
}

const ID = /^[0-9a-f]{64}$/;
const DOCKER_SCOPE = /^docker-([0-9a-f]{64})\.scope$/;
const POD_SEGMENT = /^(?:[a-z0-9_]+-)?kubepods(?:-(?:burstable|besteffort))?-pod[0-9a-f_-]+\.slice$|^pod[0-9a-f-]+$/;

/** The container a cgroup path belongs to, or null (the host, a slice, a pod's own cgroup, CRI-O's conmon). */
export function containerOfCgroup(path: string): CgroupContainer | null {
  const segs = path.split('/').filter((s) => s.length > 0);
  for (let i = segs.length - 1; i >= 0; i--) {
    const seg = segs[i]!;
    if (POD_SEGMENT.test(seg)) {
      const pod = parsePodCgroup(`/${segs.slice(0, i + 2).join('/')}`);
      if (!pod) continue; // "pod…" outside kubepods: not a pod
      return pod.containerId ? { id: pod.containerId, runtime: pod.runtime, podUid: pod.podUid } : null;
    }
    const under = i > 0 ? segs[i - 1]! : '';
    // A container directly under a pod is the pod's: the next round takes it.
    if (POD_SEGMENT.test(under)) continue;
    if (ID.test(seg) && under === 'docker') return { id: seg, runtime: 'docker', podUid: null };
    const scope = DOCKER_SCOPE.exec(seg);
    if (scope) return { id: scope[1]!, runtime: 'docker', podUid: null };
  }
  return null;
}
