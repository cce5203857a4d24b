// The runtime clients against real runtimes on this node: dockerd and
// containerd's CRI started by the test (test/support/runtimes.ts), pods
// and containers made the way the kubelet and `docker run` make them, and
// the container directory naming each from its cgroup. Also what a runtime
// that is down or hangs costs: a bounded wait, then nothing.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { containerOfCgroup } from '../../src/enrich/runtime/cgroup-ids.js';
import type { ContainerInfo } from '../../src/model/container.js';
import { ContainerDirectory, type Lookup } from '../../src/enrich/runtime/directory.js';
import { workloadOfContainer } from '../../src/enrich/runtime/identity.js';
import { CriSource, DockerSource } from '../../src/enrich/runtime/sources.js';
import { silentLogger } from '../../src/log.js';
import { describeRuntimes, waitFor } from '../support/kernel.js';
import { runtimeRunDir, TestContainerd, TestDocker, TEST_IMAGE, type TestPod } from '../support/runtimes.js';

const log = silentLogger();

/** The cgroup v2 path of a process ("0::/docker/<id>"). */
function cgroupOf(pid: number): string {
  const line = readFileSync(`/proc/${pid}/cgroup`, 'utf8').split('\n').find((l) => l.startsWith('0::'));
  return line!.slice(3);
}

async function resolve(dir: ContainerDirectory, cgroupPath: string): Promise<ContainerInfo> {
  const c = containerOfCgroup(cgroupPath);
  expect(c, `a container cgroup: ${cgroupPath}`).not.toBeNull();
  let l: Lookup = dir.lookup(c!);
  if (l.state === 'pending') {
    await l.ready;
    l = dir.lookup(c!);
  }
  if (l.state !== 'known') throw new Error(`not resolved: ${JSON.stringify(l)}`);
  return l.info;
}

