// The engine's Kubernetes wiring: a kubeconfig file, the resolver in the
// workload registry, and modes set with kubectl reaching this node's
// workloads. No Kubernetes API server can run here, so the API is a local
// fake (fake-api-server.ts) built from the documented shapes; the client,
// the registry and the cgroup directories are real.
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CustomObjectsApi, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../../../src/config/load.js';
import { CgroupPaths } from '../../../src/enrich/cgroups.js';
import { clusterNodeName, KubernetesCluster, loadKubeConfig } from '../../../src/cluster/kubernetes.js';
import { LocalResolver, WorkloadRegistry } from '../../../src/enrich/workloads.js';
import { emptyEvent } from '../../../src/model/event.js';
import { silentLogger } from '../../../src/log.js';
import { FakeApiServer, TEST_TOKEN } from '../../support/kubernetes/fake-api-server.js';
import { cgroupOf, containerId, ownerRef, pod, PODS, PROFILES } from '../../support/kubernetes/objects.js';

const NODE = 'node-a';

async function until(what: string, pred: () => boolean): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

function profileObject(mode: string) {
  return {
    apiVersion: 'vigil.dev/v1alpha1',
    kind: 'WorkloadProfile',
    metadata: { name: 'statefulset.db', namespace: 'shop' },
    spec: {
      workload: { key: 'k8s:shop/StatefulSet/db', name: 'shop/db', kind: 'k8s', namespace: 'shop' },
      mode,
      processes: [{ exe: '/usr/lib/postgresql/16/bin/postgres' }],
      files: { read: [], write: [] },
      network: { egress: [], listen: [{ port: 5432, protocol: 'tcp' }], ingress: [] },
    },
    status: { nodes: ['node-b'] },
  };
}

