// A container's /etc that never answers must not stall the probe's
// commands. A process here gets a root of its own whose etc is a FUSE
// mount nobody serves (the test opens /dev/fuse and mounts it with
// mount(8), no FUSE library, and never reads the device: the kernel's
// FUSE_INIT goes unanswered, so every open below it waits), as a hostile
// container can arrange on purpose. The real probe is asked for that
// process's user files (ReadUserFiles): while its read hangs in the
// kernel, a kill command still kills at once; the read is answered as
// timed out, the cgroup backed off, the next cgroup's read served; and
// the engine, asking for a "container" (a docker-<id>.scope cgroup) on its
// own, says it in vigil status and its log.
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { formatStatus } from '../../src/cli/format.js';
import type { ProbeAnswer } from '../../src/probe/session.js';
import { TestEngine } from '../support/engine.js';
import { describeKernel, TestCgroupTree, waitFor, type TestCgroup } from '../support/kernel.js';

/** The probe's read timeout (bpf/probe/userfiles.h kReadTimeout). */
const READ_TIMEOUT_MS = 2000;

/**
 * A process whose root is `root` (bind mounts of /usr, the merged-/usr
 * links) and whose root's etc is an unserved FUSE mount, in cgroup `g`:
 * the shell holding /dev/fuse stays (the test's child); the process in the
 * new root hangs in its loader's first open below /etc, alive, in the cgroup.
 */
async function hangingRoot(g: TestCgroup, root: string): Promise<{ pid: number; stop(): void }> {
  mkdirSync(join(root, 'etc'), { recursive: true });
  mkdirSync(join(root, 'usr'), { recursive: true });
  for (const l of ['bin', 'lib', 'lib64', 'sbin']) symlinkSync(`usr/${l}`, join(root, l));
  const script = [
    'set -e',
    'exec 3<>/dev/fuse',
    'mount --bind /usr "$0/usr"',
    'mount -i -t fuse -o fd=3,rootmode=40000,user_id=0,group_id=0 vigil-hang "$0/etc"',
    // The device stays with this shell only: killing it aborts the connection, and every wait below /etc ends.
    'chroot "$0" /usr/bin/sleep 600 3>&- &',
    'echo "pid $!"',
    'wait',
  ].join('\n');
  const child = g.spawn('/usr/bin/unshare', ['--mount', '--propagation', 'private', '/bin/bash', '-c', script, root]);
  let out = '';
  let err = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
  const pid = await waitFor(`the hanging root's process (${err})`, () => Number(/pid (\d+)/.exec(out)?.[1] ?? 0) || undefined, 10_000);
  return { pid, stop: () => child.kill('SIGKILL') };
}

