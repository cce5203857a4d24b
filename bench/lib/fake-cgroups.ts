// A cgroup tree of plain directories for a bench's engine (EngineOptions.cgroupMount): an event's cgroup id is its
// directory's inode number, as on a real cgroup v2 mount, so the engine finds each workload's path as a node's does.
import { mkdirSync, mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** `workloads` pods' cgroups in a scratch directory (the caller removes `dir`), and their ids. */
export function fakeCgroupMount(workloads: number): { dir: string; ids: number[] } {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-bench-cg-'));
  const ids: number[] = [];
  for (let i = 0; i < workloads; i++) {
    const d = join(dir, `kubepods/pod-${i}/app`);
    mkdirSync(d, { recursive: true });
    ids.push(statSync(d).ino);
  }
  return { dir, ids };
}
