// When enforcement cannot be kept up, a workload fails open (the default:
// it runs on, and an error alert says so) or closed (its network is
// quarantined, and a critical alert says so). Real engine, real gRPC from a
// synthetic probe that refuses the new cgroup's policy.
import { afterEach, describe, expect, it } from 'vitest';
import type { Alert } from '../../../src/model/alert.js';
import { useFakeCgroupMount } from '../../support/cgroup-hooks.js';
import { TestEngine } from '../../support/engine.js';
import { waitFor } from '../../support/kernel.js';
import { SyntheticProbe } from '../../support/synthetic-probe.js';

const cgroups = useFakeCgroupMount(['app', 'app/a', 'app/b']);
const { id } = cgroups;

let t: TestEngine;
let probe: SyntheticProbe;
afterEach(async () => {
  await probe?.close();
  await t?.stop();
});

async function enforcedThenBroken(failClosed: boolean | undefined): Promise<Alert> {
  t = await TestEngine.start({ sinks: [], workloads: [{ name: 'app', cgroup: '/app', ...(failClosed === undefined ? {} : { failClosed }) }] }, { cgroupMount: cgroups.dir });
  probe = SyntheticProbe.connect(`unix://${t.dir}/engine.sock`, { capabilities: ['exec-kill', 'connect-refuse', 'write-kill', 'quarantine', 'capture', 'kill'] });
  probe.answer = () => ({ ok: true, error: '', detail: 'done' });
  const alerts: Alert[] = [];
  t.engine.onAlert((a) => alerts.push(a));
  const exec = (cg: keyof typeof id, pid: number) => ({ pid, cgroupId: id[cg], exec: { filename: '/usr/bin/app', exe: '/usr/bin/app', argv: ['app'], cwd: '/' } });
  probe.sendBatch([exec('app/a', 10)]);
  await waitFor('learned', () => t.events.length === 1);
  const w = t.engine.workloads.find('app')!;
  expect((await t.engine.profiles.changeMode(w, 'enforce')).ok).toBe(true);
  expect(probe.commands.filter((c) => c.setPolicy).map((c) => c.setPolicy!.rootCgroupId).sort()).toEqual([id.app, id['app/a']].sort());

  // The probe can no longer take policies: a new replica's cgroup goes unenforced.
  probe.answer = (c) => (c.setPolicy ? { ok: false, error: 'cannot update policies: No space left on device', detail: '' } : { ok: true, error: '', detail: 'done' });
  probe.sendBatch([exec('app/b', 11)]);
  return waitFor('the enforcement failure raised', () => alerts.find((a) => a.rule === 'Enforcement failed'));
}

describe('failing open or closed in enforce mode', () => {
  it('fails open by default, and says so', async () => {
    const a = await enforcedThenBroken(undefined);
    expect(a).toMatchObject({ source: 'engine', priority: 'error', action: { taken: 'none', ok: false, detail: 'failing open' } });
    expect(a.message).toBe("app: enforcement failed (its kernel policy could not be applied: cannot update policies: No space left on device); failing open: the workload keeps running unenforced (set failClosed to quarantine instead)");
    expect(t.engine.quarantines.isQuarantined('named:app')).toBe(false);
  });

  it('fails closed when configured: the workload\'s network is cut', async () => {
    const a = await enforcedThenBroken(true);
    expect(a).toMatchObject({ source: 'engine', priority: 'critical', action: { taken: 'quarantined', ok: true } });
    expect(a.message).toMatch(/failing closed: network quarantined$/);
    expect(t.engine.quarantines.isQuarantined('named:app')).toBe(true);
    const q = probe.commands.find((c) => c.quarantine);
    expect(q!.quarantine!.cgroups.map((c) => c.path).sort()).toEqual(['/app/a', '/app/b']);
  });
});
