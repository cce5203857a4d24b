// Vigil never enforces, quarantines or kills itself: a workload whose
// cgroups hold the probe (its Hello names its cgroup) or the engine is
// refused, with the reason, and its mode stays what is in force. Real
// engine, real gRPC and control socket; the probe is synthetic and the
// cgroup tree a directory (no kernel here: test/kernel/self-protection.test.ts
// does the same with the real probe).
import { afterEach, describe, expect, it } from 'vitest';
import { ControlClient } from '../../../src/control/client.js';
import type { Alert } from '../../../src/model/alert.js';
import { useFakeCgroupMount } from '../../support/cgroup-hooks.js';
import { TestEngine } from '../../support/engine.js';
import { waitFor } from '../../support/kernel.js';
import { SyntheticProbe } from '../../support/synthetic-probe.js';

const cgroups = useFakeCgroupMount(['vigil', 'vigil/probe', 'app', 'app/a']);
const { id } = cgroups;

let t: TestEngine | undefined;
let probe: SyntheticProbe | undefined;
let control: ControlClient | undefined;
afterEach(async () => {
  control?.close();
  await probe?.close();
  await t?.stop();
  t = undefined;
  probe = undefined;
  control = undefined;
});

const ALL = ['exec-kill', 'connect-refuse', 'write-kill', 'quarantine', 'capture', 'kill'];
const exec = (cg: keyof typeof id, pid: number, file = '/usr/bin/app') => ({ pid, cgroupId: id[cg], exec: { filename: file, exe: file, argv: [file], cwd: '/' } });

async function start(vigilMode?: 'enforce', promotion = { minLearningSeconds: 0, quietSeconds: 1 } as Record<string, number>) {
  const engine = await TestEngine.start({
    sinks: [],
    workloads: [{ name: 'vigil', cgroup: '/vigil', ...(vigilMode ? { mode: vigilMode } : {}) }, { name: 'app', cgroup: '/app' }],
    profiles: { promotion },
  }, { cgroupMount: cgroups.dir });
  t = engine;
  const alerts: Alert[] = [];
  engine.engine.onAlert((a) => alerts.push(a));
  const p = SyntheticProbe.connect(`unix://${engine.dir}/engine.sock`, { capabilities: ALL, cgroupId: id['vigil/probe'] });
  probe = p;
  p.answer = () => ({ ok: true, error: '', detail: 'done' });
  p.sendBatch([exec('vigil/probe', 20, '/usr/bin/vigil-probe'), exec('app/a', 10)]);
  await waitFor('both workloads seen', () => engine.events.length === 2);
  control = new ControlClient(engine.config.control.listen);
  return { engine, alerts, p, control };
}

const policiesFor = (p: SyntheticProbe, ...roots: number[]) => p.commands.filter((c) => c.setPolicy && roots.includes(c.setPolicy.rootCgroupId) && c.setPolicy.exec);

