// Container cgroup paths as the kubelet and the runtimes make them. The
// forms below are real ones: kubelet's systemd naming
// (kubepods-<qos>-pod<uid with _>.slice) and cgroupfs naming
// (kubepods/<qos>/pod<uid>), containerd's cri-containerd-<id>.scope,
// CRI-O's crio-<id>.scope with crun's container/ child and its
// crio-conmon-<id>.scope, Docker's docker-<id>.scope (cri-dockerd), a kind
// node nested in a Docker container, and a static pod's hash uid.
import { describe, expect, it } from 'vitest';
import { parseContainerId, parsePodCgroup } from '../../../src/enrich/k8s/cgroup-path.js';

const CID = '13a0f64b909e3ff2d63f196d6947927a8af997ab68f8fa9ebb6d6c7018af4ec9';
const CRIO = '78283d52a8505805e4138f05dcecc6e90fd1c3f6fbc0261b4654f3d763c5ed97';
const DOCKER = '3350ade4226f0adcd9e4e9545d7c2a16a5aa362d12315f2a88e2024cea1246cf';

describe('cgroup path → pod and container', () => {
  const cases: [string, string, ReturnType<typeof parsePodCgroup>][] = [
    [
      'containerd, systemd driver, burstable',
      `/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod0185634f_eef8_427e_a2c5_884d45bc5503.slice/cri-containerd-${CID}.scope`,
      { podUid: '0185634f-eef8-427e-a2c5-884d45bc5503', qos: 'burstable', driver: 'systemd', containerId: CID, runtime: 'containerd', conmon: false },
    ],
    [
      'containerd, systemd driver, guaranteed (no QoS slice)',
      `/kubepods.slice/kubepods-pode03401ab_1ff2_44e3_8260_3d175888e4a7.slice/cri-containerd-${CID}.scope`,
      { podUid: 'e03401ab-1ff2-44e3-8260-3d175888e4a7', qos: 'guaranteed', driver: 'systemd', containerId: CID, runtime: 'containerd', conmon: false },
    ],
    [
      'containerd, systemd driver, besteffort',
      `/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod729d2f46_480d_4796_a76c_e227e2671d31.slice/cri-containerd-${CID}.scope`,
      { podUid: '729d2f46-480d-4796-a76c-e227e2671d31', qos: 'besteffort', driver: 'systemd', containerId: CID, runtime: 'containerd', conmon: false },
    ],
    [
      'CRI-O with crun: the process sits in the scope\'s container/ child',
      `/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod02d8af75_be7d_4cd2_99bf_f4ea0a711570.slice/crio-${CRIO}.scope/container`,
      { podUid: '02d8af75-be7d-4cd2-99bf-f4ea0a711570', qos: 'burstable', driver: 'systemd', containerId: CRIO, runtime: 'cri-o', conmon: false },
    ],
    [
      'CRI-O conmon: the pod, but not a container',
      `/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod0185634f_eef8_427e_a2c5_884d45bc5503.slice/crio-conmon-${CRIO}.scope`,
      { podUid: '0185634f-eef8-427e-a2c5-884d45bc5503', qos: 'burstable', driver: 'systemd', containerId: null, runtime: 'cri-o', conmon: true },
    ],
    [
      'Docker through cri-dockerd, systemd driver',
      `/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod96dd7de3_0783_4613_a707_e0effc077ef5.slice/docker-${DOCKER}.scope`,
      { podUid: '96dd7de3-0783-4613-a707-e0effc077ef5', qos: 'besteffort', driver: 'systemd', containerId: DOCKER, runtime: 'docker', conmon: false },
    ],
    [
      'containerd or Docker, cgroupfs driver, burstable',
      `/kubepods/burstable/podf6adb0af-0855-4bab-b25b-c853f18d0ce2/${CID}`,
      { podUid: 'f6adb0af-0855-4bab-b25b-c853f18d0ce2', qos: 'burstable', driver: 'cgroupfs', containerId: CID, runtime: null, conmon: false },
    ],
    [
      'cgroupfs driver, guaranteed',
      `/kubepods/pode03401ab-1ff2-44e3-8260-3d175888e4a7/${CID}`,
      { podUid: 'e03401ab-1ff2-44e3-8260-3d175888e4a7', qos: 'guaranteed', driver: 'cgroupfs', containerId: CID, runtime: null, conmon: false },
    ],
    [
      'CRI-O, cgroupfs driver, besteffort',
      `/kubepods/besteffort/pod0b0e005c-39ec-4719-bbfe-78aadbc3e4ad/crio-${CRIO}`,
      { podUid: '0b0e005c-39ec-4719-bbfe-78aadbc3e4ad', qos: 'besteffort', driver: 'cgroupfs', containerId: CRIO, runtime: 'cri-o', conmon: false },
    ],
    [
      'kind: a node in a Docker container, kubelet.slice naming',
      `/system.slice/docker-${DOCKER}.scope/kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-besteffort.slice/kubelet-kubepods-besteffort-podb6a16766_05ee_446a_8ee5_ff96a817f47c.slice/cri-containerd-${CID}.scope`,
      { podUid: 'b6a16766-05ee-446a-8ee5-ff96a817f47c', qos: 'besteffort', driver: 'systemd', containerId: CID, runtime: 'containerd', conmon: false },
    ],
    [
      'a static pod: its uid is the manifest hash',
      `/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod5d3b7c3a9e1f4b2c8d6e0f1a2b3c4d5e.slice/cri-containerd-${CID}.scope`,
      { podUid: '5d3b7c3a9e1f4b2c8d6e0f1a2b3c4d5e', qos: 'burstable', driver: 'systemd', containerId: CID, runtime: 'containerd', conmon: false },
    ],
    [
      'the pod\'s own cgroup',
      '/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod0185634f_eef8_427e_a2c5_884d45bc5503.slice',
      { podUid: '0185634f-eef8-427e-a2c5-884d45bc5503', qos: 'burstable', driver: 'systemd', containerId: null, runtime: null, conmon: false },
    ],
  ];

  for (const [what, path, want] of cases) {
    it(what, () => {
      expect(parsePodCgroup(path)).toEqual(want);
    });
  }

  it('a sub-cgroup a container made for itself is still that container', () => {
    const p = parsePodCgroup(`/kubepods.slice/kubepods-podd80f4a0e_576f_47a8_a0cf_69dc23dc1980.slice/cri-containerd-${CID}.scope/system.slice/nginx.service`);
    expect(p?.containerId).toBe(CID);
    expect(p?.podUid).toBe('d80f4a0e-576f-47a8-a0cf-69dc23dc1980');
  });

  it('is not a pod: host services, plain Docker, QoS slices, look-alikes', () => {
    for (const path of [
      '/',
      '/init.scope',
      '/system.slice/containerd.service',
      `/system.slice/docker-${DOCKER}.scope`,
      `/docker/${DOCKER}`,
      '/kubepods.slice',
      '/kubepods.slice/kubepods-burstable.slice',
      '/kubepods/burstable',
      `/shop/pod0185634f-eef8-427e-a2c5-884d45bc5503/${CID}`, // a pod-like name outside kubepods
    ]) {
      expect(parsePodCgroup(path), path).toBeNull();
    }
  });

  it('does not take a short or a wrongly suffixed id for a container', () => {
    const pod = '/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod0185634f_eef8_427e_a2c5_884d45bc5503.slice';
    expect(parsePodCgroup(`${pod}/cri-containerd-abc123.scope`)?.containerId).toBeNull();
    expect(parsePodCgroup(`${pod}/cri-containerd-${CID}.scope.mount`)?.containerId).toBeNull();
  });

  it('reads containerStatuses[].containerID', () => {
    expect(parseContainerId(`containerd://${CID}`)).toEqual({ runtime: 'containerd', id: CID });
    expect(parseContainerId(`cri-o://${CRIO}`)).toEqual({ runtime: 'cri-o', id: CRIO });
    expect(parseContainerId(`docker://${DOCKER}`)).toEqual({ runtime: 'docker', id: DOCKER });
    expect(parseContainerId('')).toBeNull();
    expect(parseContainerId('containerd://nothex')).toBeNull();
  });
});
