// Which cgroups are the host and which are workloads, and how config names them.
import { mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CgroupPaths, findCgroup2Mount } from '../../src/enrich/cgroups.js';
import { isHostCgroup, LocalResolver, WorkloadRegistry, type WorkloadResolver } from '../../src/enrich/workloads.js';
import { emptyEvent } from '../../src/model/event.js';

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
    const mount = mkdtempSync(join(tmpdir(), 'vigil-cgroupfs-'));
    try {
      for (const d of ['pay', 'shop', 'own']) mkdirSync(join(mount, d));
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
        e.cgroupId = statSync(join(mount, dir)).ino;
        e.pid = 1;
        return registry.resolve(e).mode;
      };
      expect(mode('pay')).toBe('monitor');
      expect(mode('shop')).toBe('learn');
      expect(mode('own')).toBe('enforce');
    } finally {
      rmSync(mount, { recursive: true, force: true });
    }
  });
});
