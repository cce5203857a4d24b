// Workload identity in a cluster: cgroup → container id → pod (the pod
// watch of this node) → owner workload. No Kubernetes API server can run
// here, so the API is a local fake (fake-api-server.ts) built from the
// documented list/watch/get shapes, serving objects shaped as the API
// documents them; the client is the real @kubernetes/client-node, and the
// cgroups are real directories walked by the engine's real CgroupPaths.
import { mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { alertFor } from '../../../src/model/alert.js';
import { CgroupPaths } from '../../../src/enrich/cgroups.js';
import { OwnerResolver, KubernetesOwnerApi } from '../../../src/enrich/k8s/owners.js';
import { PodWatcher } from '../../../src/enrich/k8s/pods.js';
import { KubernetesResolver } from '../../../src/enrich/k8s/resolver.js';
import { LocalResolver, WorkloadRegistry } from '../../../src/enrich/workloads.js';
import { emptyEvent } from '../../../src/model/event.js';
import { silentLogger } from '../../../src/log.js';
import { FakeApiServer } from '../../support/kubernetes/fake-api-server.js';
import { cgroupOf, containerId, job, JOBS, ownerRef, pod, PODS, REPLICASETS, replicaSet } from '../../support/kubernetes/objects.js';

const NODE = 'node-a';

/** Waits until `pred` holds (the watch is asynchronous), failing after 5 s. */
async function until(what: string, pred: () => boolean): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('Kubernetes workload identity (against a fake API server built from the documented shapes)', () => {
  let api: FakeApiServer;
  let cgroupRoot: string;
  let resolver: KubernetesResolver;
  let clock: number;
  const stops: (() => Promise<void>)[] = [];

  beforeEach(async () => {
    api = await FakeApiServer.start();
    cgroupRoot = mkdtempSync(join(tmpdir(), 'vigil-k8s-cgroup-'));
    clock = 1_000_000;
  });

  afterEach(async () => {
    for (const s of stops.splice(0)) await s();
    await api.close();
    rmSync(cgroupRoot, { recursive: true, force: true });
  });

  async function startResolver(opts: { pendingMs?: number } = {}): Promise<{ watcher: PodWatcher; owners: OwnerResolver }> {
    const kc = api.kubeConfig();
    const log = silentLogger();
    const watcher = new PodWatcher({ kubeConfig: kc, nodeName: NODE, log, retryMs: 20 });
    const owners = new OwnerResolver(new KubernetesOwnerApi(kc), log);
    resolver = new KubernetesResolver({ pods: watcher, owners, log, pendingMs: opts.pendingMs ?? 10_000, now: () => clock });
    await resolver.start();
    stops.push(() => resolver.stop());
    return { watcher, owners };
  }

  /** A real cgroup directory for a container; returns its id (the inode number, as the kernel reports it). */
  function makeCgroup(path: string): number {
    const dir = join(cgroupRoot, path);
    mkdirSync(dir, { recursive: true });
    return statSync(dir).ino;
  }

  function registry(): WorkloadRegistry {
    const cgroups = new CgroupPaths({ mount: cgroupRoot, sharedPidNamespace: () => false, rescanIntervalMs: 0 });
    return new WorkloadRegistry({ cgroups, resolvers: [resolver, new LocalResolver([])], defaultMode: 'learn' });
  }

  function eventIn(cgroupId: number) {
    const e = emptyEvent('exec');
    e.cgroupId = cgroupId;
    e.pid = 4242;
    e.nodeName = NODE;
    e.time = Date.now();
    return e;
  }

  function deployment(ns: string, name: string, hash: string) {
    const rsName = `${name}-${hash}`;
    const rs = replicaSet(ns, rsName, ownerRef('apps/v1', 'Deployment', name), hash);
    api.put(REPLICASETS, rs);
    return { owner: ownerRef('apps/v1', 'ReplicaSet', rsName), labels: { app: name, 'pod-template-hash': hash } };
  }

  it('names every replica of a Deployment by the Deployment, each with its own pod and container', async () => {
    const web = deployment('shop', 'web', '5d9c7b8f4');
    const [id1, id2, idSidecar] = [containerId(), containerId(), containerId()];
    const p1 = api.put(PODS, pod({ name: 'web-5d9c7b8f4-x2x7q', namespace: 'shop', node: NODE, owner: web.owner, labels: web.labels, containers: [{ name: 'app', id: id1 }, { name: 'envoy', id: idSidecar }] }));
    const p2 = api.put(PODS, pod({ name: 'web-5d9c7b8f4-k9zzp', namespace: 'shop', node: NODE, owner: web.owner, labels: web.labels, containers: [{ name: 'app', id: id2 }] }));
    await startResolver();

    const reg = registry();
    const w1 = reg.resolve(eventIn(makeCgroup(cgroupOf(p1.metadata.uid, id1))));
    const w2 = reg.resolve(eventIn(makeCgroup(cgroupOf(p2.metadata.uid, id2))));
    const ws = reg.resolve(eventIn(makeCgroup(cgroupOf(p1.metadata.uid, idSidecar))));

    expect(w1).toMatchObject({ key: 'k8s:shop/Deployment/web', name: 'shop/web', kind: 'k8s', namespace: 'shop', pod: 'web-5d9c7b8f4-x2x7q', container: 'app' });
    expect(w2).toMatchObject({ key: 'k8s:shop/Deployment/web', pod: 'web-5d9c7b8f4-k9zzp', container: 'app' });
    expect(ws).toMatchObject({ key: 'k8s:shop/Deployment/web', pod: 'web-5d9c7b8f4-x2x7q', container: 'envoy' });
    expect(w1.labels).toEqual({ app: 'web', 'pod-template-hash': '5d9c7b8f4' });
    // One workload, one profile, one mode for all replicas.
    expect(reg.all().filter((w) => w.key === 'k8s:shop/Deployment/web')).toHaveLength(1);
    w1.mode = 'enforce';
    expect(w2.mode).toBe('enforce');
  });

  it('an alert carries the namespace, pod, container, labels and node it happened on', async () => {
    const web = deployment('shop', 'web', '7f6d8c9b5');
    const id = containerId();
    const p = api.put(PODS, pod({ name: 'web-7f6d8c9b5-abcde', namespace: 'shop', node: NODE, owner: web.owner, labels: { ...web.labels, tier: 'frontend' }, containers: [{ name: 'app', id }] }));
    await startResolver();
    const e = eventIn(makeCgroup(cgroupOf(p.metadata.uid, id)));
    e.workload = registry().resolve(e);
    const alert = alertFor(e, null, { source: 'rule', rule: 'Terminal shell in container', priority: 'warning', message: 'shell' });
    expect(alert.node).toBe(NODE);
    expect(alert.workload).toMatchObject({ namespace: 'shop', pod: 'web-7f6d8c9b5-abcde', container: 'app', name: 'shop/web', key: 'k8s:shop/Deployment/web' });
    expect(alert.workload.labels).toEqual({ app: 'web', 'pod-template-hash': '7f6d8c9b5', tier: 'frontend' });
  });

  it('follows Job → CronJob; StatefulSet, DaemonSet and bare pods are their own workloads', async () => {
    api.put(JOBS, job('ops', 'backup-28391234', ownerRef('batch/v1', 'CronJob', 'backup')));
    const ids = [containerId(), containerId(), containerId(), containerId()];
    const pj = api.put(PODS, pod({ name: 'backup-28391234-q8w4r', namespace: 'ops', node: NODE, owner: ownerRef('batch/v1', 'Job', 'backup-28391234'), containers: [{ name: 'backup', id: ids[0] }] }));
    const ps = api.put(PODS, pod({ name: 'db-0', namespace: 'shop', node: NODE, owner: ownerRef('apps/v1', 'StatefulSet', 'db'), containers: [{ name: 'postgres', id: ids[1] }] }));
    const pd = api.put(PODS, pod({ name: 'fluentd-7xk2p', namespace: 'logging', node: NODE, owner: ownerRef('apps/v1', 'DaemonSet', 'fluentd'), containers: [{ name: 'fluentd', id: ids[2] }] }));
    const pb = api.put(PODS, pod({ name: 'debug', namespace: 'default', node: NODE, containers: [{ name: 'shell', id: ids[3] }] }));
    await startResolver();
    expect(resolver.identify(cgroupOf(pj.metadata.uid, ids[0]!))?.key).toBe('k8s:ops/CronJob/backup');
    expect(resolver.identify(cgroupOf(ps.metadata.uid, ids[1]!))?.key).toBe('k8s:shop/StatefulSet/db');
    expect(resolver.identify(cgroupOf(pd.metadata.uid, ids[2]!))?.key).toBe('k8s:logging/DaemonSet/fluentd');
    expect(resolver.identify(cgroupOf(pb.metadata.uid, ids[3]!))).toMatchObject({ key: 'k8s:default/Pod/debug', pod: 'debug', container: 'shell' });
  });

  it('watches only this node\'s pods', async () => {
    const here = containerId();
    const there = containerId();
    const ph = api.put(PODS, pod({ name: 'a', namespace: 'shop', node: NODE, containers: [{ name: 'c', id: here }] }));
    const pt = api.put(PODS, pod({ name: 'b', namespace: 'shop', node: 'node-b', containers: [{ name: 'c', id: there }] }));
    await startResolver();
    expect(resolver.identify(cgroupOf(ph.metadata.uid, here))?.kind).toBe('k8s');
    expect(resolver.identify(cgroupOf(pt.metadata.uid, there))).toMatchObject({ kind: 'cgroup', provisional: true });
    expect(api.requests.some((r) => r.url.startsWith('/api/v1/pods?') && r.url.includes('fieldSelector=spec.nodeName%3Dnode-a'))).toBe(true);
  });

  it('a container that starts before its pod reaches the watch is named once the watch catches up', async () => {
    await startResolver();
    const reg = registry();
    const web = deployment('shop', 'web', '6b8d9f7c5');
    const id = containerId();
    const uid = '3f1c2b4a-9d8e-4f7a-b6c5-1a2b3c4d5e6f';
    const cg = makeCgroup(cgroupOf(uid, id));

    // The first events: the pod is not in this node's watch yet.
    const early = reg.resolve(eventIn(cg));
    expect(early.kind).toBe('cgroup');

    api.put(PODS, pod({ uid, name: 'web-6b8d9f7c5-zz9hq', namespace: 'shop', node: NODE, owner: web.owner, labels: web.labels, containers: [{ name: 'app', id }] }));
    await until('the pod to be resolved', () => reg.resolve(eventIn(cg)).kind === 'k8s');
    expect(reg.resolve(eventIn(cg))).toMatchObject({ key: 'k8s:shop/Deployment/web', pod: 'web-6b8d9f7c5-zz9hq', container: 'app' });
  });

  it('a container not yet in its pod\'s status gets its name when the kubelet reports it', async () => {
    const web = deployment('shop', 'web', '8c7b6a5d4');
    const id = containerId();
    const p = api.put(PODS, pod({ name: 'web-8c7b6a5d4-n7m6l', namespace: 'shop', node: NODE, owner: web.owner, containers: [{ name: 'app' }] }));
    await startResolver();
    const reg = registry();
    const cg = makeCgroup(cgroupOf(p.metadata.uid, id));
    expect(reg.resolve(eventIn(cg))).toMatchObject({ key: 'k8s:shop/Deployment/web', container: '' });

    // The kubelet's status update with the started container's id.
    api.put(PODS, pod({ uid: p.metadata.uid, name: p.metadata.name, namespace: 'shop', node: NODE, owner: web.owner, containers: [{ name: 'app', id }] }));
    await until('the container name', () => reg.resolve(eventIn(cg)).container === 'app');
  });

  it('gives up on a cgroup whose pod never shows and names it by its path, counted', async () => {
    await startResolver({ pendingMs: 1000 });
    const reg = registry();
    const uid = '0a0b0c0d-1111-2222-3333-444455556666';
    const path = cgroupOf(uid, containerId());
    const cg = makeCgroup(path);
    expect(reg.resolve(eventIn(cg))).toMatchObject({ kind: 'cgroup' });
    clock += 1500;
    expect(reg.resolve(eventIn(cg))).toMatchObject({ key: `cgroup:${path}`, kind: 'cgroup' });
    expect(resolver.unresolved).toBe(1);
    // Cached now: a pod appearing later does not rename it.
    api.put(PODS, pod({ uid, name: 'late', namespace: 'shop', node: NODE, containers: [{ name: 'c' }] }));
    await resolver.settled();
    expect(reg.resolve(eventIn(cg)).kind).toBe('cgroup');
  });

  it('keeps watching after the API server ends the watch, and re-lists after 410 Gone', async () => {
    const { watcher } = await startResolver();
    await until('the watch to open', () => api.openWatches === 1);

    api.dropWatches();
    const id1 = containerId();
    const p1 = api.put(PODS, pod({ name: 'after-drop', namespace: 'shop', node: NODE, containers: [{ name: 'c', id: id1 }] }));
    await until('the pod after a dropped watch', () => watcher.pod(p1.metadata.uid) !== undefined);

    // History compacted while the watch is away: the re-watch gets 410 and the informer lists again.
    api.dropWatches();
    const id2 = containerId();
    const p2 = api.put(PODS, pod({ name: 'after-compaction', namespace: 'shop', node: NODE, containers: [{ name: 'c', id: id2 }] }));
    api.compact();
    await until('the pod after 410 Gone', () => watcher.pod(p2.metadata.uid) !== undefined);
    await resolver.settled();
    expect(resolver.identify(cgroupOf(p2.metadata.uid, id2))).toMatchObject({ key: 'k8s:shop/Pod/after-compaction', container: 'c' });
  });

  it('keeps trying when the API refuses the first lists (RBAC not applied yet, a server error)', async () => {
    const id = containerId();
    const p = api.put(PODS, pod({ name: 'early', namespace: 'shop', node: NODE, containers: [{ name: 'c', id }] }));
    api.refuse('GET', '/api/v1/pods', 403, 1);
    api.refuse('GET', '/api/v1/pods', 500, 1);
    const { watcher } = await startResolver();
    await until('the pod once the API allows it', () => watcher.pod(p.metadata.uid) !== undefined);
    expect(watcher.errors).toBe(2);
    await resolver.settled();
    expect(resolver.identify(cgroupOf(p.metadata.uid, id))).toMatchObject({ key: 'k8s:shop/Pod/early', container: 'c' });
  });

  it('names a Deployment from pod-template-hash when its ReplicaSet cannot be read', async () => {
    const id = containerId();
    // The ReplicaSet is gone (404) — e.g. a rollout deleted it.
    const p = api.put(PODS, pod({ name: 'api-59b8d7c6f-8kq2w', namespace: 'shop', node: NODE, owner: ownerRef('apps/v1', 'ReplicaSet', 'api-59b8d7c6f'), labels: { 'pod-template-hash': '59b8d7c6f' }, containers: [{ name: 'api', id }] }));
    const { owners } = await startResolver();
    expect(resolver.identify(cgroupOf(p.metadata.uid, id))?.key).toBe('k8s:shop/Deployment/api');
    expect(owners.fallbacks).toBe(1);
  });

  it('reads each ReplicaSet once for all its pods', async () => {
    const web = deployment('shop', 'web', '4c5d6e7f8');
    for (let i = 0; i < 5; i++) api.put(PODS, pod({ name: `web-4c5d6e7f8-${i}`, namespace: 'shop', node: NODE, owner: web.owner, containers: [{ name: 'app', id: containerId() }] }));
    await startResolver();
    expect(api.requests.filter((r) => r.url.startsWith('/apis/apps/v1/namespaces/shop/replicasets/')).length).toBe(1);
  });

  it('forgets a deleted pod after the grace period', async () => {
    const id = containerId();
    const p = api.put(PODS, pod({ name: 'gone', namespace: 'shop', node: NODE, containers: [{ name: 'c', id }] }));
    const { watcher } = await startResolver();
    const path = cgroupOf(p.metadata.uid, id);
    expect(resolver.identify(path)?.kind).toBe('k8s');
    api.remove(PODS, 'shop', 'gone');
    await until('the deletion to reach the watch', () => watcher.pod(p.metadata.uid) === undefined);
    // Still known right after deletion: events of its last processes are in flight.
    expect(resolver.identify(path)?.kind).toBe('k8s');
    clock += 120_000;
    api.put(PODS, pod({ name: 'other', namespace: 'shop', node: NODE, containers: [{ name: 'c', id: containerId() }] }));
    await until('the pod to be forgotten', () => resolver.identify(path)?.kind === 'cgroup');
  });
});
