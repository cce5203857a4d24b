// Which cgroups are the host and which are workloads, and how config names them.
import { describe, expect, it } from 'vitest';
import { findCgroup2Mount } from '../../src/enrich/cgroups.js';
import { isHostCgroup, LocalResolver } from '../../src/enrich/workloads.js';

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
