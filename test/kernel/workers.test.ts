// engine.workers: 2 on the real kernel with the real probe. Two workloads
// whose keys fall to different detection workers do real things in their
// cgroups: each learns, is promoted, raises its anomalies and signature
// alerts from its own worker, and the one set to enforce mode is stopped
// in the kernel (its policy sent by the main thread at its worker's
// request); the exported profile has what the workload did.
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Alert } from '../../src/model/alert.js';
import { ControlClient } from '../../src/control/client.js';
import { ownerOf } from '../../src/shard/protocol.js';
import { TestEngine } from '../support/engine.js';
import { describeKernel, TestCgroupTree, waitFor, type TestCgroup } from '../support/kernel.js';

describeKernel('detection worker threads on the real kernel (engine.workers: 2)', () => {
  let t: TestEngine;
  let tree: TestCgroupTree;
  let control: ControlClient;
  const groups: TestCgroup[] = [];
  const alerts: Alert[] = [];
  const etcFile = `/etc/vigil-workers-${randomBytes(4).toString('hex')}`;
  // Named workloads whose keys the two workers own one each.
  const names = ['shop-web', 'shop-db', 'shop-cache', 'shop-api'];
  let pair: [string, string];

  beforeAll(async () => {
    tree = new TestCgroupTree();
    const a = names.find((n) => ownerOf(`named:${n}`, 2) === 0)!;
    const b = names.find((n) => ownerOf(`named:${n}`, 2) === 1)!;
    pair = [a, b];
    groups.push(tree.group('a'), tree.group('b'));
    t = await TestEngine.start({
      engine: { workers: 2 },
      workloads: [{ name: a, cgroup: groups[0]!.path }, { name: b, cgroup: groups[1]!.path }],
      sinks: [],
      profiles: { promotion: { minLearningSeconds: 0, quietSeconds: 2 } },
    });
    t.engine.onAlert((x) => alerts.push(x));
    await t.startProbe();
    control = new ControlClient(t.config.control.listen);
  });

  afterAll(async () => {
    control?.close();
    await t?.stop();
    await tree?.remove();
    rmSync(etcFile, { force: true });
  });

  const benign = (g: TestCgroup) => g.run('/bin/sh', ['-c', 'cat /etc/hostname > /dev/null && echo ok']);
  const of = (name: string) => alerts.filter((x) => x.workload.name === name);

  it('splits the workloads over two workers that each learn and are promoted', async () => {
    expect(t.engine.workers?.count).toBe(2);
    const keys = pair.map((n) => `named:${n}`);
    expect(keys.map((k) => t.engine.workers!.ownerOfKey(k))).toEqual([0, 1]);
    for (let i = 0; i < 3; i++) for (const g of groups) expect((await benign(g)).code).toBe(0);
    for (const n of pair) {
      const w = await waitFor(`${n} seen`, () => t.engine.workloads.find(n));
      // The mode the worker set reaches the main thread's registry (vigil status reads it).
      await waitFor(`${n} promoted to monitor`, () => w.mode === 'monitor', 15_000);
      expect(of(n).find((x) => x.rule === 'Workload promoted')?.message).toMatch(new RegExp(`${n}: learn → monitor`));
    }
    expect(alerts.filter((x) => x.source === 'profile')).toEqual([]);
  });

  it('raises each workload\'s anomalies and rule alerts from its own worker', async () => {
    for (const g of groups) expect((await g.run('/bin/sh', ['-c', '/usr/bin/id -u; cat /etc/shadow > /dev/null; true'])).code).toBe(0);
    for (const n of pair) {
      const exe = await waitFor(`${n}: new-executable`, () => of(n).find((x) => x.rule === 'new-executable' && x.message.includes('/usr/bin/id')));
      // The parent comes from the worker's own process tree.
      expect(exe.message).toMatch(new RegExp(`${n}: new executable /usr/bin/id, parent /usr/bin/dash`));
      await waitFor(`${n}: shadow read rule`, () => of(n).find((x) => x.source === 'rule' && x.rule === 'Shadow or sudoers file read'));
    }
  });

  it('enforces one workload in the kernel while the other only monitors', async () => {
    const [enforced, monitored] = pair;
    const r = await control.setMode(enforced, 'enforce');
    expect(r).toMatchObject({ ok: true, from: 'monitor' });
    expect(t.engine.workloads.find(enforced)!.mode).toBe('enforce');
    const before = alerts.length;
    const mech = t.engine.enforcement.mechanisms().find((m) => m.operation === 'create')?.mechanism ?? '';
    const denies = ['bpf-lsm', 'fmod_ret'].includes(mech);

    // A write below /etc from the enforced workload: denied before the file exists, or the writer killed after its open.
    const sh = await groups[0]!.run('/bin/sh', ['-c', `echo x > ${etcFile}; echo survived`]);
    expect(sh.stdout).not.toContain('survived');
    if (denies) expect(existsSync(etcFile)).toBe(false);
    else expect(readFileSync(etcFile, 'utf8')).toBe('');
    const stopped = await waitFor('writer stopped', () => alerts.slice(before).find((x) => x.workload.name === enforced && x.rule === 'new-file-write'));
    expect(stopped.action).toMatchObject({ taken: denies ? 'write denied' : 'writer killed', ok: true });
    rmSync(etcFile, { force: true });

    // The same write from the monitored workload happens, and is an anomaly.
    const ok = await groups[1]!.run('/bin/sh', ['-c', `echo y > ${etcFile}; echo survived`]);
    expect(ok.stdout).toBe('survived\n');
    expect(readFileSync(etcFile, 'utf8')).toBe('y\n');
    const seen = await waitFor('write anomaly', () => alerts.slice(before).find((x) => x.workload.name === monitored && x.rule === 'new-file-write'));
    expect(seen.action.taken).toBe('none');
    rmSync(etcFile, { force: true });
  });

  it('exports what each worker learned', async () => {
    for (const n of pair) {
      const exported = await control.exportPolicy(n, 'yaml');
      expect(exported.ok).toBe(true);
      expect(exported.text).toContain(`name: ${n}`);
      expect(exported.text).toContain('- exe: /usr/bin/cat');
    }
    expect((await control.exportPolicy(pair[0], 'yaml')).text).toContain('mode: enforce');
  });
});
