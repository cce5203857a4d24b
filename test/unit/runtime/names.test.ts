// What Vigil reads from names alone: a cgroup path → its container (both
// drivers' forms, as dockerd, containerd, CRI-O and the kubelet make them;
// the two cgroupfs forms are the ones this machine's runtimes made in
// test/containers/), an image reference → repository, tag and digest, and
// a pod's name and labels → its owner (the controllers' naming).
import { describe, expect, it } from 'vitest';
import { containerOfCgroup } from '../../../src/enrich/runtime/cgroup-ids.js';
import { parseImageRef } from '../../../src/enrich/runtime/image-ref.js';
import { ownerOfPod } from '../../../src/enrich/runtime/owner.js';
import { workloadOfContainer } from '../../../src/enrich/runtime/identity.js';
import type { ContainerInfo, PodMeta } from '../../../src/model/container.js';

const ID = '157aa38f86c2db6997f13c28a6090a495cbad933ba091eefa0c98d519863a009';
const ID2 = '0cce5324c540fb5f8b99751b353ffb20f757e152ebe4458be73d9e29892ff09b';
const UID = '4afa7565-8b03-4cc5-aab0-38279c007002';

describe('cgroup path → container', () => {
  const cases: [string, string, ReturnType<typeof containerOfCgroup>][] = [
    ['Docker, cgroupfs', `/docker/${ID}`, { id: ID, runtime: 'docker', podUid: null }],
    ['Docker, cgroupfs, a sub-cgroup of the container', `/docker/${ID}/init`, { id: ID, runtime: 'docker', podUid: null }],
    ['Docker, systemd', `/system.slice/docker-${ID}.scope`, { id: ID, runtime: 'docker', podUid: null }],
    ['containerd CRI, cgroupfs', `/kubepods/besteffort/pod${UID}/${ID2}`, { id: ID2, runtime: null, podUid: UID }],
    ['containerd CRI, cgroupfs, guaranteed', `/kubepods/pod${UID}/${ID2}`, { id: ID2, runtime: null, podUid: UID }],
    [
      'containerd CRI, systemd',
      `/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod${UID.replace(/-/g, '_')}.slice/cri-containerd-${ID2}.scope`,
      { id: ID2, runtime: 'containerd', podUid: UID },
    ],
    [
      'CRI-O, systemd, crun\'s container/ child',
      `/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${UID.replace(/-/g, '_')}.slice/crio-${ID2}.scope/container`,
      { id: ID2, runtime: 'cri-o', podUid: UID },
    ],
    ['CRI-O, cgroupfs', `/kubepods/burstable/pod${UID}/crio-${ID2}`, { id: ID2, runtime: 'cri-o', podUid: UID }],
    [
      'Docker through cri-dockerd, systemd',
      `/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod${UID.replace(/-/g, '_')}.slice/docker-${ID2}.scope`,
      { id: ID2, runtime: 'docker', podUid: UID },
    ],
    ['a kind node in Docker: the pod inside wins', `/docker/${ID}/kubepods/besteffort/pod${UID}/${ID2}`, { id: ID2, runtime: null, podUid: UID }],
    ['Docker in Docker: the inner one', `/docker/${ID}/docker/${ID2}`, { id: ID2, runtime: 'docker', podUid: null }],
  ];
  for (const [what, path, want] of cases) it(what, () => expect(containerOfCgroup(path)).toEqual(want));

  it('is null for the host, slices, a pod\'s own cgroup, CRI-O\'s conmon and look-alikes', () => {
    for (const path of [
      '/', '/system.slice/ssh.service', '/user.slice/user-0.slice', `/kubepods/besteffort/pod${UID}`, '/kubepods/besteffort',
      `/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${UID.replace(/-/g, '_')}.slice/crio-conmon-${ID2}.scope`,
      `/shop/${ID}`, `/docker/${ID.slice(1)}`, `/pod${UID}/${ID2}`,
    ]) expect(containerOfCgroup(path), path).toBeNull();
  });
});

