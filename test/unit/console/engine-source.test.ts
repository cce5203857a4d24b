// What the console shows of a container comes from its runtime's description
// (enrich/runtime/), through the engine's workload registry: privileged and
// image where a runtime described the container, unknown where none did.
import { describe, expect, it } from 'vitest';
import { consoleSource, type ConsoleParts } from '../../../src/console/engine-source.js';
import { CgroupPaths } from '../../../src/enrich/cgroups.js';
import { WorkloadRegistry, type WorkloadResolver } from '../../../src/enrich/workloads.js';
import type { ContainerInfo } from '../../../src/model/container.js';
import { emptyEvent } from '../../../src/model/event.js';
import { FakeCgroupMount } from '../../support/cgroup.js';

const info = (privileged: boolean): ContainerInfo => ({
  id: 'c'.repeat(64), name: 'app', runtime: 'containerd', image: 'registry.local/shop/web:1.4', imageRepository: 'registry.local/shop/web',
  imageTag: '1.4', imageDigest: '', imageId: 'sha256:'.padEnd(71, '0'), privileged, labels: {}, createdAt: 0, pod: null,
} as unknown as ContainerInfo);

describe("the console's view of a container", () => {
  it('says privileged and names the image as the runtime described them, and unknown for a cgroup no runtime named', () => {
    const cgroups = new FakeCgroupMount(['priv', 'plain', 'bare']);
    const mount = cgroups.dir;
    try {
      // Stands in for the runtime resolver (test/containers/ runs the real one against containerd and Docker).
      const runtime: WorkloadResolver = {
        identify: (path) => path === '/bare' ? null : { key: `container:${path}`, name: path.slice(1), kind: 'container', containerInfo: info(path === '/priv') },
      };
      const registry = new WorkloadRegistry({ cgroups: new CgroupPaths({ mount, sharedPidNamespace: () => false }), resolvers: [runtime], defaultMode: 'learn' });
      for (const d of ['priv', 'plain', 'bare']) {
        const e = emptyEvent('exec');
        e.cgroupId = cgroups.id(d);
        e.pid = 1;
        registry.resolve(e);
      }
      // workloads() reads the registry alone (stateDir only names the capture directory).
      const source = consoleSource({ registry, stateDir: mount } as unknown as ConsoleParts);
      const byName = new Map(source.workloads().map((w) => [w.name, w]));
      expect(byName.get('priv')).toMatchObject({ privileged: true, images: ['registry.local/shop/web:1.4'] });
      expect(byName.get('plain')).toMatchObject({ privileged: false, images: ['registry.local/shop/web:1.4'] });
      expect(byName.get('/bare')).toMatchObject({ privileged: null, images: [] });
    } finally {
      cgroups.remove();
    }
  });
});
