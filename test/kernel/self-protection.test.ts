// Vigil never enforces itself, on the real kernel: the real probe runs in a
// cgroup of its own inside a workload (as in a pod of its own). Enforce mode
// for that workload is refused with the reason, by hand and by automatic
// promotion (which stops at monitor and says so), while its neighbour is
// enforced; the probe keeps running and the workload's programs still run.
import { chmodSync, mkdtempSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ControlClient } from '../../src/control/client.js';
import type { Alert } from '../../src/model/alert.js';
import { TestEngine } from '../support/engine.js';
import { describeKernel, probeBinary, TestCgroupTree, waitFor, type TestCgroup } from '../support/kernel.js';

// Also from a private cgroup namespace (as in a container), where the probe's
// /proc/self/cgroup names the namespace's root and not its place in the tree.
for (const privateNs of [false, true]) describeKernel(`Vigil never enforces itself (the real probe inside a workload${privateNs ? ', in a private cgroup namespace' : ''})`, () => {
  let t: TestEngine;
  let tree: TestCgroupTree;
  let own: TestCgroup;
  let app: TestCgroup;
  let control: ControlClient;
  let wrapperDir: string;
  let probePid: number;
  const alerts: Alert[] = [];
  const mode = (g: TestCgroup) => t.engine.workloads.find(g.path)?.mode;

  beforeAll(async () => {
    tree = new TestCgroupTree();
    own = tree.group('vigil');
    app = tree.group('app');
    // The probe joins the workload's cgroup before it starts (exec keeps the pid).
    wrapperDir = mkdtempSync(join(tmpdir(), 'vigil-self-'));
    const wrapper = join(wrapperDir, 'probe-in-cgroup');
    writeFileSync(wrapper, `#!/bin/sh\necho $$ > '${own.dir}/cgroup.procs' && exec ${privateNs ? '/usr/bin/unshare --cgroup ' : ''}'${probeBinary}' "$@"\n`);
    chmodSync(wrapper, 0o755);
    // This engine sees every cgroup on the node (other tests' too): they stay in learn
    // (an hour to monitor), so only the two workloads put in monitor below are promoted to enforce.
    t = await TestEngine.start({ sinks: [], profiles: { promotion: { minLearningSeconds: 3600, quietSeconds: 3600, enforceAfterCleanSeconds: 2 } } });
    t.engine.onAlert((a) => alerts.push(a));
    await t.startProbe({ path: wrapper });
    const hello = t.engine.ingest.sessions().find((s) => s.connected)!.hello;
    probePid = hello.probePid;
    // The probe itself says where it runs, whatever cgroup namespace it is in.
    expect(hello.cgroupId).toBe(Number(own.id));
    // The probe is in a cgroup namespace of its own (rooted at its cgroup): it reads "0::/" for itself.
    if (privateNs) expect(readlinkSync(`/proc/${probePid}/ns/cgroup`)).not.toBe(readlinkSync('/proc/self/ns/cgroup'));
    control = new ControlClient(t.config.control.listen);
    // Each workload learns one program; the probe's own process is in `own` too.
    expect((await own.run('/bin/true', [])).code).toBe(0);
    expect((await app.run('/bin/true', [])).code).toBe(0);
    await waitFor('both workloads seen', () => t.engine.workloads.find(own.path) && t.engine.workloads.find(app.path));
    for (const g of [own, app]) expect(await control.setMode(g.path, 'monitor')).toMatchObject({ ok: true });
  }, 60_000);

  afterAll(async () => {
    control?.close();
    await t?.stop();
    await tree?.remove();
    rmSync(wrapperDir, { recursive: true, force: true });
  });

  const reason = () => `it holds Vigil's own processes: the probe (pid ${probePid}) runs in cgroup ${own.path}`;

  it('automatic promotion stops at monitor for the workload holding the probe, with an alert saying why; its neighbour is enforced', async () => {
    const failed = await waitFor('the refused promotion alerted', () => alerts.find((a) => a.rule === 'Workload promotion failed' && a.workload.name === own.path), 30_000);
    expect(failed.message).toContain(`it stays in monitor: cannot enforce: Vigil does not enforce ${own.path}: ${reason()}`);
    await waitFor('the neighbour promoted to enforce', () => mode(app) === 'enforce', 30_000);
    expect(mode(own)).toBe('monitor');
    const promoted = alerts.filter((a) => a.rule === 'Workload promoted' && [own.path, app.path].includes(a.workload.name)).map((a) => `${a.workload.name} ${a.workload.mode}`);
    expect(promoted).toEqual([`${app.path} enforce`]);
  }, 60_000);

  it('setMode enforce is refused with the reason, the mode stays, and nothing is enforced on it', async () => {
    const r = await control.setMode(own.path, 'enforce');
    expect(r.ok).toBe(false);
    expect(r.error).toBe(`cannot enforce: Vigil does not enforce ${own.path}: ${reason()} (enforcing it would stop Vigil itself)`);
    expect(mode(own)).toBe('monitor');
    const s = await control.status();
    expect(s.workloads.find((w) => w.name === own.path)?.notEnforceable).toBe(reason());
    // The world afterwards: a program it never ran still runs there, the probe lives and still reports it…
    const echo = await own.run('/bin/echo', ['still runs']);
    expect(echo).toMatchObject({ code: 0, stdout: 'still runs\n' });
    expect(() => process.kill(probePid, 0)).not.toThrow();
    await waitFor('the probe still reporting the workload', () => t.of(own.id, 'exec').some((e) => e.pid === echo.pid));
    // …while the enforced neighbour's unlisted program is stopped.
    const id = await app.run('/usr/bin/id', ['-u']);
    expect(id.code).not.toBe(0);
    expect(id.stdout).toBe('');
  }, 60_000);

  it('refuses to quarantine the workload or kill the probe', async () => {
    const q = await control.quarantine(own.path, 'test');
    expect(q.ok).toBe(false);
    expect(q.error).toBe(`Vigil does not quarantine ${own.path}: ${reason()} (a quarantine would cut Vigil itself off)`);
    const k = await control.kill(probePid);
    expect(k.ok).toBe(false);
    expect(k.error).toBe(`Vigil does not kill pid ${probePid}: pid ${probePid} is the probe (pid ${probePid})`);
    expect(() => process.kill(probePid, 0)).not.toThrow();
    expect(t.engine.ingest.sessions().filter((s) => s.connected)).toHaveLength(1);
  });
});
