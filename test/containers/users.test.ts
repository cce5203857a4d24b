// User names in a real container's alerts: a Docker container (dockerd
// started by the test, test/support/runtimes.ts) whose image, built here,
// names uid 4242 `ctrapp` in its /etc/passwd; the real probe on this
// kernel. Vigil must name the container's users from the container's own
// files (read through /proc/<pid>/root), the node's processes from the
// node's, and never follow a container's symlinked /etc/passwd out to the
// node's file.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, existsSync } from 'node:fs';
import { findCgroup2Mount } from '../../src/enrich/cgroups.js';
import { formatStatus } from '../../src/cli/format.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Alert } from '../../src/model/alert.js';
import { TestEngine } from '../support/engine.js';
import { describeRuntimes, TestCgroupTree, waitFor } from '../support/kernel.js';
import { TestDocker, TEST_IMAGE } from '../support/runtimes.js';

const IMAGE = 'vigil-test/ctrusers:1';
const RULE = 'Cat run by a test user';

/** The node's name of a uid, or undefined (the test's expectations follow this node's files). */
function nodeName(uid: number): string | undefined {
  return readFileSync('/etc/passwd', 'utf8').split('\n').map((l) => l.split(':')).find((p) => p[2] === String(uid))?.[0];
}

/** Whether root may read the node's pid 1's root here. */
function pid1Readable(): boolean {
  try {
    readFileSync('/proc/1/root/etc/passwd');
    return true;
  } catch {
    return false;
  }
}