describeRuntimes('container runtimes on this node: CRI and Docker', () => {
  let docker: TestDocker;
  let containerd: TestContainerd;
  let dir: ContainerDirectory;
  const changes: [string, string][] = [];

  beforeAll(async () => {
    [docker, containerd] = await Promise.all([TestDocker.start(), TestContainerd.start()]);
    dir = new ContainerDirectory({
      sources: [new CriSource(containerd.socket, { timeoutMs: 2000, pollMs: 200, log }), new DockerSource(docker.socket, { timeoutMs: 2000, pollMs: 200, log })],
      log,
    });
    dir.onChange((change, info) => changes.push([change, info.id]));
    await dir.start();
  }, 180_000);

  afterAll(async () => {
    await dir?.stop();
    await Promise.all([docker?.stop(), containerd?.stop()]);
  }, 120_000);

  it('finds both runtimes and says what they are', () => {
    expect(dir.stats().runtimes).toEqual([
      expect.objectContaining({ kind: 'cri', runtime: 'containerd', up: true, version: expect.stringMatching(/^containerd \S+/) }),
      expect.objectContaining({ kind: 'docker', runtime: 'docker', up: true, version: expect.stringMatching(/^docker 20\./) }),
    ]);
  });

  it('names a Docker container from its cgroup: name, image, labels, not privileged', async () => {
    const id = await docker.run({ name: 'vigil-dir-web', labels: { app: 'web', 'com.example/team': 'shop' } });
    const info = await resolve(dir, cgroupOf(await docker.pidOf(id)));
    expect(info).toMatchObject({
      id, name: 'vigil-dir-web', runtime: 'docker', image: TEST_IMAGE, imageRepository: 'vigil-test/busybox', imageTag: '1',
      imageId: expect.stringMatching(/^sha256:[0-9a-f]{64}$/), privileged: false, pod: null, sandbox: false,
      labels: { app: 'web', 'com.example/team': 'shop', 'vigil.test': '1' },
    });
    expect(info.createdAt).toBeGreaterThan(Date.now() - 60_000);
    expect(workloadOfContainer(info, { workloadLabel: 'vigil.dev/workload', nodeName: '' })).toMatchObject({ key: 'docker:image/vigil-test/busybox', kind: 'container' });
  });

  let pod: TestPod;
  it('names a CRI container and its pod from its cgroup: pod name, namespace, uid, labels; container name, image', async () => {
    pod = await containerd.runPod({ name: 'web-7d4b9c8f6-x2k9p', namespace: 'shop', labels: { app: 'web', 'pod-template-hash': '7d4b9c8f6' }, annotations: { 'example.com/owner': 'team-a' } });
    const cid = await containerd.startContainer(pod, { name: 'app', labels: { tier: 'front' } });
    const path = cgroupOf(await containerd.pidOf(cid));
    expect(path).toBe(`/kubepods/besteffort/pod${pod.uid}/${cid}`);
    const info = await resolve(dir, path);
    expect(info).toMatchObject({
      id: cid, name: 'app', runtime: 'containerd', image: `docker.io/${TEST_IMAGE}`, imageRepository: 'docker.io/vigil-test/busybox', imageTag: '1',
      privileged: false, labels: { tier: 'front' }, sandbox: false,
      pod: { uid: pod.uid, name: 'web-7d4b9c8f6-x2k9p', namespace: 'shop', labels: { app: 'web', 'pod-template-hash': '7d4b9c8f6' }, annotations: { 'example.com/owner': 'team-a' } },
    });
    expect(workloadOfContainer(info, { workloadLabel: 'vigil.dev/workload', nodeName: '' })).toMatchObject({ key: 'k8s:shop/Deployment/web', pod: 'web-7d4b9c8f6-x2k9p', container: 'app' });
  });

  it('tells a privileged container from an unprivileged one', async () => {
    const privPod = await containerd.runPod({ name: 'node-tools-x7z2k', namespace: 'ops', privileged: true, labels: { 'controller-revision-hash': '6b8f9d7c4', 'pod-template-generation': '1' } });
    const priv = await containerd.startContainer(privPod, { name: 'priv', privileged: true });
    const info = await resolve(dir, cgroupOf(await containerd.pidOf(priv)));
    expect(info).toMatchObject({ id: priv, name: 'priv', privileged: true });
    expect(workloadOfContainer(info, { workloadLabel: '', nodeName: '' }).key).toBe('k8s:ops/DaemonSet/node-tools');
    // The kernel agrees: a privileged container's process holds every capability the runtime could give.
    const caps = readFileSync(`/proc/${await containerd.pidOf(priv)}/status`, 'utf8');
    expect(caps).toMatch(/CapEff:\s+000001fffeffffff/);
  });

  it('knows the pod\'s own (sandbox) cgroup as the pod', async () => {
    const info = await resolve(dir, `/kubepods/besteffort/pod${pod.uid}/${pod.id}`);
    expect(info).toMatchObject({ id: pod.id, sandbox: true, pod: { name: 'web-7d4b9c8f6-x2k9p', namespace: 'shop' } });
  });

  it('learns of new containers from the runtimes (Docker events, CRI listing) before their first event asks, and of removed ones', async () => {
    const id = await docker.run({ name: 'vigil-dir-announced' });
    await waitFor('the Docker container known without a lookup', () => dir.get(id), 10_000);
    const cid = await containerd.startContainer(pod, { name: 'announced' });
    await waitFor('the CRI container known without a lookup', () => dir.get(cid), 10_000);
    await docker.remove(id);
    await waitFor('the Docker container\'s removal', () => changes.some(([c, i]) => c === 'removed' && i === id), 10_000);
  });

  it('never waits long on a runtime that hangs (dockerd stopped with SIGSTOP), and uses it again once it answers', async () => {
    const id = await docker.run({ name: 'vigil-dir-hung' });
    const path = cgroupOf(await docker.pidOf(id));
    // A directory of its own that knows nothing of this container yet.
    const d = new ContainerDirectory({ sources: [new DockerSource(docker.socket, { timeoutMs: 300, pollMs: 200, log })], log });
    await d.start();
    const c = containerOfCgroup(path)!;
    docker.pause();
    try {
      const first = d.lookup(c);
      expect(first.state).toBe('pending');
      const t0 = Date.now();
      await (first as { ready: Promise<void> }).ready;
      expect(Date.now() - t0).toBeLessThan(1500); // the call's deadline, not the runtime's pace
      // Marked down: asked again only after a backoff, answered at once meanwhile.
      expect(d.lookup(c)).toEqual({ state: 'unknown', reason: 'no container runtime answers' });
      expect(d.stats()).toMatchObject({ failed: 1, runtimes: [expect.objectContaining({ up: false })] });
    } finally {
      docker.resume();
    }
    await waitFor('the container named once dockerd answers again', () => {
      const l = d.lookup(c);
      return l.state === 'known' ? l.info : null;
    }, 10_000);
    await d.stop();
  });

  it('starts without waiting on a runtime whose socket is absent, and names nothing through it', async () => {
    const d = new ContainerDirectory({ sources: [new DockerSource(join(runtimeRunDir, 'absent.sock'), { timeoutMs: 300, pollMs: 200, log })], log });
    const t0 = Date.now();
    await d.start();
    expect(Date.now() - t0).toBeLessThan(1000);
    expect(d.lookup({ id: 'f'.repeat(64), runtime: 'docker', podUid: null })).toEqual({ state: 'unknown', reason: 'no container runtime answers' });
    await d.stop();
  });
});