describe('Vigil does not enforce, quarantine or kill itself', () => {
  it('refuses enforce mode for the workload holding the probe, says why, and the mode stays', async () => {
    const { engine, p, control } = await start();
    const r = await control.setMode('vigil', 'enforce');
    expect(r.ok).toBe(false);
    expect(r.error).toBe("cannot enforce: Vigil does not enforce vigil: it holds Vigil's own processes: the probe (pid 1) runs in cgroup /vigil/probe (enforcing it would stop Vigil itself)");
    expect(engine.engine.workloads.find('vigil')!.mode).toBe('learn');
    expect(policiesFor(p, id.vigil, id['vigil/probe'])).toEqual([]);
    // Another workload is enforced as ever.
    expect(await control.setMode('app', 'enforce')).toMatchObject({ ok: true });
    expect(policiesFor(p, id.app, id['app/a']).length).toBeGreaterThan(0);
    // vigil status says which cgroups are Vigil's and which workload is never enforced.
    const s = await control.status();
    expect(s.vigilCgroups).toContain(`the probe (pid 1): /vigil/probe (cgroup id ${id['vigil/probe']})`);
    expect(s.workloads.find((w) => w.name === 'vigil')!.notEnforceable).toBe("it holds Vigil's own processes: the probe (pid 1) runs in cgroup /vigil/probe");
    expect(s.workloads.find((w) => w.name === 'app')!.notEnforceable).toBe('');
  });

  it('refuses to quarantine it or kill its processes', async () => {
    const { p, control } = await start();
    const q = await control.quarantine('vigil', 'test');
    expect(q).toMatchObject({ ok: false, error: "Vigil does not quarantine vigil: it holds Vigil's own processes: the probe (pid 1) runs in cgroup /vigil/probe (a quarantine would cut Vigil itself off)" });
    expect((await control.status()).quarantined).toEqual([]);
    const k = await control.kill(20);
    expect(k).toMatchObject({ ok: false, error: "Vigil does not kill pid 20: it runs in Vigil's own cgroup /vigil/probe (the probe (pid 1))" });
    expect(p.commands.filter((c) => c.quarantine || c.kill)).toEqual([]);
    // Others' processes are killed as ever.
    expect(await control.kill(10)).toMatchObject({ ok: true });
    expect(p.commands.filter((c) => c.kill).map((c) => c.kill!.pid)).toEqual([10]);
  });

  it('a promotion to enforce stops at monitor with its own alert; only real promotions say "Workload promoted"', async () => {
    const { engine, alerts, p } = await start(undefined, { minLearningSeconds: 0, quietSeconds: 1, enforceAfterCleanSeconds: 1 });
    const failed = await waitFor('the failed promotion alerted', () => alerts.find((a) => a.rule === 'Workload promotion failed' && a.workload.name === 'vigil'), 15_000);
    expect(failed.message).toMatch(/^vigil: not promoted monitor → enforce \(no anomaly for 1 s\), it stays in monitor: cannot enforce: Vigil does not enforce vigil: it holds Vigil's own processes: the probe \(pid 1\) runs in cgroup \/vigil\/probe/);
    expect(failed.priority).toBe('warning');
    await waitFor('app promoted to enforce', () => engine.engine.workloads.find('app')!.mode === 'enforce', 15_000);
    // Tried again after another clean period: the same refusal is not alerted twice.
    await new Promise((r) => setTimeout(r, 2500));
    expect(engine.engine.workloads.find('vigil')!.mode).toBe('monitor');
    const promoted = alerts.filter((a) => a.rule === 'Workload promoted').map((a) => `${a.workload.name} ${a.workload.mode}`).sort();
    expect(promoted).toEqual(['app enforce', 'app monitor', 'vigil monitor']);
    expect(alerts.filter((a) => a.rule === 'Workload promotion failed')).toHaveLength(1);
    expect(policiesFor(p, id.vigil, id['vigil/probe'])).toEqual([]);
  });

  it('a workload configured in enforce mode that turns out to hold the probe goes back to monitor, alerted', async () => {
    const { engine, alerts, p } = await start('enforce');
    const a = await waitFor('the refusal alerted', () => alerts.find((x) => x.rule === "Enforcement refused for Vigil's own workload"));
    expect(a.priority).toBe('error');
    expect(a.message).toMatch(/^vigil is not enforced and is back in monitor: it holds Vigil's own processes: the probe \(pid 1\) runs in cgroup \/vigil\/probe/);
    expect(engine.engine.workloads.find('vigil')!.mode).toBe('monitor');
    expect(policiesFor(p, id.vigil, id['vigil/probe'])).toEqual([]);
  });

  it('refuses at load a configured enforce-mode workload over the engine\'s own cgroup', async () => {
    await expect(TestEngine.start({ sinks: [], workloads: [{ name: 'everything', cgroup: '/', mode: 'enforce' }] }, { cgroupMount: cgroups.dir }))
      .rejects.toThrow(/^config workloads\[0\] \(everything\): mode enforce over cgroup \/ would enforce Vigil itself, it holds Vigil's own processes: the engine \(pid \d+\) runs in cgroup \//);
  });
});
