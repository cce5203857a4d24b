// Which cgroups are the host and which are workloads, and how config names them.
import { describe, expect, it } from 'vitest';
import { CgroupPaths, findCgroup2Mount } from '../../src/enrich/cgroups.js';
import { isHostCgroup, LocalResolver, WorkloadRegistry, type WorkloadResolver } from '../../src/enrich/workloads.js';
import { emptyEvent } from '../../src/model/event.js';
import { FakeCgroupMount } from '../support/cgroup.js';

describe('workload identity off-cluster', () => {
  const resolver = new LocalResolver([
    { name: 'shop', cgroup: '/shop' },
    { name: 'web', cgroup: '/shop/web/' },
  ]);

  it('names a cgroup by the longest configured prefix, on path-component boundaries', () => {
    expect(resolver.identify('/shop/web/replica-2')).toMatchObject({ name: 'web', key: 'named:web' });
    expect(resolver.identify('/shop/db')).toMatchObject({ name: 'shop' });
    expect(resolver.identify('/shopping')).toMatchObject({ name: '/shopping', kind: 'cgroup' });
  });

  it('tells the host from containers', () => {
    expect(isHostCgroup('/')).toBe(true);
    expect(isHostCgroup('/system.slice/ssh.service')).toBe(true);
    expect(isHostCgroup('/user.slice/user-1000.slice/session-3.scope')).toBe(true);
    const id = 'a'.repeat(64);
    expect(isHostCgroup(`/system.slice/docker-${id}.scope`)).toBe(false);
    expect(isHostCgroup(`/kubepods.slice/kubepods-burstable.slice/cri-containerd-${id}.scope`)).toBe(false);
    expect(isHostCgroup('/vigil-test-1234/web')).toBe(false);
  });

  it('finds the cgroup v2 mount in mountinfo wherever it is (hybrid hosts too)', () => {
    const hybrid = [
      '30 24 0:26 / /sys/fs/cgroup ro,nosuid - tmpfs tmpfs ro,mode=755',
      '31 30 0:27 / /sys/fs/cgroup/unified rw,nosuid - cgroup2 cgroup2 rw',
      '32 30 0:28 / /sys/fs/cgroup/cpu rw - cgroup cgroup rw,cpu',
    ].join('\n');
    expect(findCgroup2Mount(hybrid)).toBe('/sys/fs/cgroup/unified');
    expect(findCgroup2Mount('25 1 0:22 / /sys/fs/cgroup rw,nosuid shared:9 - cgroup2 cgroup2 rw,nsdelegate')).toBe('/sys/fs/cgroup');
    expect(findCgroup2Mount('30 24 0:26 / /sys/fs/cgroup/cpu rw - cgroup cgroup rw,cpu')).toBeNull();
  });
});

describe('default modes', () => {
  it('come from the namespace, unless the workload has its own', () => {
    const cgroups = new FakeCgroupMount(['pay', 'shop', 'own']);
    const mount = cgroups.dir;
    try {
      // Stands in for the Kubernetes resolver: a namespace per cgroup directory.
      const byDir: WorkloadResolver = {
        identify: (path) => ({ key: `k8s:${path}`, name: path, kind: 'k8s', namespace: path.slice(1), ...(path === '/own' ? { mode: 'enforce' as const } : {}) }),
      };
      const registry = new WorkloadRegistry({
        cgroups: new CgroupPaths({ mount, sharedPidNamespace: () => false }),
        resolvers: [byDir],
        defaultMode: 'learn',
        namespaceModes: new Map([['pay', 'monitor'], ['own', 'monitor']]),
      });
      const mode = (dir: string): string => {
        const e = emptyEvent('exec');
        e.cgroupId = cgroups.id(dir);
        e.pid = 1;
        return registry.resolve(e).mode;
      };
      expect(mode('pay')).toBe('monitor');
      expect(mode('shop')).toBe('learn');
      expect(mode('own')).toBe('enforce');
    } finally {
      cgroups.remove();
    }
  });
});

describe('pods and containers as response targets', () => {
  it('finds one pod or one container of a workload, with only its cgroups, and forgets a removed container\'s', () => {
    const cgroups = new FakeCgroupMount(['a', 'b']);
    const mount = cgroups.dir;
    try {
      const ids: Record<string, string> = { a: 'a'.repeat(64), b: 'b'.repeat(64) };
      // Stands in for the container resolver: two replicas of one Deployment, a container each.
      const replicas: WorkloadResolver = {
        identify: (path) => {
          const r = path.slice(1);
          return { key: 'k8s:shop/Deployment/web', name: 'shop/web', kind: 'k8s', namespace: 'shop', pod: `web-7d4b9c8f6-${r}xxxx`, container: 'app', labels: {}, containerId: ids[r] };
        },
      };
      const registry = new WorkloadRegistry({ cgroups: new CgroupPaths({ mount, sharedPidNamespace: () => false }), resolvers: [replicas], defaultMode: 'learn' });
      const cg = (d: string): number => cgroups.id(d);
      for (const d of ['a', 'b']) {
        const e = emptyEvent('exec');
        e.cgroupId = cg(d);
        e.pid = 1;
        registry.resolve(e);
      }
      expect(registry.cgroupsOf('k8s:shop/Deployment/web').map((c) => c.id).sort()).toEqual([cg('a'), cg('b')].sort());
      const pod = registry.findTarget('shop/web-7d4b9c8f6-axxxx')!;
      expect(pod).toMatchObject({ key: 'pod:shop/web-7d4b9c8f6-axxxx', name: 'shop/web-7d4b9c8f6-axxxx', pod: 'web-7d4b9c8f6-axxxx' });
      expect(registry.cgroupsOf(pod.key)).toEqual([{ id: cg('a'), path: '/a' }]);
      expect(registry.findTarget('web-7d4b9c8f6-bxxxx')!.key).toBe('pod:shop/web-7d4b9c8f6-bxxxx');
      expect(registry.findTarget('bbbbbbbbbbbb')!.key).toBe(`container:${ids.b}`);
      expect(registry.findTarget('shop/web')!.key).toBe('k8s:shop/Deployment/web');
      // "app" names both replicas' containers: not one target.
      expect(registry.findTarget('app')).toBeUndefined();
      // The engine's per-event lookup (a front cache before the Map) answers, and forgets with the cgroup.
      expect(registry.cached(cg('b'))?.pod).toBe('web-7d4b9c8f6-bxxxx');
      expect(registry.cached(cg('b'))?.pod).toBe('web-7d4b9c8f6-bxxxx');
      registry.forget(cg('b'));
      expect(registry.cached(cg('b'))).toBeUndefined();
      expect(registry.cached(cg('a'))?.pod).toBe('web-7d4b9c8f6-axxxx');
      expect(registry.findTarget('bbbbbbbbbbbb')).toBeUndefined();
      expect(registry.cgroupsOf('k8s:shop/Deployment/web')).toEqual([{ id: cg('a'), path: '/a' }]);
    } finally {
      cgroups.remove();
    }
  });
});
