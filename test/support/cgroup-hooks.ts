// A FakeCgroupMount (./cgroup.ts) for the tests of one file or describe
// block: made in beforeAll, removed in afterAll. Apart from ./cgroup.ts,
// which benchmarks share and so imports no test runner.
import { afterAll, beforeAll } from 'vitest';
import { FakeCgroupMount } from './cgroup.js';

export interface FakeCgroups<N extends string> {
  /** The stand-in mount point (the engine's cgroupMount). */
  readonly dir: string;
  /** Each cgroup's id, by the name it was asked for under. */
  readonly id: Readonly<Record<N, number>>;
}

/**
 * Registers the hooks and returns the tree's handle, usable from
 * beforeAll on: `cgroups` are paths below the mount (each is its own name:
 * `id['app/a']`), or names for paths (`{ web: 'shop/web' }`: `id.web`).
 * A cgroup's parents are made too; list them to have their ids.
 */
export function useFakeCgroupMount<const P extends string>(cgroups: readonly P[]): FakeCgroups<P>;
export function useFakeCgroupMount<N extends string>(cgroups: Record<N, string>): FakeCgroups<N>;
export function useFakeCgroupMount(cgroups: readonly string[] | Record<string, string>): FakeCgroups<string> {
  const paths: [string, string][] = Array.isArray(cgroups) ? cgroups.map((p) => [p, p]) : Object.entries(cgroups);
  let mount: FakeCgroupMount | undefined;
  const id: Record<string, number> = {};
  beforeAll(() => {
    mount = new FakeCgroupMount();
    for (const [name, path] of paths) id[name] = mount.add(path);
  });
  afterAll(() => mount?.remove());
  return {
    get dir(): string {
      if (!mount) throw new Error('the fake cgroup mount is made in beforeAll: use it from there on');
      return mount.dir;
    },
    id,
  };
}
