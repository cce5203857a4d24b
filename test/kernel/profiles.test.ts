// Behavioural baselines on the real kernel: a workload learns what it
// does, is promoted to monitor when nothing new happens, then raises
// anomalies for new behaviour — and in enforce mode the kernel stops it.
// The exported policy, applied to a fresh engine, makes the same calls.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Alert } from '../../src/model/alert.js';
import { ControlClient } from '../../src/control/client.js';
import { TestEngine } from '../support/engine.js';
import { describeKernel, TestCgroupTree, waitFor, type TestCgroup } from '../support/kernel.js';

describeKernel('behavioural profiles on the real kernel', () => {
  let t: TestEngine;
  let tree: TestCgroupTree;
  let web: TestCgroup;
  let control: ControlClient;
  let work: string;
  const servers: Server[] = [];
  let allowedPort: number;
  let newPort: number;
  const alerts: Alert[] = [];
  const etcFile = `/etc/vigil-test-${randomBytes(4).toString('hex')}`;

  const listen = async (): Promise<number> => {
    const s = createServer((_req, res) => res.end('ok\n'));
    servers.push(s);
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    return (s.address() as { port: number }).port;
  };

  const config = () => ({
    workloads: [{ name: 'shop-web', cgroup: tree.root }],
    sinks: [],
    profiles: { promotion: { minLearningSeconds: 0, quietSeconds: 2 } },
  });

  /** What the workload normally does. */
  const benign = () =>
    web.run('/bin/sh', ['-c', `cat /etc/hostname > /dev/null && curl -s -o /dev/null http://127.0.0.1:${allowedPort}/ok && echo done > ${work}/out.txt`]);

  const startEngine = async (dir?: string): Promise<void> => {
    t = await TestEngine.start(config(), dir ? { dir } : {});
    t.engine.onAlert((a) => alerts.push(a));
    await t.startProbe();
    control = new ControlClient(t.config.control.listen);
  };

  beforeAll(async () => {
    tree = new TestCgroupTree();
    web = tree.group('web');
    work = mkdtempSync(join(tmpdir(), 'vigil-profile-'));
    allowedPort = await listen();
    newPort = await listen();
    await startEngine();
  });

  afterAll(async () => {
    control?.close();
    await t?.stop();
    for (const s of servers) s.close();
    await tree?.remove();
    rmSync(work, { recursive: true, force: true });
    rmSync(etcFile, { force: true });
  });

  /** No warning where every operation is denied in the kernel; else the fallback named. */
  const expectWarningsForThisNode = (warnings: string[]) => {
    const weak = t.engine.enforcement.mechanisms().filter((m) => m.mechanism === 'kill-at-entry' || m.mechanism === '');
    if (weak.length === 0) expect(warnings).toEqual([]);
    else for (const m of weak) expect(warnings.join('\n')).toContain(m.operation);
  };

  const anomalies = (kind: string) => alerts.filter((a) => a.source === 'profile' && a.rule === kind);

  it('learns, then is promoted to monitor once nothing new happens', async () => {
    expect(t.engine.workloads.find('shop-web')).toBeUndefined();
    for (let i = 0; i < 3; i++) expect((await benign()).code).toBe(0);
    const w = await waitFor('the workload seen', () => t.engine.workloads.find('shop-web'));
    expect(w.mode).toBe('learn');
    await waitFor('promotion to monitor', () => w.mode === 'monitor', 15_000);
    // This engine sees every cgroup on the node (other tests' too): its own workload's promotion.
    const promoted = alerts.find((a) => a.rule === 'Workload promoted' && a.workload.name === 'shop-web');
    expect(promoted?.message).toMatch(/shop-web: learn → monitor/);
    // Learning raised no anomaly.
    expect(alerts.filter((a) => a.source === 'profile')).toEqual([]);
  });

  it('raises nothing for the same behaviour in monitor mode', async () => {
    const before = alerts.length;
    expect((await benign()).code).toBe(0);
    await benign();
    await new Promise((r) => setTimeout(r, 300));
    expect(alerts.slice(before).filter((a) => a.source === 'profile')).toEqual([]);
  });

  it('raises an anomaly for each new behaviour in monitor mode, naming what differs', async () => {
    expect((await web.run('/bin/sh', ['-c', '/usr/bin/id -u; true'])).code).toBe(0);
    const exe = await waitFor('new-executable', () => anomalies('new-executable').find((a) => a.message.includes('/usr/bin/id')));
    expect(exe.message).toMatch(/shop-web: new executable \/usr\/bin\/id, parent \/usr\/bin\/dash/);
    expect(exe).toMatchObject({ priority: 'warning', action: { taken: 'none' } });
    expect(exe.tags).toContain('T1059');

    expect((await web.run('/bin/sh', ['-c', `curl -s -o /dev/null http://127.0.0.1:${newPort}/x`])).code).toBe(0);
    const egress = await waitFor('new-egress', () => anomalies('new-egress').find((a) => a.message.includes(String(newPort))));
    expect(egress.message).toBe(`shop-web: connects to a new destination 127.0.0.1 port ${newPort}/tcp`);

    expect((await web.run('/bin/sh', ['-c', `echo x > ${etcFile}`])).code).toBe(0);
    const write = await waitFor('new-file-write', () => anomalies('new-file-write').find((a) => a.message.includes(etcFile)));
    expect(write.message).toBe(`shop-web: writes a new file ${etcFile}`);
    // Monitor mode only watches: the write happened.
    expect(readFileSync(etcFile, 'utf8')).toBe('x\n');
    rmSync(etcFile);
  });

  it('stops new behaviour in the kernel in enforce mode, and alerts on every block', async () => {
    const r = await control.setMode('shop-web', 'enforce');
    expect(r).toMatchObject({ ok: true, from: 'monitor' });
    expectWarningsForThisNode(r.warnings);
    const before = alerts.length;

    // What it learned still runs, and raises nothing.
    expect((await benign()).code).toBe(0);
    await new Promise((r) => setTimeout(r, 300));
    expect(alerts.slice(before).filter((a) => a.source === 'profile').map((a) => a.message)).toEqual([]);

    // How this node stops each operation (test/kernel/enforce.test.ts goes through them all).
    const mech = (op: string) => t.engine.enforcement.mechanisms().find((m) => m.operation === op)?.mechanism;
    const denies = (op: string) => ['bpf-lsm', 'fmod_ret'].includes(mech(op) ?? '');

    // A new executable is denied at exec (EPERM: the shell says 126), or
    // with the fallback killed at exec before it runs an instruction.
    const id = await web.run('/bin/sh', ['-c', '/usr/bin/id -u; echo $?']);
    expect(id.stdout).toBe(denies('exec') ? '126\n' : '137\n'); // 128 + SIGKILL: the shell saw its child killed
    const killed = await waitFor('exec blocked', () => alerts.slice(before).find((a) => a.rule === 'new-executable'));
    expect(killed).toMatchObject({ priority: 'error', action: { taken: denies('exec') ? 'exec denied' : 'killed at exec', ok: true } });
    expect(killed.event).toMatchObject({ type: 'exec', blocked: true });

    // A connect to a destination it never used is refused.
    const curl = await web.run('/bin/sh', ['-c', `curl -s -o /dev/null http://127.0.0.1:${newPort}/blocked`]);
    expect(curl.code).toBe(7); // curl: could not connect
    const refused = await waitFor('connect refused', () => alerts.slice(before).find((a) => a.rule === 'new-egress'));
    expect(refused).toMatchObject({ action: { taken: 'connect refused', ok: true } });
    expect(refused.event).toMatchObject({ type: 'connect', port: newPort, result: -1, blocked: true });

    // A write below /etc: denied before the file exists, or with the
    // fallback the shell is killed after its open(O_CREAT|O_TRUNC)
    // completed: the file is then there, created empty, and nothing of "x"
    // was written.
    const sh = await web.run('/bin/sh', ['-c', `echo x > ${etcFile}; echo survived`]);
    if (denies('create')) {
      expect(sh.stderr).toMatch(/Operation not permitted/);
      expect(existsSync(etcFile)).toBe(false);
    } else {
      expect(sh.code).toBeNull();
      expect(sh.stdout).not.toContain('survived');
      expect(readFileSync(etcFile, 'utf8')).toBe(''); // what changed: an empty file was created
    }
    const writer = await waitFor('writer stopped', () => alerts.slice(before).find((a) => a.rule === 'new-file-write'));
    expect(writer).toMatchObject({ action: { taken: denies('create') ? 'write denied' : 'writer killed', ok: true } });
    rmSync(etcFile, { force: true });

    // Every block was an alert naming what was stopped.
    const blocks = alerts.slice(before).filter((a) => a.source === 'profile' && a.action.taken !== 'none');
    expect(blocks.map((a) => a.action.taken).sort()).toEqual(
      ['connect refused', denies('exec') ? 'exec denied' : 'killed at exec', denies('create') ? 'write denied' : 'writer killed'].sort(),
    );
  });

  it('exports reviewable YAML that a fresh engine applies to make the same decisions', async () => {
    const exported = await control.exportPolicy('shop-web', 'yaml');
    expect(exported.ok).toBe(true);
    expect(exported.text).toMatch(/^apiVersion: vigil\.dev\/v1alpha1\nkind: WorkloadProfile\n/);
    expect(exported.text).toContain('mode: enforce');
    expect(exported.text).toContain('- exe: /usr/bin/curl');
    expect(exported.text).toContain(`port: ${allowedPort}`);
    expect(exported.text).not.toContain(`port: ${newPort}`);
    // Stable: the same profile exports the same text.
    expect((await control.exportPolicy('shop-web', 'yaml')).text).toBe(exported.text);

    const netpol = await control.exportPolicy('shop-web', 'networkpolicy');
    expect(netpol.text).toContain('kind: NetworkPolicy');
    expect(netpol.text).toContain('cidr: 127.0.0.1/32');

    // A fresh engine with no memory of this workload: switch the old one off first.
    control.close();
    await t.stop();
    const policyFile = join(work, 'shop-web.yaml');
    writeFileSync(policyFile, exported.text);
    await startEngine();
    expect(t.engine.workloads.find('shop-web')).toBeUndefined();
    const applied = await control.applyPolicy(readFileSync(policyFile, 'utf8'), policyFile);
    expect(applied).toMatchObject({ ok: true, applied: ['shop-web (enforce)'] });
    expectWarningsForThisNode(applied.warnings);
    expect((await control.diffPolicy(exported.text, policyFile)).text).toBe('shop-web: no differences\n');

    expect((await benign()).code).toBe(0);
    const denied = ['bpf-lsm', 'fmod_ret'].includes(t.engine.enforcement.mechanisms().find((m) => m.operation === 'exec')?.mechanism ?? '');
    expect((await web.run('/bin/sh', ['-c', '/usr/bin/id -u; echo $?'])).stdout).toBe(denied ? '126\n' : '137\n');
    expect((await web.run('/bin/sh', ['-c', `curl -s -o /dev/null http://127.0.0.1:${newPort}/`])).code).toBe(7);
  });

  it('rejects an invalid policy with file, line and key, changing nothing', async () => {
    const bad = ['apiVersion: vigil.dev/v1alpha1', 'kind: WorkloadProfile', 'metadata: { name: x }', 'spec:', '  workload: { key: "named:shop-web", name: shop-web, kind: named }', '  mode: protect', ''].join('\n');
    const r = await control.applyPolicy(bad, 'bad.yaml');
    expect(r.ok).toBe(false);
    expect(r.error).toMatch(/^bad\.yaml:6:9: spec\.mode: /);
    expect(t.engine.workloads.find('shop-web')!.mode).toBe('enforce');
  });
});
