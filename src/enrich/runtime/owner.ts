// A pod's owner from what the node alone knows: its name and labels, as
// the controllers set them. With the API server the owner references say
// it (k8s/owners.ts); without, the names do:
//   Deployment   pod <deployment>-<pod-template-hash>-<5>, label pod-template-hash
//   DaemonSet    pod <daemonset>-<5>, labels controller-revision-hash, pod-template-generation
//   StatefulSet  pod <statefulset>-<ordinal>, label statefulset.kubernetes.io/pod-name
//   Job          label batch.kubernetes.io/job-name (job-name before 1.27)
//   CronJob      a Job named <cronjob>-<scheduled time in minutes>
//   static pod   <manifest>-<node> (annotation kubernetes.io/config.source: file)
// so every replica of one owner gets one key, the key the API path gives
// it too (k8s:<namespace>/<Kind>/<name>).
import type { Owner } from '../k8s/owners.js';
import type { PodMeta } from '../../model/container.js';

const RANDOM_SUFFIX = /^(.+)-[bcdfghjklmnpqrstvwxz2456789]{5}$/;

export function ownerOfPod(pod: PodMeta, nodeName = ''): Owner {
  const l = pod.labels;
  const name = pod.name;
  const hash = l['pod-template-hash'];
  if (hash) {
    const rs = RANDOM_SUFFIX.exec(name)?.[1];
    if (rs?.endsWith(`-${hash}`)) return { kind: 'Deployment', name: rs.slice(0, -hash.length - 1) };
    if (rs) return { kind: 'ReplicaSet', name: rs };
  }
  const job = l['batch.kubernetes.io/job-name'] ?? l['job-name'];
  if (job) {
    const cron = /^(.+)-\d{8,}$/.exec(job);
    return cron ? { kind: 'CronJob', name: cron[1]! } : { kind: 'Job', name: job };
  }
  if (l['controller-revision-hash']) {
    const ordinal = /^(.+)-\d+$/.exec(name);
    if (l['statefulset.kubernetes.io/pod-name'] === name && ordinal) return { kind: 'StatefulSet', name: ordinal[1]! };
    const ds = RANDOM_SUFFIX.exec(name);
    if (l['pod-template-generation'] && ds) return { kind: 'DaemonSet', name: ds[1]! };
    if (ordinal) return { kind: 'StatefulSet', name: ordinal[1]! };
  }
  // A static pod is named after its manifest and the node.
  if (pod.annotations['kubernetes.io/config.source'] === 'file' && nodeName && name.endsWith(`-${nodeName}`)) {
    return { kind: 'Pod', name: name.slice(0, -nodeName.length - 1) };
  }
  return { kind: 'Pod', name };
}
