// Learned profiles survive an engine restart, and a corrupt profile file is
// set aside and reported, never silently reset. Real engine, real gRPC
// from a synthetic probe, real files.
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { useFakeCgroupMount } from '../../support/cgroup-hooks.js';
import { TestEngine } from '../../support/engine.js';
import { waitFor } from '../../support/kernel.js';
import { SyntheticProbe } from '../../support/synthetic-probe.js';

const cgroups = useFakeCgroupMount(['app']);

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function engineWithProbe(dir?: string): Promise<{ t: TestEngine; probe: SyntheticProbe }> {
  const t = await TestEngine.start({ sinks: [], workloads: [{ name: 'app', cgroup: '/app' }] }, { cgroupMount: cgroups.dir, ...(dir ? { dir } : {}) });
  const probe = SyntheticProbe.connect(`unix://${t.dir}/engine.sock`);
  await waitFor('probe session', () => t.engine.ingest.sessions().length === 1);
  return { t, probe };
}

describe('profile persistence', () => {
  it('keeps what was learned, and the mode, across an engine restart', async () => {
    const first = await engineWithProbe();
    first.probe.sendBatch([
      { pid: 7, cgroupId: cgroups.id.app, exec: { filename: '/usr/bin/app', exe: '/usr/bin/app', argv: ['app'], cwd: '/' } },
      { pid: 7, cgroupId: cgroups.id.app, open: { path: '/etc/app.conf', flags: 0, result: 3 } },
      { pid: 7, cgroupId: cgroups.id.app, connect: { remote: { family: 2, address: Buffer.from([10, 0, 0, 5]), port: 5432 }, protocol: 6, result: 0 } },
    ]);
    await waitFor('events', () => first.t.events.length === 3);
    const w = first.t.engine.workloads.find('app')!;
    expect((await first.t.engine.profiles.changeMode(w, 'monitor')).ok).toBe(true);
    const before = first.t.engine.profiles.export('app');
    await first.probe.close();
    await first.t.stop({ keepDir: true });

    const second = await engineWithProbe(first.t.dir);
    cleanups.push(async () => {
      await second.probe.close();
      await second.t.stop();
    });
    expect(second.t.engine.workloads.find('app')!.mode).toBe('monitor');
    expect(second.t.engine.profiles.export('app')).toEqual(before);
    // And it decides as before: the learned connect is quiet, a new one is not.
    const alerts: string[] = [];
    second.t.engine.onAlert((a) => alerts.push(a.message));
    second.probe.sendBatch([
      { pid: 8, cgroupId: cgroups.id.app, connect: { remote: { family: 2, address: Buffer.from([10, 0, 0, 5]), port: 5432 }, protocol: 6, result: 0 } },
      { pid: 8, cgroupId: cgroups.id.app, connect: { remote: { family: 2, address: Buffer.from([10, 0, 0, 6]), port: 22 }, protocol: 6, result: 0 } },
    ]);
    await waitFor('the anomaly', () => alerts.length === 1);
    expect(alerts).toEqual(['app: connects to a new destination 10.0.0.6 port 22/tcp']);
  });

  it('sets a corrupt profile file aside, says so, and keeps the good ones', async () => {
    const first = await engineWithProbe();
    first.probe.sendBatch([{ pid: 7, cgroupId: cgroups.id.app, exec: { filename: '/usr/bin/app', exe: '/usr/bin/app', argv: ['app'], cwd: '/' } }]);
    await waitFor('event', () => first.t.events.length === 1);
    await first.probe.close();
    await first.t.stop({ keepDir: true });
    const dir = join(first.t.dir, 'state', 'profiles');
    writeFileSync(join(dir, 'broken-00000000.json'), '{"apiVersion": "vigil.dev/v1alpha1", "kind": "Workl');

    const second = await engineWithProbe(first.t.dir);
    cleanups.push(async () => {
      await second.probe.close();
      await second.t.stop();
    });
    const files = readdirSync(dir);
    expect(files.some((f) => f.startsWith('broken-00000000.json.corrupt-'))).toBe(true);
    expect(files).not.toContain('broken-00000000.json');
    const report = second.t.logLines.find((l) => l.msg === 'state file is corrupt: set aside, starting without it');
    expect(report).toMatchObject({ level: 'error' });
    expect(String(report!.reason)).toMatch(/JSON/);
    expect(second.t.engine.profiles.export('app')[0]!.spec.processes).toEqual([{ exe: '/usr/bin/app', users: [0], args: [''] }]);
  });
});
