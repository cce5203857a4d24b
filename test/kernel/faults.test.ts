// A full disk under the state directory (a real 1 MiB tmpfs): the engine
// says so loudly, keeps serving, corrupts nothing, and catches up once
// there is room again.
import { execFileSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, unlinkSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createServer } from 'node:http';
import { alertFor, type Alert } from '../../src/model/alert.js';
import { TestEngine } from '../support/engine.js';
import { useFakeCgroupMount } from '../support/cgroup-hooks.js';
import { describeKernel, probeStartMs, TestCgroupTree, waitFor } from '../support/kernel.js';
import { SyntheticProbe } from '../support/synthetic-probe.js';

describeKernel('faults', () => {
  let mnt: string;
  const cgroups = useFakeCgroupMount(['app']);

  beforeAll(() => {
    mnt = mkdtempSync(join(tmpdir(), 'vigil-tmpfs-'));
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m,mode=0700', 'vigil-test-state', mnt]);
  });
  afterAll(() => {
    execFileSync('umount', [mnt]);
    rmSync(mnt, { recursive: true, force: true });
  });

  /** Whether the workload's profile has learned a process yet. */
  const learned = (t: TestEngine, name: string): boolean => {
    try {
      return t.engine.profiles.export(name)[0]!.spec.processes.length > 0;
    } catch {
      return false; // no profile yet
    }
  };

  /** Fills the file system until it refuses another byte. */
  const fill = (path: string): void => {
    const fd = openSync(path, 'w');
    const chunk = Buffer.alloc(16 * 1024, 1);
    try {
      for (;;) writeSync(fd, chunk);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
    } finally {
      closeSync(fd);
    }
  };

  it('a probe killed mid-run comes back: the gap is reported and quarantine and enforcement are put back', async () => {
    const tree = new TestCgroupTree();
    const web = tree.group('web');
    const other = new TestCgroupTree(); // outside the enforced workload
    const jail = other.group('jail');
    const http = createServer((_q, r) => r.end('ok'));
    await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
    const port = (http.address() as { port: number }).port;
    const t = await TestEngine.start({ sinks: [], workloads: [{ name: 'crash-web', cgroup: tree.root }] });
    const alerts: Alert[] = [];
    t.engine.onAlert((a) => alerts.push(a));
    try {
      await t.startProbe();
      // Learn a little, then enforce it, and quarantine a neighbour.
      expect((await web.run('/bin/sh', ['-c', 'true'])).code).toBe(0);
      const w = await waitFor('the workload', () => t.engine.workloads.find('crash-web'));
      // The workload is known from its first event before that event is learned (held first events): wait for the learning.
      await waitFor('the shell learned', () => learned(t, 'crash-web'));
      expect(await t.engine.profiles.changeMode(w, 'enforce')).toMatchObject({ ok: true });
      expect((await jail.run('/bin/true', [])).code).toBe(0);
      const jailed = await waitFor('the neighbour', () => t.engine.workloads.find(`${other.root}/jail`));
      expect((await t.engine.quarantines.quarantine(jailed, 'test')).ok).toBe(true);

      const first = t.probe!.pid!;
      process.kill(first, 'SIGKILL');
      // Said as the gap starts, not only when it ends: critical, since crash-web is in enforce mode.
      // The exit is known once the kernel has torn the process down, which includes releasing ~140 BPF
      // links (an RCU grace period each for tracepoints): seconds on a loaded 2-vCPU host, hence 15 s here.
      const exited = await waitFor('the exit alerted', () => alerts.find((a) => a.rule === 'Probe exited'), 15_000);
      expect(exited.priority).toBe('critical');
      expect(exited.message).toMatch(new RegExp(`^the probe \\(pid ${first}\\) on test-node exited \\(killed by SIGKILL\\): nothing is observed until it is back \\(restarting in \\d+ ms\\)\\. Protected workloads \\(enforce mode: crash-web; quarantined: ${other.root}/jail\\)`));
      await waitFor('the probe restarted by its supervisor', () => t.probe!.pid !== undefined && t.probe!.pid !== first, 15_000);
      await waitFor('the new probe connected', () => t.engine.ingest.sessions().some((s) => s.connected && s.hello.probePid !== first && s.snapshotDone), probeStartMs);
      const gap = await waitFor('the gap reported', () => alerts.find((a) => a.rule === 'Probe restarted'));
      expect(gap.priority).toBe('critical');
      expect(gap.message).toMatch(new RegExp(`^probe on test-node restarted \\(pid ${first}, killed by SIGKILL → \\d+\\): events between \\S+ and now \\(\\d+ s\\) were not observed; kernel enforcement was off meanwhile \\(enforce mode: crash-web; quarantined: ${other.root}/jail\\) and is being put back now$`));
      // Kernel state is back: the neighbour is still cut off, and the workload still enforced.
      await waitFor('the quarantine back', () => t.logLines.some((l) => l.component === 'probe' && l.pid !== first && /quarantined 1 cgroups/.test(l.msg)), 10_000);
      const curl = await jail.run('/usr/bin/curl', ['-s', '--max-time', '2', '-o', '/dev/null', `http://127.0.0.1:${port}/`]);
      expect(curl.code).toBe(28);
      await waitFor('the policy back', () => t.logLines.some((l) => l.component === 'probe' && l.pid !== first && /policy for cgroup/.test(l.msg)), 10_000);
      const id = await web.run('/bin/sh', ['-c', '/usr/bin/id; echo $?']);
      expect(id.stdout).toBe('137\n');
    } finally {
      http.close();
      await t.stop();
      await tree.remove();
      await other.remove();
    }
  });

  it('a stopped probe (SIGSTOP) is alerted within seconds, and what the kernel could not hold meanwhile when it resumes', async () => {
    const tree = new TestCgroupTree();
    const web = tree.group('web');
    const t = await TestEngine.start({ sinks: [], workloads: [{ name: 'stop-web', cgroup: tree.root }], engine: { probeStallSeconds: 2 } });
    const alerts: Alert[] = [];
    t.engine.onAlert((a) => alerts.push(a));
    let stopped = 0;
    try {
      // A small ring buffer, so a short burst overflows it while nobody reads.
      await t.startProbe({ ringbufBytes: 64 * 1024 });
      // Learned, so the flood's shell may run in enforce mode. The 64 KiB ring loses events whenever anything
      // else on the host floods (reported as lost, as it should be), so the shell runs until one exec got through.
      for (let i = 0; ; i++) {
        expect((await web.run('/bin/sh', ['-c', 'true'])).code).toBe(0);
        const ok = await waitFor('the shell learned', () => learned(t, 'stop-web'), 3000).then(() => true, (err: Error) => {
          if (i === 4) throw err;
          return false;
        });
        if (ok) break;
      }
      const w = await waitFor('the workload', () => t.engine.workloads.find('stop-web'));
      expect(await t.engine.profiles.changeMode(w, 'enforce')).toMatchObject({ ok: true });
      stopped = t.probe!.pid!;
      process.kill(stopped, 'SIGSTOP');
      const at = Date.now();
      const stall = await waitFor('the stall alerted', () => alerts.find((a) => a.rule === 'Probe stalled'), 8000);
      expect(Date.now() - at).toBeLessThan(5000);
      expect(stall.priority).toBe('critical');
      expect(stall.message).toMatch(new RegExp(`^the probe \\(pid ${stopped}\\) on test-node has sent nothing for \\d+ s although connected`));
      // 20,000 distinct missing files while the probe is stopped: far more than 64 KiB holds.
      const flood = await web.run('/bin/sh', ['-c', 'exec 2>/dev/null; i=0; while [ $i -lt 20000 ]; do true < /nonexistent-vigil/$i; i=$((i+1)); done; echo done']);
      expect(flood.stdout).toBe('done\n');
      process.kill(stopped, 'SIGCONT');
      stopped = 0;
      const resumed = await waitFor('the resume alerted', () => alerts.find((a) => a.rule === 'Probe resumed'), 8000);
      expect(resumed.priority).toBe('critical');
      // Other cgroups on the node lose events too while the probe is stopped (their own, non-enforcing alerts): this workload's.
      const lost = await waitFor('the ring buffer overflow alerted', () => alerts.find((a) => a.rule === 'Events lost' && a.workload.name === 'stop-web'), 8000);
      expect(lost.priority).toBe('critical');
      expect(Number(lost.fields['vigil.loss.ringbufFull'])).toBeGreaterThan(1000);
      expect(t.engine.status()).toMatchObject({ probeStalls: 1 });
    } finally {
      if (stopped) process.kill(stopped, 'SIGCONT');
      await t.stop();
      await tree.remove();
    }
  });

  it('a full state directory is reported, corrupts nothing, and is caught up once there is room', async () => {
    const state = join(mnt, 'state');
    const t = await TestEngine.start(
      { stateDir: state, workloads: [{ name: 'app', cgroup: '/app' }], sinks: [{ type: 'webhook', id: 'down', url: 'http://127.0.0.1:9/hook' }] },
      { cgroupMount: cgroups.dir },
    );
    const probe = SyntheticProbe.connect(`unix://${t.dir}/engine.sock`);
    try {
      const exec = (pid: number, exe: string) => ({ pid, cgroupId: cgroups.id.app, exec: { filename: exe, exe, argv: [exe], cwd: '/' } });
      probe.sendBatch([exec(7, '/usr/bin/first')]);
      const profiles = join(state, 'profiles');
      const stored = (): string[] => readdirSync(profiles).filter((f) => f.endsWith('.json'));
      await waitFor('the profile saved', () => stored().length === 1, 5000);
      const file = join(profiles, stored()[0]!);
      expect(readFileSync(file, 'utf8')).toContain('/usr/bin/first');

      fill(join(mnt, 'filler'));
      probe.sendBatch([exec(8, '/usr/bin/second')]);
      t.engine.raise(alertFor(t.events[0]!, t.engine.tree, { source: 'rule', rule: 'While the disk is full', priority: 'warning', message: 'm' }));
      await waitFor('the failed save said loudly', () => t.logLines.some((l) => l.level === 'error' && l.msg === 'cannot save profile; will retry'), 5000);
      await waitFor('the failed queue write said loudly', () => t.logLines.some((l) => l.level === 'error' && l.msg === 'cannot write the alert queue; retrying'), 5000);
      // The last good profile is intact (written whole, renamed into place).
      const before = JSON.parse(readFileSync(file, 'utf8')) as { spec: { processes: { exe: string }[] } };
      expect(before.spec.processes.map((p) => p.exe)).toEqual(['/usr/bin/first']);
      // Still serving.
      probe.sendBatch([exec(9, '/usr/bin/third')]);
      await waitFor('events still processed', () => t.events.length === 3);

      unlinkSync(join(mnt, 'filler'));
      await waitFor('the profile caught up', () => readFileSync(file, 'utf8').includes('/usr/bin/third'), 10_000);
      const after = JSON.parse(readFileSync(file, 'utf8')) as { spec: { processes: { exe: string }[] } };
      expect(after.spec.processes.map((p) => p.exe)).toEqual(['/usr/bin/first', '/usr/bin/second', '/usr/bin/third']);
      await waitFor('the alert queued on disk', () => (t.engine.alertDelivery?.stats().sinks[0]?.queuedAlerts ?? 0) >= 1, 10_000);
      expect(t.engine.alertDelivery!.stats().sinks[0]!.dropped).toBe(0);
    } finally {
      await probe.close();
      await t.stop();
    }
  });
});
