// Cluster-wide profiles through the engine: two nodes run replicas of one
// Deployment, each learns a part, both parts end up in one WorkloadProfile,
// a node seeing the workload later starts from it, a mode set on one node
// reaches the other (and its kernel), and a quarantine labels the pod.
// No Kubernetes API server can run here: the API is the local fake built
// from the documented shapes (fake-api-server.ts); engines, gRPC, the
// client library and the cgroup directories are real.
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Alert } from '../../../src/model/alert.js';
import { parseConfig } from '../../../src/config/load.js';
import { KubernetesCluster } from '../../../src/cluster/kubernetes.js';
import { silentLogger } from '../../../src/log.js';
import { TestEngine } from '../../support/engine.js';
import { waitFor } from '../../support/kernel.js';
import { SyntheticProbe } from '../../support/synthetic-probe.js';
import { FakeApiServer, TEST_TOKEN } from '../../support/kubernetes/fake-api-server.js';
import { cgroupOf, containerId, ownerRef, pod, PODS, PROFILES, REPLICASETS, replicaSet } from '../../support/kubernetes/objects.js';

interface Node {
  name: string;
  t: TestEngine;
  cluster: KubernetesCluster;
  probe: SyntheticProbe;
  cgroupId: number;
  alerts: Alert[];
}

