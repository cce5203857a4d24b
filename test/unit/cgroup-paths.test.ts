// cgroup id → path on a real directory tree standing in for the cgroup v2
// mount (ids are inode numbers there too): an id no walk finds is looked for
// again later, less and less often, and resolves once its directory is there.
import { mkdirSync, mkdtempSync, renameSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it, vi } from 'vitest';
import { CgroupPaths } from '../../src/enrich/cgroups.js';
import { FakeCgroupMount } from '../support/cgroup.js';

let cgroups: FakeCgroupMount;
let mount: string;
/** Beside the tree, on the same file system, so a directory made here can be moved in. */
let root: string;
beforeEach(() => {
  cgroups = new FakeCgroupMount(['shop/web']);
  mount = cgroups.dir;
  root = mkdtempSync(join(tmpdir(), 'vigil-cgroup-paths-'));
});
afterEach(() => {
  cgroups.remove();
  rmSync(root, { recursive: true, force: true });
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A directory outside the tree, so its id is real but no walk finds it until it is moved in. */
function outside(name: string): { id: number; dir: string } {
  const dir = join(root, name);
  mkdirSync(dir);
  return { id: statSync(dir).ino, dir };
}

it('resolves a known cgroup by one walk, and an id that appears later once its retry is due', async () => {
  const paths = new CgroupPaths({ mount, sharedPidNamespace: () => false, rescanIntervalMs: 100 });
  expect(paths.pathOf(cgroups.id('shop/web'), 0)).toBe('/shop/web');
  const late = outside('late');
  expect(paths.pathOf(late.id, 0)).toBeNull();
  renameSync(late.dir, join(mount, 'shop/late'));
  // Within the retry period the miss is remembered: no walk.
  const scans = paths.scans;
  expect(paths.pathOf(late.id, 0)).toBeNull();
  expect(paths.scans).toBe(scans);
  await sleep(150);
  expect(paths.pathOf(late.id, 0)).toBe('/shop/late');
  expect(paths.unresolved).toBe(2);
});

it('looks for an id that stays unknown less and less often, and one walk counts for every id due', async () => {
  const paths = new CgroupPaths({ mount, sharedPidNamespace: () => false, rescanIntervalMs: 40 });
  const a = outside('a');
  const b = outside('b');
  // Events of two unknown cgroups every 10 ms for 1.2 s.
  const t0 = Date.now();
  while (Date.now() - t0 < 1200) {
    expect(paths.pathOf(a.id, 0)).toBeNull();
    expect(paths.pathOf(b.id, 0)).toBeNull();
    await sleep(10);
  }
  // One walk each at first sight, then retries at 40, 80, 160, 320, 640 ms after the last (shared
  // by both ids): at most seven walks, where a fixed 40 ms period would have made some 60.
  expect(paths.scans).toBeGreaterThanOrEqual(3);
  expect(paths.scans).toBeLessThanOrEqual(8);
  // Still looked for: moved into the tree, it resolves at its next retry.
  renameSync(a.dir, join(mount, 'a'));
  await sleep(1300);
  expect(paths.pathOf(a.id, 0)).toBe('/a');
});

it('keeps two ids first seen a walk apart on the same walks: one walk per retry for both, not one each', () => {
  // The clock alone is the test's: the walks read the real directory tree.
  vi.useFakeTimers({ toFake: ['Date'] });
  try {
    const paths = new CgroupPaths({ mount, sharedPidNamespace: () => false, rescanIntervalMs: 40 });
    const a = outside('a');
    const b = outside('b');
    const t0 = Date.now();
    // One batch: b is seen once a's walk is over, 5 ms later (a real node's tree takes milliseconds to walk).
    expect(paths.pathOf(a.id, 0)).toBeNull();
    vi.setSystemTime(t0 + 5);
    expect(paths.pathOf(b.id, 0)).toBeNull();
    // Then events of both every 10 ms. a is due at 40 and walks; b, due at 45, takes that walk as its look.
    for (let ms = 10; ms <= 1280; ms += 10) {
      vi.setSystemTime(t0 + ms);
      expect(paths.pathOf(a.id, 0)).toBeNull();
      expect(paths.pathOf(b.id, 0)).toBeNull();
    }
    // A walk each at first sight, then retries shared by both at 40, 120, 280, 600 and 1,240 ms: seven.
    // (Each walking for itself, b 5-10 ms after a, made twelve.)
    expect(paths.scans).toBe(7);
  } finally {
    vi.useRealTimers();
  }
});