// With detection workers (engine.workers: 2) the worker that owns a container's workload asks the probe through the main thread's link: the same names.
for (const [via, workers] of [['auto', 1], ['probe', 1], ['probe', 2]] as const) describeRuntimes(`user names in a real container's alerts (Docker), files read ${via === 'probe' ? 'by the probe' : 'by the engine'}${workers > 1 ? `, ${workers} detection workers` : ''}`, () => {
  const tag = (via === 'probe' ? '-p' : '') + (workers > 1 ? `-w${workers}` : '');
  let docker: TestDocker;
  let t: TestEngine;
  let dir: string;
  let tree: TestCgroupTree;
  const alerts: Alert[] = [];
  /** The container with the symlinked /etc/passwd (its problem is said in status). */
  let linked = '';

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'vigil-ctrusers-'));
    docker = await TestDocker.start();
    // The image: the test busybox with its own users (uid 4242 is `ctrapp`, unknown to the node).
    const ctx = join(dir, 'image');
    mkdirSync(ctx);
    writeFileSync(join(ctx, 'passwd'), 'root:x:0:0:root:/root:/bin/sh\nctrapp:x:4242:4242:app:/app:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n');
    writeFileSync(join(ctx, 'group'), 'root:x:0:\nctrgroup:x:4242:\nnogroup:x:65534:\n');
    writeFileSync(join(ctx, 'Dockerfile'), `FROM ${TEST_IMAGE}\nCOPY passwd group /etc/\n`);
    await docker.cli(['build', '-q', '-t', IMAGE, ctx], 300_000);
    const rules = join(dir, 'rules.yaml');
    writeFileSync(rules, `- rule: ${RULE}
  desc: cat run by uid 1 or 4242 (the test's users)
  condition: evt.type = execve and evt.dir = < and proc.name = cat and user.uid in (1, 4242)
  output: cat run | user=%user.name uid=%user.uid group=%group.name container=%container.id
  priority: WARNING
`);
    t = await TestEngine.start({
      engine: { workers },
      rules: { builtin: false, files: [rules], watch: false, userFiles: via },
      alerts: { foldWindowMs: 0 },
      sinks: [{ type: 'file', id: 'falco', path: join(dir, 'alerts.json'), format: 'falco' }],
      containers: { runtimes: [{ type: 'docker', socket: docker.socket }], holdMs: 3000, pollMs: 500 },
    });
    t.engine.onAlert((a) => alerts.push(a));
    await t.startProbe();
    tree = new TestCgroupTree();
  }, 300_000);

  afterAll(async () => {
    await t?.stop();
    await tree?.remove();
    await docker?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, 120_000);

  /** The alert of a cat run by `uid` in `containerId` ('host'-side: its cgroup's last path component). */
  const alertOf = (uid: number, containerId: (id: string) => boolean): Promise<Alert> =>
    waitFor(`the alert for uid ${uid}`, () => alerts.find((a) => a.rule === RULE && a.fields['user.uid'] === uid && containerId(String(a.fields['container.id']))), 15_000);

  it('names the container\'s uid 4242 `ctrapp` from its /etc/passwd, a node process with the same uid by the node\'s files', async () => {
    const app = await docker.run({ name: `vigil-ctrusers-app${tag}`, image: IMAGE });
    await docker.cli(['exec', '-u', '4242:4242', app, '/bin/cat', '/etc/hostname']);
    const inCtr = await alertOf(4242, (id) => app.startsWith(id));
    expect(inCtr).toMatchObject({ output: `cat run | user=ctrapp uid=4242 group=ctrgroup container=${app.slice(0, 12)}`, fields: { 'user.name': 'ctrapp', 'group.name': 'ctrgroup' } });
    // Every sink prints what the alert says (Falco's JSON here).
    await waitFor('the alert in the file sink', () => existsSync(join(dir, 'alerts.json')) && readFileSync(join(dir, 'alerts.json'), 'utf8').includes('user=ctrapp'), 10_000);
    const line = readFileSync(join(dir, 'alerts.json'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as { output_fields: Record<string, unknown> })
      .find((l) => l.output_fields['user.uid'] === 4242 && app.startsWith(String(l.output_fields['container.id'])));
    expect(line?.output_fields['user.name']).toBe('ctrapp');

    // The node's process with the same uid: the node's name for it, or its number (never the container's).
    const g = tree.group('node');
    const r = await g.run('/usr/bin/setpriv', ['--reuid=4242', '--regid=4242', '--clear-groups', '/bin/cat', '/etc/hostname']);
    expect(r.code).toBe(0);
    const onNode = await alertOf(4242, (id) => !app.startsWith(id));
    expect(onNode.fields['user.name']).toBe(nodeName(4242) ?? '4242');

    // uid 1: the node's daemon; the container has no name for it: its number, not the node's name.
    await docker.cli(['exec', '-u', '1:1', app, '/bin/cat', '/etc/hostname']);
    expect((await alertOf(1, (id) => app.startsWith(id))).fields['user.name']).toBe('1');
    await g.run('/usr/bin/setpriv', ['--reuid=1', '--regid=1', '--clear-groups', '/bin/cat', '/etc/hostname']);
    expect((await alertOf(1, (id) => !app.startsWith(id))).fields['user.name']).toBe(nodeName(1) ?? '1');
    // vigil status says where the names came from.
    const containers = via === 'probe' ? /^through the probe/ : /^direct/;
    // The node's through its pid 1's root, which some sandboxes deny even root (this machine's does): then the engine's own, said so.
    const node = pid1Readable() ? (via === 'probe' ? /^through the probe/ : /^direct/) : /^unavailable \(.*(EACCES|Permission denied).*names from the engine's own \/etc\/passwd/;
    // Detection workers say it as they last told the main thread (within a second): waited for, then asserted.
    await waitFor('status to say where names come from', () => {
      const s = t.engine.status().userNames;
      return containers.test(s.containers) && node.test(s.node) ? s : undefined;
    }, 5_000).catch(() => undefined);
    const u = t.engine.status().userNames;
    expect(u.containers).toMatch(containers);
    expect(formatStatus(t.engine.status())).toContain(`container user names: ${u.containers}\nnode user names: ${u.node}`);
    expect(u.node).toMatch(node);
  });

  it.runIf(via === 'probe' && workers === 1)('the probe reads only through a process of the named cgroup, and at a bounded rate', async () => {
    const app = await docker.run({ name: 'vigil-ctrusers-rate', image: IMAGE, labels: { 'vigil.dev/workload': 'ctrusers-rate' } });
    const pid = await docker.pidOf(app);
    const path = readFileSync(`/proc/${pid}/cgroup`, 'utf8').split('\n').find((l) => l.startsWith('0::'))!.slice(3);
    const cgroupId = Number(statSync(`${findCgroup2Mount()}${path}`).ino);
    const ask = (pids: number[], id = cgroupId) => t.engine.probes.send({ readUserFiles: { pids, cgroupId: id, node: false, knownPasswd: '', knownGroup: '' } });
    await new Promise((r) => setTimeout(r, 2_500)); // the probe's budget back to its burst
    // The container's process: its own file.
    const ok = await ask([pid]);
    expect(ok.ok).toBe(true);
    expect(Buffer.from(ok.files![0]!.content).toString()).toContain('ctrapp:x:4242');
    // A node process (this test's) named for the container's cgroup: not read through.
    expect(await ask([globalThis.process.pid])).toMatchObject({ ok: false, error: 'no process of the cgroup to read through' });
    // The node's own files, through its pid 1 (which this machine's sandbox may deny even the probe: then it says why).
    const node = await t.engine.probes.send({ readUserFiles: { pids: [], cgroupId: 0, node: true, knownPasswd: '', knownGroup: '' } });
    if (pid1Readable()) expect(Buffer.from(node.files![0]!.content).toString()).toBe(readFileSync('/proc/1/root/etc/passwd', 'utf8'));
    else expect(node.files![0]!.error).toBe('etc: Permission denied');
    // One container asking in a loop: 5 at once (its first ask and retries), then 2 a second.
    await new Promise((r) => setTimeout(r, 2_500));
    const burst = await Promise.all(Array.from({ length: 20 }, () => ask([pid])));
    expect(burst.filter((a) => a.ok).length).toBeLessThanOrEqual(6);
    expect(burst.filter((a) => !a.ok)[0]!.error).toMatch(/^over the probe's rate of user file reads for this cgroup/);
    // 80 cgroups asking at once (no such cgroups: past the rate, the probe finds no process in them): 40 and what the rate refills, the rest refused.
    const answers = await Promise.all(Array.from({ length: 80 }, (_, i) => ask([pid], 1_000_000 + i)));
    const refused = answers.filter((a) => a.error.startsWith("over the probe's rate of user file reads (20 a second"));
    expect(refused.length).toBeGreaterThanOrEqual(30);
    expect(answers.filter((a) => a.error === 'no process of the cgroup to read through').length).toBeGreaterThanOrEqual(30);
    await new Promise((r) => setTimeout(r, 2_500)); // the node's budget back, for the next test
  });

  it('does not follow a container\'s /etc/passwd symlinked to /proc/1/root/etc/passwd: from the engine, that is the node\'s', async () => {
    // A workload of its own: its alert is not the same kind as the first container's (same rule, uid, program).
    const id = await docker.run({ name: `vigil-ctrusers-link${tag}`, image: IMAGE, labels: { 'vigil.dev/workload': `ctrusers-link${tag}` } });
    linked = id;
    // Inside the container the link names its own init's root (a loop); followed by the engine through
    // /proc/<pid>/root/etc/passwd it resolves from the engine's root: the node's init, the node's
    // /etc/passwd, where uid 1 has a name.
    await docker.exec(id, ['/bin/busybox', 'ln', '-sf', '/proc/1/root/etc/passwd', '/etc/passwd']);
    expect(execFileSync('readlink', [`/proc/${await docker.pidOf(id)}/root/etc/passwd`], { encoding: 'utf8' }).trim()).toBe('/proc/1/root/etc/passwd');
    await docker.cli(['exec', '-u', '1:1', id, '/bin/cat', '/etc/hostname']);
    const a = await alertOf(1, (c) => id.startsWith(c));
    expect(a.fields['user.name']).toBe('1');
    // And the engine says why, once (through the probe, when its answer is in).
    const said = (): string[] => t.logLines.filter((l) => l.level === 'warn' && l.containerId === id.slice(0, 12)).map((l) => l.msg as string);
    await waitFor('the warning', () => said().length > 0, 5_000);
    await new Promise((r) => setTimeout(r, 300));
    expect(said())
      .toEqual([`container ${id.slice(0, 12)}'s /etc/passwd: etc/passwd or etc is a symlink (not followed); the uids it does not name print as numbers`]);
  });

  // Slow (the runtime's removal is followed 60 s later, when its last events are in): once, with workers, where the drop crosses threads.
  it.runIf(workers > 1)("drops a removed container's names, and what status says of them, once its runtime has forgotten it", { timeout: 150_000 }, async () => {
    const line = (): string | undefined => t.engine.status().userNames.problems.find((p) => p.startsWith(`container ${linked.slice(0, 12)}: /etc/passwd`));
    expect(await waitFor('its problem in status', line, 5_000)).toMatch(/symlink/);
    await docker.cli(['rm', '-f', linked]);
    const removed = Date.now();
    await waitFor('its problem gone from status', () => !line(), 90_000);
    // Not before the runtime's grace (its last events may still print its names).
    expect(Date.now() - removed).toBeGreaterThanOrEqual(59_000);
  });
});