describe('Kubernetes wiring (against a fake API server built from the documented shapes)', () => {
  let api: FakeApiServer;
  let dir: string;
  let cluster: KubernetesCluster | null = null;

  beforeEach(async () => {
    api = await FakeApiServer.start();
    dir = mkdtempSync(join(tmpdir(), 'vigil-k8s-cluster-'));
  });

  afterEach(async () => {
    await cluster?.stop();
    cluster = null;
    await api.close();
    rmSync(dir, { recursive: true, force: true });
  });

  function kubeconfigFile(): string {
    const file = join(dir, 'kubeconfig');
    writeFileSync(
      file,
      [
        'apiVersion: v1',
        'kind: Config',
        'clusters:',
        `- name: fake\n  cluster:\n    server: ${api.url}\n    insecure-skip-tls-verify: true`,
        'users:',
        `- name: vigil\n  user:\n    token: ${TEST_TOKEN}`,
        'contexts:',
        '- name: fake\n  context:\n    cluster: fake\n    user: vigil',
        'current-context: fake',
        '',
      ].join('\n'),
    );
    return file;
  }

  function setUp(mount: string) {
    const config = parseConfig({ kubernetes: { enabled: true, nodeName: NODE, kubeconfig: kubeconfigFile() } });
    cluster = new KubernetesCluster(config, silentLogger());
    const registry = new WorkloadRegistry({
      cgroups: new CgroupPaths({ mount, sharedPidNamespace: () => false, rescanIntervalMs: 0 }),
      resolvers: [cluster.resolver, new LocalResolver([])],
      defaultMode: config.defaultMode,
    });
    return { registry, cluster };
  }

  function cgroupEvent(mount: string, path: string) {
    mkdirSync(join(mount, path), { recursive: true });
    const e = emptyEvent('exec');
    e.cgroupId = statSync(join(mount, path)).ino;
    e.pid = 1;
    return e;
  }

  it('a workload first seen on this node starts in the mode the cluster\'s profile has', async () => {
    api.put(PROFILES, profileObject('enforce'));
    const id = containerId();
    const p = api.put(PODS, pod({ name: 'db-0', namespace: 'shop', node: NODE, owner: ownerRef('apps/v1', 'StatefulSet', 'db'), containers: [{ name: 'postgres', id }] }));
    const mount = join(dir, 'cgroup');
    const { registry, cluster } = setUp(mount);
    await cluster.start(registry);
    const w = registry.resolve(cgroupEvent(mount, cgroupOf(p.metadata.uid, id)));
    expect(w).toMatchObject({ key: 'k8s:shop/StatefulSet/db', mode: 'enforce', pod: 'db-0', container: 'postgres' });
  });

  it('a mode set with kubectl reaches this node\'s workload', async () => {
    api.put(PROFILES, profileObject('learn'));
    const id = containerId();
    const p = api.put(PODS, pod({ name: 'db-0', namespace: 'shop', node: NODE, owner: ownerRef('apps/v1', 'StatefulSet', 'db'), containers: [{ name: 'postgres', id }] }));
    const mount = join(dir, 'cgroup');
    const { registry, cluster } = setUp(mount);
    await cluster.start(registry);
    const w = registry.resolve(cgroupEvent(mount, cgroupOf(p.metadata.uid, id)));
    expect(w.mode).toBe('learn');
    const changes: string[] = [];
    registry.onModeChange((wl, from, to) => changes.push(`${wl.key}: ${from} → ${to}`));

    // kubectl -n shop patch workloadprofile statefulset.db --type merge -p '{"spec":{"mode":"monitor"}}'
    await api
      .kubeConfig()
      .makeApiClient(CustomObjectsApi)
      .patchNamespacedCustomObject(
        { group: 'vigil.dev', version: 'v1alpha1', plural: 'workloadprofiles', namespace: 'shop', name: 'statefulset.db', body: { spec: { mode: 'monitor' } } },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
      );
    await until('the mode change', () => w.mode === 'monitor');
    expect(changes).toEqual(['k8s:shop/StatefulSet/db: learn → monitor']);
    expect(cluster.storedProfile('k8s:shop/StatefulSet/db')?.spec.mode).toBe('monitor');
  });

  it('does not keep the engine from starting when the API server does not answer', async () => {
    const config = parseConfig({ kubernetes: { enabled: true, nodeName: NODE, kubeconfig: kubeconfigFile() } });
    // A server on loopback that accepts connections and never answers.
    const sockets: Socket[] = [];
    const silent = createServer((s) => sockets.push(s));
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const kc = loadKubeConfig(config.kubernetes.kubeconfig);
    kc.clusters[0] = { ...kc.clusters[0]!, server: `http://127.0.0.1:${(silent.address() as AddressInfo).port}` };
    cluster = new KubernetesCluster(config, silentLogger(), kc);
    const registry = new WorkloadRegistry({ cgroups: new CgroupPaths({ mount: null, sharedPidNamespace: () => false }), resolvers: [cluster.resolver], defaultMode: 'learn' });
    await cluster.start(registry, 200);
    // Started, with nothing known: workloads are named by cgroup meanwhile.
    expect(cluster.resolver.identify(cgroupOf('0a0b0c0d-1111-2222-3333-444455556666', containerId()))).toMatchObject({ kind: 'cgroup', provisional: true });
    for (const s of sockets) s.destroy();
    await new Promise((r) => silent.close(r));
  });

  it('says what is missing when not in a pod and no kubeconfig is given', () => {
    const saved = process.env.KUBERNETES_SERVICE_HOST;
    delete process.env.KUBERNETES_SERVICE_HOST;
    try {
      expect(() => loadKubeConfig(null)).toThrow(/kubernetes.enabled: not in a pod .*set kubernetes.kubeconfig/);
      expect(() => loadKubeConfig(join(dir, 'nope'))).toThrow(/kubernetes.kubeconfig: .*nope does not exist/);
    } finally {
      if (saved !== undefined) process.env.KUBERNETES_SERVICE_HOST = saved;
    }
  });

  it('takes the node name from kubernetes.nodeName, then $NODE_NAME, then nodeName', () => {
    const saved = process.env.NODE_NAME;
    try {
      process.env.NODE_NAME = 'from-env';
      expect(clusterNodeName(parseConfig({ kubernetes: { nodeName: 'explicit' } }))).toBe('explicit');
      expect(clusterNodeName(parseConfig({ nodeName: 'cfg' }))).toBe('from-env');
      expect(parseConfig({}).nodeName).toBe('from-env');
      delete process.env.NODE_NAME;
      expect(clusterNodeName(parseConfig({ nodeName: 'cfg' }))).toBe('cfg');
    } finally {
      if (saved === undefined) delete process.env.NODE_NAME;
      else process.env.NODE_NAME = saved;
    }
  });
});
