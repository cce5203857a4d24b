// A probe that connects to an engine holding a workload in enforce mode
// gets that workload's kernel policy once per policy root: enforceAll
// re-enforces each workload, then reapply() puts back whatever is held,
// which used to send every policy a second time. Real engine, real gRPC
// from synthetic probes; a directory tree stands in for the cgroup mount.
import { afterEach, expect, it } from 'vitest';
import { useFakeCgroupMount } from '../../support/cgroup-hooks.js';
import { TestEngine } from '../../support/engine.js';
import { waitFor } from '../../support/kernel.js';
import { SyntheticProbe } from '../../support/synthetic-probe.js';

const cgroups = useFakeCgroupMount(['app', 'app/a']);
const { id } = cgroups;

let t: TestEngine;
const probes: SyntheticProbe[] = [];
afterEach(async () => {
  for (const p of probes.splice(0)) await p.close();
  await t?.stop();
});

const CAPS = ['exec-kill', 'connect-refuse', 'write-kill', 'quarantine', 'capture', 'kill'];

function connect(): SyntheticProbe {
  const p = SyntheticProbe.connect(`unix://${t.dir}/engine.sock`, { capabilities: CAPS });
  p.answer = () => ({ ok: true, error: '', detail: 'done' });
  probes.push(p);
  return p;
}

/** setPolicy commands a probe received, counted per root cgroup id. */
function policiesPerRoot(p: SyntheticProbe): Map<number, number> {
  const n = new Map<number, number>();
  for (const c of p.commands) if (c.setPolicy) n.set(Number(c.setPolicy.rootCgroupId), (n.get(Number(c.setPolicy.rootCgroupId)) ?? 0) + 1);
  return n;
}

it('a probe that connects gets each enforced root\'s policy once, with the protected paths', async () => {
  t = await TestEngine.start({ sinks: [], workloads: [{ name: 'app', cgroup: '/app' }] }, { cgroupMount: cgroups.dir });
  const first = connect();
  first.sendBatch([{ pid: 10, cgroupId: id['app/a'], exec: { filename: '/usr/bin/app', exe: '/usr/bin/app', argv: ['app'], cwd: '/' } }]);
  await waitFor('learned', () => t.events.length === 1);
  expect((await t.engine.profiles.changeMode(t.engine.workloads.find('app')!, 'enforce')).ok).toBe(true);
  expect(policiesPerRoot(first)).toEqual(new Map([[id.app, 1], [id['app/a'], 1]]));

  // The probe restarts: a new session with empty maps.
  await first.close();
  const second = connect();
  await waitFor('the policies and protected paths sent to the new probe', () =>
    policiesPerRoot(second).size === 2 && second.commands.some((c) => c.setProtectedPaths));
  // Whatever else is on its way has arrived by now (the engine sends them back to back).
  await new Promise((r) => setTimeout(r, 300));
  expect(policiesPerRoot(second)).toEqual(new Map([[id.app, 1], [id['app/a'], 1]]));
  const p = second.commands.find((c) => c.setPolicy)!.setPolicy!;
  expect(p).toMatchObject({ exec: true, write: true });
  expect(p.execAllow).toContain('/usr/bin/app');
});
