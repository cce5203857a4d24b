// The cgroup of a process that ran before the probe, as the probe's
// start-up snapshot gives it, with the probe in a private cgroup namespace
// (what Docker and containerd give a DaemonSet pod on a cgroup v2 host) and
// in the host's. In a private namespace /proc/PID/cgroup says
// "/../web"-like paths relative to the probe's own cgroup: read as paths
// under the mount they named no cgroup, and the process had no workload
// until it did something the kernel tags.
import type { ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { formatStatus } from '../../src/cli/format.js';
import { TestEngine } from '../support/engine.js';
import { cgroup2Mount, describeKernel, probeBinary, TestCgroupTree, waitFor, type TestCgroup } from '../support/kernel.js';

const ITER_HOOK = 'iter/task:cgroups';

describeKernel('the snapshot: cgroups of processes older than the probe', () => {
  let tree: TestCgroupTree;
  let web: TestCgroup;
  let probeCgroup: TestCgroup;
  let sleeper: ChildProcess;
  let dir: string;

  beforeAll(async () => {
    tree = new TestCgroupTree();
    web = tree.group('web');
    probeCgroup = tree.group('probe');
    dir = mkdtempSync(join(tmpdir(), 'vigil-snapshot-'));
    // Running before any probe starts: known from the snapshot only.
    sleeper = web.spawn('/bin/sleep', ['300']);
    await waitFor('the sleeper', () => readFileSync(`/proc/${sleeper.pid}/cmdline`, 'utf8').startsWith('/bin/sleep'));
  });

  afterAll(async () => {
    sleeper?.kill('SIGKILL');
    await tree?.remove();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** Starts the probe in its own cgroup, optionally in a cgroup namespace rooted there, and reads what the engine made of the sleeper. */
  async function snapshot(opts: { cgroupns: boolean; fromProc: boolean; ownMount?: boolean }): Promise<{ cgroupId: number | undefined; workload: string | undefined; hooks: string[]; probeLog: string[]; status: string; alerts: string[] }> {
    const wrapper = join(dir, `probe-${opts.cgroupns ? 'ns' : 'host'}-${opts.ownMount ? 'mount-' : ''}${opts.fromProc ? 'proc' : 'iter'}.sh`);
    // ownMount: cgroup2 mounted afresh inside the namespace (in a mount
    // namespace of its own), as a container's /sys/fs/cgroup is: the mount
    // shows the namespace's subtree only.
    const enter = !opts.cgroupns ? ''
      : opts.ownMount ? `unshare --cgroup --mount --propagation private /bin/sh -c 'umount -l ${cgroup2Mount()} && mount -t cgroup2 none ${cgroup2Mount()} && exec "$@"' sh `
      : 'unshare --cgroup ';
    writeFileSync(wrapper, [
      '#!/bin/sh',
      `echo $$ > '${probeCgroup.dir}/cgroup.procs' || exit 1`,
      opts.fromProc ? 'export VIGIL_SNAPSHOT_FROM_PROC=1' : 'unset VIGIL_SNAPSHOT_FROM_PROC',
      `exec ${enter}'${probeBinary}' "$@"`,
      '',
    ].join('\n'));
    chmodSync(wrapper, 0o755);
    const t = await TestEngine.start({ sinks: [], workloads: [{ name: 'snap-web', cgroup: web.path }] });
    const alerts: string[] = [];
    t.engine.onAlert((a) => void (a.rule === 'Snapshot cgroups from /proc' && alerts.push(a.rule)));
    try {
      await t.startProbe({ path: wrapper });
      const session = t.engine.ingest.sessions().find((s) => s.snapshotDone)!;
      // The probe really runs in a cgroup namespace of its own, or in ours.
      const ns = (pid: number | 'self'): string => readlinkSync(`/proc/${pid}/ns/cgroup`);
      expect(ns(session.hello.probePid) !== ns('self')).toBe(opts.cgroupns);
      const p = t.engine.tree.get(sleeper.pid!);
      expect(p?.origin).toBe('snapshot');
      return {
        cgroupId: p?.cgroupId,
        workload: p ? t.engine.workloads.resolveCgroup(p.cgroupId, sleeper.pid!).name : undefined,
        hooks: session.hello.hooks,
        probeLog: t.logLines.filter((l) => l.component === 'probe').map((l) => l.msg),
        status: formatStatus(t.engine.status()),
        alerts,
      };
    } finally {
      await t.stop();
    }
  }

  it('in a private cgroup namespace: the kernel\'s task iterator gives the process its cgroup and workload', async () => {
    const s = await snapshot({ cgroupns: true, fromProc: false });
    expect(s.hooks).toContain(ITER_HOOK);
    expect(s.cgroupId).toBe(Number(web.id));
    expect(s.workload).toBe('snap-web');
    expect(s.probeLog.filter((m) => m.includes('snapshot cgroups read from /proc'))).toEqual([]);
    expect(s.status).toContain('snapshot: cgroups of processes older than the probe from the kernel (task iterator)');
    expect(s.alerts).toEqual([]);
  });

  it('in a private cgroup namespace without the iterator: /proc\'s relative path is taken out of the namespace', async () => {
    const s = await snapshot({ cgroupns: true, fromProc: true });
    expect(s.hooks).not.toContain(ITER_HOOK);
    // The weaker way is said, with why.
    expect(s.probeLog.some((m) => m.includes('snapshot cgroups read from /proc/PID/cgroup, not the task iterator: VIGIL_SNAPSHOT_FROM_PROC is set'))).toBe(true);
    expect(s.status).toContain('snapshot: cgroups of processes older than the probe from /proc/PID/cgroup, the fallback');
    expect(s.alerts).toHaveLength(1);
    expect(s.cgroupId).toBe(Number(web.id));
    expect(s.workload).toBe('snap-web');
  });

  it('in a cgroup namespace with its own cgroup2 mount (a container\'s): the iterator still does; /proc gives no cgroup, not a wrong one', async () => {
    const iter = await snapshot({ cgroupns: true, fromProc: false, ownMount: true });
    expect(iter.hooks).toContain(ITER_HOOK);
    expect(iter.cgroupId).toBe(Number(web.id));
    expect(iter.workload).toBe('snap-web');
    // "/../web" leaves a mount that shows only the probe's subtree: nothing there names the cgroup.
    const proc = await snapshot({ cgroupns: true, fromProc: true, ownMount: true });
    expect(proc.cgroupId).toBe(0);
  });

  it('in the host\'s cgroup namespace: the same cgroup either way', async () => {
    const iter = await snapshot({ cgroupns: false, fromProc: false });
    expect(iter.hooks).toContain(ITER_HOOK);
    expect(iter.cgroupId).toBe(Number(web.id));
    expect(iter.workload).toBe('snap-web');
    const proc = await snapshot({ cgroupns: false, fromProc: true });
    expect(proc.cgroupId).toBe(Number(web.id));
    expect(proc.workload).toBe('snap-web');
  });
});