describe('cluster-wide profiles through the engine (fake API server from the documented shapes)', () => {
  let api: FakeApiServer;
  let dir: string;
  const nodes: Node[] = [];

  beforeEach(async () => {
    api = await FakeApiServer.start();
    dir = mkdtempSync(join(tmpdir(), 'vigil-k8s-sync-'));
  });
  afterEach(async () => {
    for (const n of nodes.splice(0)) {
      await n.probe.close();
      await n.t.stop();
      await n.cluster.stop();
    }
    await api.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const kubeconfig = (): string => {
    const file = join(dir, 'kubeconfig');
    writeFileSync(file, [
      'apiVersion: v1', 'kind: Config',
      'clusters:', `- name: fake\n  cluster:\n    server: ${api.url}\n    insecure-skip-tls-verify: true`,
      'users:', `- name: vigil\n  user:\n    token: ${TEST_TOKEN}`,
      'contexts:', '- name: fake\n  context:\n    cluster: fake\n    user: vigil',
      'current-context: fake', '',
    ].join('\n'));
    return file;
  };

  const deployment = ownerRef('apps/v1', 'Deployment', 'web');
  const rs = ownerRef('apps/v1', 'ReplicaSet', 'web-6d4cf56db6');

  /** A node running one replica of the Deployment, with its engine and (synthetic) probe. */
  async function node(name: string, podName: string): Promise<Node> {
    const id = containerId();
    const p = api.put(PODS, pod({ name: podName, namespace: 'shop', node: name, owner: rs, containers: [{ name: 'web', id }] }));
    const mount = join(dir, name);
    const path = cgroupOf(p.metadata.uid, id);
    mkdirSync(join(mount, path), { recursive: true });
    const overrides = {
      nodeName: name, sinks: [],
      kubernetes: { enabled: true, nodeName: name, kubeconfig: kubeconfig(), profileSync: true, quarantineLabel: true },
    };
    const cluster = new KubernetesCluster(parseConfig(overrides), silentLogger());
    const t = await TestEngine.start(overrides, { cgroupMount: mount, resolvers: [cluster.resolver], cluster: cluster.hooks() });
    await cluster.start(t.engine.workloads);
    const probe = SyntheticProbe.connect(`unix://${t.dir}/engine.sock`, { nodeName: name, capabilities: ['exec-kill', 'connect-refuse', 'write-kill', 'quarantine', 'capture', 'kill'] });
    probe.answer = () => ({ ok: true, error: '', detail: 'done' });
    const n: Node = { name, t, cluster, probe, cgroupId: statSync(join(mount, path)).ino, alerts: [] };
    t.engine.onAlert((a) => n.alerts.push(a));
    nodes.push(n);
    return n;
  }

  const exec = (n: Node, pid: number, exe: string) => n.probe.sendBatch([{ pid, cgroupId: n.cgroupId, exec: { filename: exe, exe, argv: [exe], cwd: '/' } }]);
  const KEY = 'k8s:shop/Deployment/web';

  it('merges what each node learned into one profile, seeds a node from it, and follows a mode set anywhere', async () => {
    api.put(REPLICASETS, replicaSet('shop', 'web-6d4cf56db6', deployment, '6d4cf56db6'));
    const a = await node('node-a', 'web-6d4cf56db6-aaaaa');
    exec(a, 10, '/usr/bin/web-server');
    await waitFor('node A learned', () => a.t.events.length === 1);
    expect(a.t.events[0]!.workload).toMatchObject({ key: KEY, pod: 'web-6d4cf56db6-aaaaa' });
    await a.t.engine.profiles.publishPending();
    const shared = () => api.get(PROFILES, 'shop', 'deployment.web') as { spec: { mode: string; processes: { exe: string }[] }; status: { nodes: string[] } } | undefined;
    expect(shared()?.spec.processes.map((p) => p.exe)).toEqual(['/usr/bin/web-server']);
    expect(shared()?.status.nodes).toEqual(['node-a']);

    // Node B sees the workload for the first time: it starts from the cluster's profile.
    const b = await node('node-b', 'web-6d4cf56db6-bbbbb');
    await waitFor('node B sees the shared profile', () => b.cluster.storedProfile(KEY));
    exec(b, 20, '/usr/bin/web-server'); // learned on node A: nothing new here
    exec(b, 21, '/usr/bin/helper');
    await waitFor('node B learned', () => b.t.events.length === 2);
    await b.t.engine.profiles.publishPending();
    await waitFor('both parts merged', () => shared()?.spec.processes.length === 2);
    expect(shared()!.spec.processes.map((p) => p.exe)).toEqual(['/usr/bin/helper', '/usr/bin/web-server']);
    expect(shared()!.status.nodes).toEqual(['node-a', 'node-b']);

    // A mode set on node A reaches the cluster and node B; B then enforces in its kernel.
    const wa = a.t.engine.workloads.find(KEY)!;
    expect((await a.t.engine.profiles.changeMode(wa, 'enforce')).ok).toBe(true);
    await waitFor('the cluster profile in enforce mode', () => shared()?.spec.mode === 'enforce');
    const wb = b.t.engine.workloads.find(KEY)!;
    await waitFor('node B follows', () => wb.mode === 'enforce');
    await waitFor('node B put the policy in its kernel', () => b.probe.commands.some((c) => c.setPolicy?.exec && c.setPolicy.execAllow.includes('/usr/bin/web-server')));
  });

  it('labels the pod when a replica is quarantined, and removes the label on release', async () => {
    api.put(REPLICASETS, replicaSet('shop', 'web-6d4cf56db6', deployment, '6d4cf56db6'));
    const a = await node('node-a', 'web-6d4cf56db6-aaaaa');
    exec(a, 10, '/usr/bin/web-server');
    await waitFor('seen', () => a.t.events.length === 1);
    const instance = a.t.events[0]!.workload!;
    const q = await a.t.engine.quarantines.quarantine(instance, 'test');
    expect(q.ok).toBe(true);
    expect(q.detail).toMatch(/pod shop\/web-6d4cf56db6-aaaaa labelled for the deny-all NetworkPolicy/);
    const labels = () => (api.get(PODS, 'shop', 'web-6d4cf56db6-aaaaa') as { metadata: { labels: Record<string, string> } }).metadata.labels;
    expect(labels()['vigil.dev/quarantine']).toBe('true');
    const r = await a.t.engine.quarantines.release(KEY);
    expect(r.ok).toBe(true);
    expect(labels()['vigil.dev/quarantine']).toBeUndefined();
  });
});