describe('image reference → repository, tag, digest', () => {
  it('reads the forms runtimes report', () => {
    expect(parseImageRef('docker.io/library/nginx:1.25')).toEqual({ repository: 'docker.io/library/nginx', tag: '1.25', digest: '' });
    expect(parseImageRef('nginx')).toEqual({ repository: 'nginx', tag: 'latest', digest: '' });
    expect(parseImageRef('localhost:5000/team/app')).toEqual({ repository: 'localhost:5000/team/app', tag: 'latest', digest: '' });
    expect(parseImageRef('localhost:5000/team/app:v2@sha256:' + 'a'.repeat(64))).toEqual({ repository: 'localhost:5000/team/app', tag: 'v2', digest: 'sha256:' + 'a'.repeat(64) });
    expect(parseImageRef('quay.io/x/y@sha256:' + 'b'.repeat(64))).toEqual({ repository: 'quay.io/x/y', tag: '', digest: 'sha256:' + 'b'.repeat(64) });
    expect(parseImageRef('sha256:' + 'c'.repeat(64))).toEqual({ repository: '', tag: '', digest: '' });
  });
});

const pod = (name: string, labels: Record<string, string>, annotations: Record<string, string> = {}): PodMeta => ({ uid: UID, name, namespace: 'shop', labels, annotations });

describe('pod → owner without the API server', () => {
  it('names the controllers from their naming and labels', () => {
    expect(ownerOfPod(pod('web-7d4b9c8f6-x2k9p', { app: 'web', 'pod-template-hash': '7d4b9c8f6' }))).toEqual({ kind: 'Deployment', name: 'web' });
    expect(ownerOfPod(pod('my-api-v2-6c9f8d7b5-q8z4m', { 'pod-template-hash': '6c9f8d7b5' }))).toEqual({ kind: 'Deployment', name: 'my-api-v2' });
    expect(ownerOfPod(pod('db-2', { 'controller-revision-hash': 'db-5d8f7c9b6', 'statefulset.kubernetes.io/pod-name': 'db-2' }))).toEqual({ kind: 'StatefulSet', name: 'db' });
    expect(ownerOfPod(pod('fluentd-x7z2k', { 'controller-revision-hash': '6b8f9d7c4', 'pod-template-generation': '3' }))).toEqual({ kind: 'DaemonSet', name: 'fluentd' });
    expect(ownerOfPod(pod('report-28971234-zx9kq', { 'batch.kubernetes.io/job-name': 'report-28971234' }))).toEqual({ kind: 'CronJob', name: 'report' });
    expect(ownerOfPod(pod('migrate-6t7wq', { 'job-name': 'migrate' }))).toEqual({ kind: 'Job', name: 'migrate' });
    expect(ownerOfPod(pod('kube-apiserver-node-1', {}, { 'kubernetes.io/config.source': 'file' }), 'node-1')).toEqual({ kind: 'Pod', name: 'kube-apiserver' });
    expect(ownerOfPod(pod('debug', {}))).toEqual({ kind: 'Pod', name: 'debug' });
  });
});

describe('container → workload', () => {
  const base: ContainerInfo = {
    id: ID, name: 'web-1', runtime: 'docker', image: 'shop/web:2.1', imageRepository: 'shop/web', imageTag: '2.1', imageDigest: '', imageId: 'sha256:' + 'd'.repeat(64),
    privileged: false, labels: {}, createdAt: 0, pod: null, sandbox: false,
  };
  const opts = { workloadLabel: 'vigil.dev/workload', nodeName: 'node-1' };

  it('groups Docker containers by a label, their Compose service, else their image', () => {
    expect(workloadOfContainer(base, opts)).toMatchObject({ key: 'docker:image/shop/web', name: 'shop/web', kind: 'container', container: 'web-1' });
    expect(workloadOfContainer({ ...base, labels: { 'com.docker.compose.project': 'shop', 'com.docker.compose.service': 'web' } }, opts)).toMatchObject({ key: 'docker:compose/shop/web', name: 'shop/web' });
    expect(workloadOfContainer({ ...base, labels: { 'vigil.dev/workload': 'frontend', 'com.docker.compose.service': 'web' } }, opts)).toMatchObject({ key: 'docker:label/frontend', name: 'frontend' });
  });

  it('keys a pod\'s container by the pod\'s owner, as the API path does', () => {
    const c = { ...base, name: 'app', pod: pod('web-7d4b9c8f6-x2k9p', { app: 'web', 'pod-template-hash': '7d4b9c8f6' }) };
    expect(workloadOfContainer(c, opts)).toEqual({
      key: 'k8s:shop/Deployment/web', name: 'shop/web', kind: 'k8s', namespace: 'shop', pod: 'web-7d4b9c8f6-x2k9p', container: 'app',
      labels: { app: 'web', 'pod-template-hash': '7d4b9c8f6' },
    });
  });
});
