// The process tree's bound: it never holds more than maxProcesses, keeps
// the processes that are busy, and forgets the ones that went quiet.
import { describe, expect, it } from 'vitest';
import { ProcessTable, ProcessTree } from '../../src/enrich/process-tree.js';
import type { Process } from '../../src/model/process.js';
import { rng } from '../support/rng.js';
import { emptyEvent } from '../../src/model/event.js';
import { makeEvent } from '../support/events.js';

function open(pid: number) {
  const e = emptyEvent('open');
  Object.assign(e, { pid, ppid: 1, comm: 'w', cgroupId: 7, path: '/etc/hosts' });
  return e;
}

describe('process tree bound', () => {
  it('keeps at most maxProcesses, the busy ones, and forgets the quiet ones', () => {
    const tree = new ProcessTree(100);
    const busy = tree.apply(open(1));
    for (let pid = 2; pid < 2000; pid++) {
      tree.apply(open(pid));
      tree.apply(open(1)); // pid 1 stays busy
      expect(tree.size).toBeLessThanOrEqual(100);
    }
    expect(tree.get(1)).toBe(busy);
    // pid 2 went quiet long ago; the last few are still there.
    expect(tree.get(2)).toBeUndefined();
    for (let pid = 1990; pid < 2000; pid++) expect(tree.get(pid)?.pid).toBe(pid);
  });

  it('looking a parent up does not keep it; its own events do', () => {
    const tree = new ProcessTree(10);
    tree.apply(Object.assign(open(50), { ppid: 1 }));
    // Lookups of the parent chain do not count as use…
    for (let pid = 100; pid < 120; pid++) {
      const p = tree.apply(Object.assign(open(pid), { ppid: 50 }));
      tree.parent(p);
    }
    expect(tree.get(50)).toBeUndefined();
    // …its own events do.
    tree.apply(open(50));
    for (let pid = 200; pid < 220; pid++) {
      tree.apply(open(pid));
      tree.apply(open(50));
    }
    expect(tree.get(50)?.pid).toBe(50);
  });
});

describe('exited processes', () => {
  const exit = (pid: number) => makeEvent('exit', { pid, ppid: 1, comm: 'w', cgroupId: 7 });

  it('keeps the last 4,096 exited processes for their children\'s chains, forgets older ones, and never a pid reused since', () => {
    const tree = new ProcessTree(100_000);
    for (let pid = 10; pid < 10 + 4096; pid++) {
      tree.apply(open(pid));
      tree.apply(exit(pid));
    }
    // All 4,096 are kept, exited.
    for (const pid of [10, 2000, 4105]) expect(tree.get(pid)?.exited).toBe(true);
    // pid 11 is reused (a fork) before it would be forgotten.
    tree.apply(makeEvent('fork', { pid: 5, ppid: 1, comm: 'w', cgroupId: 7, childPid: 11 }));
    const reused = tree.get(11)!;
    expect(reused.exited).toBe(false);
    expect(reused.ppid).toBe(5);
    // Two more exits push pids 10 and 11 out of the kept window.
    for (const pid of [50_000, 50_001]) {
      tree.apply(open(pid));
      tree.apply(exit(pid));
    }
    expect(tree.get(10)).toBeUndefined();
    expect(tree.get(11)).toBe(reused);
    expect(tree.get(12)?.exited).toBe(true);
    expect(tree.get(50_001)?.exited).toBe(true);
  });
});

describe('process tree and enforcement', () => {
  const exec = (pid: number, path: string, blockedBy: '' | 'bpf-lsm' | 'fmod_ret' | 'kill-at-entry') => {
    return makeEvent('exec', { pid, ppid: 1, comm: 'x', cgroupId: 7, path, argv: [path], blocked: blockedBy !== '', blockedBy });
  };

  it('an exec denied by a security hook leaves the process in its old image; one killed after it happened does not', () => {
    const tree = new ProcessTree(10);
    tree.apply(exec(5, '/usr/bin/python3.11', ''));
    for (const by of ['bpf-lsm', 'fmod_ret'] as const) {
      const p = tree.apply(exec(5, '/usr/bin/id', by));
      expect(p.exe).toBe('/usr/bin/python3.11');
      expect(p.lineage).toEqual([]);
    }
    // The fallback kills at exec, after the new image was loaded: it ran /usr/bin/id (for no instruction).
    expect(tree.apply(exec(5, '/usr/bin/id', 'kill-at-entry')).exe).toBe('/usr/bin/id');
  });
});

describe('process table', () => {
  const proc = (pid: number) => ({ pid }) as unknown as Process;

  it('finds what was set and not deleted, through growth and deletions (against a Map)', () => {
    const t = new ProcessTable(1 << 20);
    const ref = new Map<number, Process>();
    const rand = rng(7);
    let wrong = 0;
    for (let i = 0; i < 200_000; i++) {
      // Pids crowded into a small range, so probe chains collide and deletions shift them.
      const pid = Math.floor(rand() * 20_000);
      const r = rand();
      if (r < 0.5) {
        const p = proc(pid);
        t.set(pid, p);
        ref.set(pid, p);
      } else if (r < 0.8) {
        if (t.delete(pid) !== ref.delete(pid)) wrong++;
      } else if (t.get(pid) !== ref.get(pid)) wrong++;
    }
    expect(wrong).toBe(0);
    expect(t.size).toBe(ref.size);
    for (const [pid, p] of ref) expect(t.peek(pid)).toBe(p);
  });

  it('when full forgets one entry per new one, never more than its bound', () => {
    const t = new ProcessTable(64);
    const rand = rng(9);
    let wrong = 0;
    for (let i = 0; i < 50_000; i++) {
      const pid = Math.floor(rand() * 5000);
      if (rand() < 0.1) t.delete(pid);
      else if (!t.get(pid)) t.set(pid, proc(pid));
      if (t.size > 64 || (t.peek(pid)?.pid ?? pid) !== pid) wrong++;
    }
    expect(wrong).toBe(0);
    expect(t.size).toBe(64);
  });
});
