// A mkdir or a link a security hook denied below a protected path reaches
// the engine as the call's own record, marked blocked (bpf/deny.bpf.h marks
// the record the mkdir/link syscall parked): the engine raises it as a
// denied write naming the mechanism, as it did when such denials came as
// 'fileop' records. The kernel side runs in the QEMU guests (BPF LSM and
// fmod_ret, test/vm/); here a synthetic probe sends what they send, over
// real gRPC, since this host's kernel refuses both hooks.
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Alert } from '../../../src/model/alert.js';
import { useFakeCgroupMount } from '../../support/cgroup-hooks.js';
import { TestEngine } from '../../support/engine.js';
import { waitFor } from '../../support/kernel.js';
import { SyntheticProbe } from '../../support/synthetic-probe.js';

// A directory tree stands in for the cgroup v2 mount: ids are inode numbers, as on the real one.
const cgroups = useFakeCgroupMount({ app: 'shop/app' });
let t: TestEngine;
let probe: SyntheticProbe;
const alerts: Alert[] = [];

beforeAll(async () => {
  t = await TestEngine.start({ workloads: [{ name: 'app', cgroup: '/shop/app', mode: 'enforce' }], sinks: [] }, { cgroupMount: cgroups.dir });
  t.engine.onAlert((a) => alerts.push(a));
  probe = SyntheticProbe.connect(`unix://${t.dir}/engine.sock`);
  probe.answer = () => ({ ok: true, error: '', detail: '' });
  await waitFor('probe session', () => t.engine.ingest.sessions().length === 1);
});

afterAll(async () => {
  await probe?.close();
  await t?.stop();
});

it('raises a mkdir, a symlink and a hard link denied by the BPF LSM or fmod_ret as denied writes; a mkdir nobody denied is not a write', async () => {
  const BPF_LSM = 1;
  const FMOD_RET = 2;
  probe.sendBatch([
    { pid: 500, ppid: 1, cgroupId: cgroups.id.app, blocked: true, blockedBy: BPF_LSM, mkdir: { path: '/etc/vigil-made', mode: 0o755, result: -1 } },
    { pid: 501, ppid: 1, cgroupId: cgroups.id.app, blocked: true, blockedBy: FMOD_RET, link: { call: 'symlinkat', target: '/tmp/x', path: '/usr/bin/vigil-link', result: -1 } },
    { pid: 502, ppid: 1, cgroupId: cgroups.id.app, blocked: true, blockedBy: BPF_LSM, link: { call: 'linkat', target: '/etc/shadow', path: '/etc/vigil-hard', result: -1 } },
    { pid: 503, ppid: 1, cgroupId: cgroups.id.app, mkdir: { path: '/tmp/scratch', mode: 0o700, result: 0 } },
  ]);
  const denied = (path: string) => waitFor(`the denied write of ${path}`, () =>
    alerts.find((a) => a.rule === 'new-file-write' && a.event.path === path));
  const made = await denied('/etc/vigil-made');
  expect(made.action).toMatchObject({ taken: 'write denied', ok: true });
  expect(made.fields['vigil.mechanism']).toBe('bpf-lsm');
  expect(made.event).toMatchObject({ type: 'mkdir', blocked: true });
  const sym = await denied('/usr/bin/vigil-link');
  expect(sym.fields['vigil.mechanism']).toBe('fmod_ret');
  expect(sym.event).toMatchObject({ type: 'link', call: 'symlinkat', target: '/tmp/x' });
  await denied('/etc/vigil-hard');
  await waitFor('all four events', () => t.events.length >= 4);
  expect(alerts.filter((a) => a.event.path === '/tmp/scratch')).toEqual([]);
});
