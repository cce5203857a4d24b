// Cluster-wide profiles as WorkloadProfile custom resources. No Kubernetes
// API server can run here, so the API is a local fake
// (fake-api-server.ts) built from the documented custom-resource
// semantics: replace with a stale metadata.resourceVersion is refused
// with 409 Conflict, create of an existing name with 409 AlreadyExists,
// watches stream {type, object} lines. The client is the real
// @kubernetes/client-node.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CustomObjectsApi, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import type { WorkloadProfileDocument, WorkloadProfileSpec } from '../../../src/detect/profile/document.js';
import {
  ProfileStore,
  profileName,
  publishProfile,
  setProfileMode,
  type MergeSpecs,
  type ProfileStatus,
  type StoredObject,
  type StoreEvent,
  type WorkloadProfileStore,
} from '../../../src/cluster/profile-store.js';
import { silentLogger } from '../../../src/log.js';
import { FakeApiServer, TEST_TOKEN } from '../../support/kubernetes/fake-api-server.js';
import { PROFILES } from '../../support/kubernetes/objects.js';

function learned(exes: string[], egress: { to: string; port: number }[] = []): WorkloadProfileSpec {
  return {
    workload: { key: 'k8s:shop/Deployment/web', name: 'shop/web', kind: 'k8s', namespace: 'shop' },
    mode: 'learn',
    processes: exes.map((exe) => ({ exe })),
    files: { read: [], write: [] },
    network: { egress: egress.map((e) => ({ ...e, protocol: 'tcp' as const })), listen: [], ingress: [] },
  };
}

/** A stand-in for the profile stage's merge: the union of what each side saw. */
const union: MergeSpecs = (stored, mine) => {
  const by = <T>(xs: T[], key: (x: T) => string) => [...new Map(xs.map((x) => [key(x), x])).values()].sort((a, b) => key(a).localeCompare(key(b)));
  return {
    ...stored,
    processes: by([...stored.processes, ...mine.processes], (p) => p.exe),
    files: { read: [...new Set([...stored.files.read, ...mine.files.read])], write: [...new Set([...stored.files.write, ...mine.files.write])] },
    network: {
      egress: by([...stored.network.egress, ...mine.network.egress], (e) => `${e.to}:${e.port}/${e.protocol}`),
      listen: by([...stored.network.listen, ...mine.network.listen], (l) => `${l.port}/${l.protocol}`),
      ingress: by([...stored.network.ingress, ...mine.network.ingress], (i) => `${i.from}:${i.port}`),
    },
  };
};

