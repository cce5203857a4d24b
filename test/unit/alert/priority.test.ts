// A critical alert is never queued behind noise: through the real engine
// (synthetic probe over gRPC, the built-in rules, the shipped rate-limit
// defaults, a file sink), a burst of ~100 distinct warnings from a dozen
// rules in one workload and host noise (a build raising privileges), then a
// reverse shell: the critical alert is in the sink at once, and what the
// limits held is summarised about a second later, not a minute.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import type { Alert } from '../../../src/model/alert.js';
import { FakeCgroupMount } from '../../support/cgroup.js';
import { TestEngine } from '../../support/engine.js';
import { waitFor } from '../../support/kernel.js';
import { SyntheticProbe, type SyntheticEvent } from '../../support/synthetic-probe.js';

let cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
});

const O_WRONLY_CREAT = 0o101;

it('a critical alert reaches the sink at once after a burst of warnings and host noise; what was held is summarised within seconds', async () => {
  const cgroups = new FakeCgroupMount();
  const web = cgroups.add('shop/web');
  const host = cgroups.add('system.slice/build.service');
  const dir = mkdtempSync(join(tmpdir(), 'vigil-priority-'));
  const file = join(dir, 'alerts.jsonl');
  // The shipped defaults for folding and rate limits: nothing tuned for the test.
  const t = await TestEngine.start({ workloads: [{ name: 'shop-web', cgroup: '/shop/web' }], sinks: [{ type: 'file', path: file }] }, { cgroupMount: cgroups.dir });
  const probe = SyntheticProbe.connect(`unix://${t.dir}/engine.sock`);
  cleanup.push(async () => {
    await probe.close();
    await t.stop();
    cgroups.remove();
    rmSync(dir, { recursive: true, force: true });
  });
  const lines = (): Alert[] => {
    try {
      return readFileSync(file, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Alert);
    } catch {
      return [];
    }
  };

  // ~100 distinct warnings (nothing to fold) from a dozen built-in rules in one workload.
  const burst: SyntheticEvent[] = [];
  let pid = 2000;
  const exec = (cgroupId: number, exe: string, argv: string[] = [exe]): SyntheticEvent => ({ pid: ++pid, ppid: 1, cgroupId, exec: { filename: exe, exe, argv, cwd: '/' } });
  const open = (path: string, flags = 0): SyntheticEvent => ({ pid: ++pid, ppid: 1, cgroupId: web, open: { path, flags, result: 3 } });
  for (let i = 0; i < 8; i++) {
    burst.push(
      open(`/etc/sudoers.d/extra-${i}`),
      open(`/home/u${i}/.ssh/id_rsa`),
      open(`/home/u${i}/.aws/credentials`),
      exec(web, `/tmp/dropper-${i}`),
      exec(web, `/dev/shm/stage-${i}`),
      open(`/etc/app-${i}.conf`, O_WRONLY_CREAT),
      open(`/usr/bin/tool-${i}`, O_WRONLY_CREAT),
      open(`/etc/cron.d/job-${i}`, O_WRONLY_CREAT),
      open(`/etc/systemd/system/unit-${i}.service`, O_WRONLY_CREAT),
      { pid: ++pid, ppid: 1, cgroupId: web, unlink: { path: `/var/log/app-${i}.log`, result: 0 } },
      { pid: ++pid, ppid: 1, cgroupId: web, chmod: { path: `/usr/local/bin/suid-${i}`, mode: 0o4755, result: 0 } },
      exec(web, '/usr/bin/nmap', ['nmap', `10.0.${i}.0/24`]),
    );
  }
  // Host noise: a build whose helpers take root back (running as uid 1000 with root kept as the saved uid), each its own executable.
  for (let i = 0; i < 30; i++) {
    const helper = exec(host, `/usr/lib/build/helper-${i}`);
    burst.push(helper, { pid: helper.pid, ppid: 1, uid: 1000, cgroupId: host, setId: { call: 'setuid', id: 0, result: 0, euid: 1000, suid: 0, fsuid: 1000, after: { euid: 0, fsuid: 0 } } });
  }
  probe.sendBatch(burst);
  await waitFor('the burst through the engine', () => t.events.length === burst.length, 10_000);
  const held = t.engine.alertDelivery!.stats().rateLimited;
  expect(held).toBeGreaterThan(20); // the limits did hold some of the burst back
  const warnings = lines().filter((a) => a.priority === 'warning');
  expect(new Set(warnings.map((a) => a.rule)).size).toBeGreaterThanOrEqual(7);

  // The reverse shell: bash puts a TCP socket on its stdin.
  const sent = Date.now();
  probe.sendBatch([
    exec(web, '/usr/bin/bash', ['bash', '-i']),
    { pid, ppid: 1, cgroupId: web, dup: { oldFd: 3, newFd: 0, remote: { family: 2, address: Buffer.from([10, 9, 8, 7]), port: 4444 }, protocol: 6, result: 0 } },
  ]);
  const critical = await waitFor('the reverse shell alert in the sink', () => lines().find((a) => a.rule === 'Standard input or output redirected to a socket'), 5000);
  const tookMs = Date.now() - sent;
  expect(critical.priority).toBe('critical');
  expect(critical.workload.name).toBe('shop-web');
  // Straight through, not held: nothing critical was held back.
  expect(tookMs).toBeLessThan(1000);
  expect(t.engine.alertDelivery!.stats().rateLimitedByPriority.critical).toBeUndefined();

  // What was held: summarised about a second after the first hold, with its counts.
  const summary = await waitFor('the summary of held alerts', () => lines().find((a) => a.rule === 'alerts-rate-limited'), 5000);
  expect(Date.now() - sent).toBeLessThan(5000);
  expect(summary.priority).toBe('warning');
  expect(summary.fields['vigil.suppressed']).toBe(held);
  expect(summary.fields['vigil.suppressed.Standard input or output redirected to a socket']).toBeUndefined();
  expect(summary.message).toMatch(/held back by rate limits/);
  expect(summary.message).toMatch(/Privileges raised to root with setuid ×\d+ \(warning, \/system\.slice\/build\.service/);
  // Every alert raised is accounted for: delivered, or counted in the summary.
  const stats = t.engine.alertDelivery!.stats();
  expect(stats.received).toBe(stats.emitted - 1 + stats.rateLimited + stats.folded);
});
