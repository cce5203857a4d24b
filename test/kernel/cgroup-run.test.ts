// The tests' own runner, TestCgroup.run, on the real kernel: it returns all
// a command wrote, read to the end of its pipes and not cut at its exit, and
// a command that leaves a process behind holding those pipes cannot keep a
// test waiting past a short grace. Needs root and cgroup v2, not the probe.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { CLOSE_GRACE_MS } from '../support/cgroup.js';
import { cgroup2Mount, describeWhere, TestCgroupTree, timeScale, type TestCgroup } from '../support/kernel.js';

const MIB = 1024 * 1024;

/** Blocks this thread (its event loop with it) until `pred` holds or `ms` pass. */
function holdLoopUntil(pred: () => boolean, ms: number): void {
  const cell = new Int32Array(new SharedArrayBuffer(4));
  const deadline = Date.now() + ms;
  while (!pred() && Date.now() < deadline) Atomics.wait(cell, 0, 0, 5);
}

/** Whether process `pid` is still alive (not a zombie). */
function alive(pid: number): boolean {
  try {
    return !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8'));
  } catch {
    return false;
  }
}

describeWhere(process.getuid?.() !== 0 ? 'needs root' : cgroup2Mount() ? null : 'no cgroup v2 mount', 'TestCgroup.run', () => {
  let tree: TestCgroupTree;
  let g: TestCgroup;
  let dir = '';
  const leftBehind: number[] = [];

  beforeAll(() => {
    tree = new TestCgroupTree();
    g = tree.group('run');
    dir = mkdtempSync(join(tmpdir(), 'vigil-cgroup-run-'));
  });

  afterAll(async () => {
    for (const pid of leftBehind) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    await tree?.remove();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('returns every byte a command wrote before it exited, however much of it was still unread then', async () => {
    // Node gives a child's stdio as socket pairs. The command lets each hold 16 MiB (SO_SNDBUFFORCE, root's), writes
    // 4 MiB to each, marks that it is done and exits, while this test holds the event loop, as the engine running in
    // the test's process does under load, until the mark: at the command's exit nearly all its output is unread, and
    // Node reads at most 2 MiB of a stream before it handles the exit. A runner resolving at 'exit' came back short in
    // every round; resolving at 'close' it has it all.
    const script = [
      'import os, socket, sys',
      'n, mark = int(sys.argv[1]), sys.argv[2]',
      'for fd, byte in ((1, b"o"), (2, b"e")):',
      '    socket.socket(fileno=os.dup(fd)).setsockopt(socket.SOL_SOCKET, 32, 16 << 20)  # SO_SNDBUFFORCE',
      '    v = memoryview(byte * n)',
      '    while v:',
      '        v = v[os.write(fd, v):]',
      'open(mark, "w").close()',
    ].join('\n');
    for (let i = 0; i < 5; i++) {
      const mark = join(dir, `written-${i}`);
      const pending = g.run('/usr/bin/python3', ['-c', script, String(4 * MIB), mark]);
      holdLoopUntil(() => existsSync(mark), 10_000);
      holdLoopUntil(() => false, 100); // and its exit
      const r = await pending;
      expect(r.code, r.stderr.slice(-500)).toBe(0);
      expect(r.stdout.length).toBe(4 * MIB);
      expect(r.stderr.length).toBe(4 * MIB);
      expect(r.stdout).toMatch(/^o+$/);
      expect(r.stderr).toMatch(/^e+$/);
      expect(r.stdioClosed).toBe(true);
    }
  });

  it('resolves within the grace when the command leaves a process holding its stdout, with what was read', async () => {
    const started = Date.now();
    const r = await g.run('/bin/sh', ['-c', 'sleep 30 & echo $!; echo before-exit']);
    const took = Date.now() - started;
    const sleeper = Number(r.stdout.split('\n')[0]);
    leftBehind.push(sleeper);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`${sleeper}\nbefore-exit\n`);
    // Held by the sleeper the whole time: resolved by the grace, not by the pipe closing.
    expect(alive(sleeper)).toBe(true);
    expect(took).toBeGreaterThanOrEqual(CLOSE_GRACE_MS * timeScale - 50);
    expect(took).toBeLessThan(CLOSE_GRACE_MS * timeScale + 5_000);
    expect(r.stdioClosed).toBe(false);
  });

  it('resolves when the pipes close with the command, even with a process left behind that does not hold them', async () => {
    const r = await g.run('/bin/sh', ['-c', 'sleep 30 >/dev/null 2>&1 & echo $!']);
    const sleeper = Number(r.stdout);
    leftBehind.push(sleeper);
    expect(alive(sleeper)).toBe(true);
    expect(r).toMatchObject({ code: 0, stdout: `${sleeper}\n`, stdioClosed: true });
  });
});