describe('WorkloadProfile store (against a fake API server built from the documented shapes)', () => {
  let api: FakeApiServer;
  const stores: ProfileStore<unknown, unknown>[] = [];

  beforeEach(async () => {
    api = await FakeApiServer.start();
  });

  afterEach(async () => {
    for (const s of stores.splice(0)) await s.stop();
    await api.close();
  });

  function node(): WorkloadProfileStore {
    const s = new ProfileStore<WorkloadProfileSpec, ProfileStatus>(api.kubeConfig(), { log: silentLogger() });
    stores.push(s as ProfileStore<unknown, unknown>);
    return s;
  }

  it('creates the profile where the workload lives, named for the workload, with the node that learned it', async () => {
    const doc = await publishProfile(node(), learned(['/usr/bin/node']), union, 'node-a');
    expect(doc.metadata).toMatchObject({ name: 'deployment.web', namespace: 'shop' });
    const stored = api.get(PROFILES, 'shop', 'deployment.web')!;
    expect(stored).toMatchObject({ apiVersion: 'vigil.dev/v1alpha1', kind: 'WorkloadProfile' });
    expect(stored.spec.processes).toEqual([{ exe: '/usr/bin/node' }]);
    expect(stored.status.nodes).toEqual(['node-a']);
  });

  it('two nodes learning parts of one Deployment at the same time: no update is lost', async () => {
    const a = node();
    const b = node();
    const fromA = Array.from({ length: 12 }, (_, i) => `/app/a-${i}`);
    const fromB = Array.from({ length: 12 }, (_, i) => `/app/b-${i}`);
    // Every publish in flight at once: they read the same resourceVersion and race to replace.
    await Promise.all([
      ...fromA.map((exe) => publishProfile(a, learned([exe]), union, 'node-a')),
      ...fromB.map((exe) => publishProfile(b, learned([exe], [{ to: '10.0.0.0/24', port: 5432 }]), union, 'node-b')),
    ]);
    const stored = api.get(PROFILES, 'shop', 'deployment.web')!;
    expect(stored.spec.processes.map((p: { exe: string }) => p.exe).sort()).toEqual([...fromA, ...fromB].sort());
    expect(stored.spec.network.egress).toEqual([{ to: '10.0.0.0/24', port: 5432, protocol: 'tcp' }]);
    expect(stored.status.nodes).toEqual(['node-a', 'node-b']);
    // The race really happened, and was retried rather than overwritten.
    expect(api.conflicts).toBeGreaterThan(0);
    expect(a.conflicts + b.conflicts).toBeGreaterThanOrEqual(api.conflicts);
  });

  it('update() re-reads and re-applies on 409 until it wins: concurrent increments all count', async () => {
    const nodes = [0, 1, 2].map(() => {
      const s = new ProfileStore<{ count: number }>(api.kubeConfig(), { log: silentLogger() });
      stores.push(s as ProfileStore<unknown, unknown>);
      return s;
    });
    const inc = (current: StoredObject<{ count: number }> | null) => ({ spec: { count: (current?.spec.count ?? 0) + 1 } });
    await Promise.all(nodes.flatMap((s) => Array.from({ length: 10 }, () => s.update('shop', 'counter', inc))));
    expect(api.get(PROFILES, 'shop', 'counter')!.spec.count).toBe(30);
    expect(api.conflicts).toBeGreaterThan(0);
  });

  it('a mode set with kubectl reaches every node, and a node\'s learning does not undo it', async () => {
    const a = node();
    const b = node();
    await publishProfile(a, learned(['/usr/bin/node']), union, 'node-a');
    const seen: { type: StoreEvent; mode: string; ours: boolean }[] = [];
    await b.watch((type, obj, ours) => seen.push({ type, mode: obj.spec.mode, ours }));
    expect(seen).toEqual([{ type: 'added', mode: 'learn', ours: false }]);

    // What `kubectl patch workloadprofile deployment.web -n shop --type merge -p '{"spec":{"mode":"enforce"}}'` sends.
    const kubectl = api.kubeConfig().makeApiClient(CustomObjectsApi);
    await kubectl.patchNamespacedCustomObject(
      { group: 'vigil.dev', version: 'v1alpha1', plural: 'workloadprofiles', namespace: 'shop', name: 'deployment.web', body: { spec: { mode: 'enforce' } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    await waitFor(() => seen.some((s) => s.mode === 'enforce'));
    expect(seen.at(-1)).toEqual({ type: 'modified', mode: 'enforce', ours: false });

    // Node a keeps learning with its local mode 'learn': the cluster's mode stays.
    const doc = await publishProfile(a, learned(['/bin/sh']), union, 'node-a');
    expect(doc.spec.mode).toBe('enforce');
    expect(doc.spec.processes.map((p) => p.exe)).toEqual(['/bin/sh', '/usr/bin/node']);
  });

  it('tells a node its own writes apart in the watch', async () => {
    const a = node();
    const seen: { exes: number; ours: boolean }[] = [];
    await a.watch((_t, obj, ours) => seen.push({ exes: obj.spec.processes.length, ours }));
    await publishProfile(a, learned(['/usr/bin/node']), union, 'node-a');
    await publishProfile(node(), learned(['/bin/sh']), union, 'node-b');
    await waitFor(() => seen.length >= 2);
    expect(seen).toEqual([{ exes: 1, ours: true }, { exes: 2, ours: false }]);
  });

  it('setProfileMode changes the mode of an existing profile and leaves a missing one missing', async () => {
    const a = node();
    expect(await setProfileMode(a, 'k8s:shop/Deployment/web', 'monitor')).toBeNull();
    await publishProfile(a, learned(['/usr/bin/node']), union, 'node-a');
    const doc = await setProfileMode(a, 'k8s:shop/Deployment/web', 'monitor');
    expect(doc?.spec.mode).toBe('monitor');
    expect(api.get(PROFILES, 'shop', 'deployment.web')!.spec.mode).toBe('monitor');
  });

  it('does not write when nothing new was learned', async () => {
    const a = node();
    await publishProfile(a, learned(['/usr/bin/node']), union, 'node-a');
    const writes = () => api.requests.filter((r) => r.method === 'PUT' || r.method === 'POST').length;
    const before = writes();
    await publishProfile(a, learned(['/usr/bin/node']), union, 'node-a');
    expect(writes()).toBe(before);
  });

  it('refuses keys that are not Kubernetes workloads, and names API errors without the token', async () => {
    const host = { ...learned([]), workload: { key: 'cgroup:/system.slice/sshd.service', name: 'sshd', kind: 'cgroup' } };
    await expect(publishProfile(node(), host, union, 'node-a')).rejects.toThrow(/cgroup:\/system.slice\/sshd.service: not a Kubernetes workload key/);

    const kc = api.kubeConfig();
    kc.users[0] = { ...kc.users[0]!, token: 'a-wrong-token-that-must-not-leak' };
    const bad = new ProfileStore<WorkloadProfileSpec, ProfileStatus>(kc, { log: silentLogger() });
    const err = await publishProfile(bad, learned(['/x']), union, 'node-a').then(() => null, (e: Error) => e);
    expect(err?.message).toMatch(/workloadprofiles shop\/deployment\.web: 401/);
    expect(err?.message).not.toContain('a-wrong-token-that-must-not-leak');
    expect(err?.message).not.toContain(TEST_TOKEN);
  });

  it('names objects as DNS subdomains, hashing names that would be too long', () => {
    expect(profileName({ kind: 'Deployment', name: 'web' })).toBe('deployment.web');
    expect(profileName({ kind: 'CronJob', name: 'nightly-backup' })).toBe('cronjob.nightly-backup');
    const long = profileName({ kind: 'StatefulSet', name: 'x'.repeat(253) });
    expect(long.length).toBeLessThanOrEqual(253);
    expect(long).toMatch(/^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$/);
    expect(long).not.toBe(profileName({ kind: 'StatefulSet', name: `${'x'.repeat(252)}y` }));
  });

  it('documents read back from the cluster have the WorkloadProfile document shape', async () => {
    const doc: WorkloadProfileDocument = await publishProfile(node(), learned(['/usr/bin/node']), union, 'node-a');
    expect(doc).toMatchObject({ apiVersion: 'vigil.dev/v1alpha1', kind: 'WorkloadProfile', spec: { workload: { key: 'k8s:shop/Deployment/web' } } });
    expect(doc.metadata.resourceVersion).toMatch(/^\d+$/);
    expect(doc.status?.learningSince).toMatch(/^\d{4}-\d\d-\d\dT/);
  });
});

async function waitFor(pred: () => boolean): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
}