describeKernel('a user file read that hangs in the kernel (an unserved FUSE /etc)', () => {
  let t: TestEngine;
  let tree: TestCgroupTree;
  let dir: string;
  const stops: (() => void)[] = [];
  const killed: TestCgroup[] = [];
  const cid = randomBytes(32).toString('hex');

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'vigil-hang-'));
    tree = new TestCgroupTree();
    writeFileSync(join(dir, 'rules.yaml'), '[]\n');
    t = await TestEngine.start({
      sinks: [],
      rules: { builtin: false, files: [join(dir, 'rules.yaml')], watch: false, userFiles: 'probe' },
      // No runtime: a docker-<id>.scope cgroup is a container named by its path, nothing held.
      containers: { runtimes: [] },
    });
    await t.startProbe();
  }, 60_000);

  afterAll(async () => {
    for (const stop of stops) stop();
    await t?.stop();
    // What the hung roots left: their processes run on once the FUSE connection went with its shell.
    for (const g of killed) writeFileSync(join(g.dir, 'cgroup.kill'), '1');
    await tree?.remove();
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  const ask = (pid: number, cgroupId: string): Promise<ProbeAnswer> =>
    t.engine.probes.send({ readUserFiles: { pids: [pid], cgroupId: Number(cgroupId), node: false, knownPasswd: '', knownGroup: '' } }, 10_000);

  it('kills at once while the read hangs; the read is answered as timed out and its cgroup backed off; the next is served', { timeout: 60_000 }, async () => {
    // Not a container's cgroup: the engine asks nothing of it itself, so this test's request is the one that hangs.
    const g = tree.group('hang');
    killed.push(g);
    const hung = await hangingRoot(g, join(dir, 'root1'));
    stops.push(hung.stop);
    const victimGroup = tree.group('victim');
    const victim = victimGroup.spawn('/usr/bin/sleep', ['600']);
    const victimExited = new Promise<number>((r) => victim.on('exit', () => r(Date.now())));

    const asked = Date.now();
    let answeredAt = 0;
    const read = ask(hung.pid, g.id).then((a) => {
      answeredAt = Date.now();
      return a;
    });
    // The read is under way in the probe, in the kernel's FUSE wait.
    await new Promise((r) => setTimeout(r, 300));
    const kill = await t.engine.probes.send({ kill: { pid: victim.pid!, signal: 9, startKtimeNs: 0 } }, 5_000);
    const killedAt = await victimExited;
    expect(kill).toMatchObject({ ok: true, detail: `sent signal 9 to pid ${victim.pid}` });
    // Killed while the read still hung, not after it timed out.
    expect(answeredAt).toBe(0);
    expect(killedAt - asked).toBeLessThan(READ_TIMEOUT_MS);

    const a = await read;
    expect(a.ok).toBe(false);
    expect(a.error).toMatch(new RegExp(`^timed out: the read of cgroup ${g.id}'s /etc/passwd and /etc/group did not finish in ${READ_TIMEOUT_MS} ms \\(a filesystem under its /etc not answering: FUSE, NFS\\)`));
    expect(answeredAt - asked).toBeGreaterThanOrEqual(READ_TIMEOUT_MS - 50);
    // Backed off: refused at once, without a read, while the hung one has not returned.
    const t0 = Date.now();
    const again = await ask(hung.pid, g.id);
    expect(again.error).toMatch(/^backed off: a read of this cgroup's files timed out and has not returned/);
    expect(Date.now() - t0).toBeLessThan(500);
    // Another cgroup's read is served (by a new reader thread): this test's own process is at the node's root, which the probe says.
    const other = tree.group('other');
    const sleeper = other.spawn('/usr/bin/sleep', ['600']);
    await waitFor('the sleeper in its cgroup', () => sleeper.pid);
    await new Promise((r) => setTimeout(r, 100));
    const t1 = Date.now();
    const served = await ask(sleeper.pid!, other.id);
    expect(served.error).toBe(`pid ${sleeper.pid} is still at the node's root (its container is starting)`);
    expect(Date.now() - t1).toBeLessThan(500);
    sleeper.kill('SIGKILL');
  });

  it("the engine's own request for a container whose /etc hangs: its ids print as numbers, and status and the log say why", { timeout: 60_000 }, async () => {
    const g = tree.group(`docker-${cid}.scope`);
    killed.push(g);
    const hung = await hangingRoot(g, join(dir, 'root2'));
    stops.push(hung.stop);
    // Its first events asked the probe; the read timed out.
    const status = await waitFor('status to say the read timed out', () => {
      const u = t.engine.status().userNames;
      return u.problems.some((p) => p.includes('timed out')) ? u : undefined;
    }, 15_000);
    expect(status.problems).toContain("1 read by the probe timed out (a filesystem under a container's /etc not answering): those containers are backed off, their ids print as numbers");
    expect(status.problems.find((p) => p.startsWith(`container ${cid.slice(0, 12)}: /etc/passwd`))).toMatch(/not read \(its ids print as numbers\): through the probe: timed out: /);
    expect(formatStatus(t.engine.status())).toContain('1 read by the probe timed out');
    expect(t.logLines.some((l) => l.level === 'warn' && l.containerId === cid.slice(0, 12) && /timed out/.test(String(l.msg)))).toBe(true);
    // Still one: nothing more of this cgroup's is read (and left hung) while it is backed off.
    await new Promise((r) => setTimeout(r, 3_000));
    expect(t.engine.status().userNames.problems[0]).toMatch(/^1 read by the probe timed out/);
  });
});
