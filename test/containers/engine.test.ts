// Vigil with real containers: dockerd and containerd's CRI started by the
// test (test/support/runtimes.ts), pods made through the CRI with labels
// and a namespace as the kubelet makes them, Docker containers as
// `docker run` makes them, the real probe on this kernel. The engine names
// each container's events by asking the runtimes, and Falco's own
// container rules (test/fixtures/falco/falco_rules.yaml) run on them with
// their exceptions.
import { execFileSync } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ControlClient } from '../../src/control/client.js';
import type { Alert } from '../../src/model/alert.js';
import type { Event } from '../../src/model/event.js';
import { TestEngine } from '../support/engine.js';
import { SyntheticProbe } from '../support/synthetic-probe.js';
import { describeRuntimes, repoRoot, TestCgroupTree, waitFor } from '../support/kernel.js';
import { TestContainerd, TestDocker, TEST_IMAGE, TRUSTED_IMAGE, type TestPod } from '../support/runtimes.js';
import { own } from '../support/events.js';

const FALCO_RULES = join(repoRoot, 'test/fixtures/falco/falco_rules.yaml');

/** The cgroup v2 id of a process (the inode of its cgroup directory). */
function cgroupIdOf(pid: number): number {
  const path = readFileSync(`/proc/${pid}/cgroup`, 'utf8').split('\n').find((l) => l.startsWith('0::'))!.slice(3);
  const mount = readFileSync('/proc/self/mountinfo', 'utf8').split('\n').find((l) => l.split(' - ')[1]?.startsWith('cgroup2 '))!.split(' ')[4]!;
  return Number(execFileSync('stat', ['-c', '%i', join(mount, path)], { encoding: 'utf8' }).trim());
}

describeRuntimes('Vigil with real containers (containerd CRI, Docker)', () => {
  let docker: TestDocker;
  let containerd: TestContainerd;
  let t: TestEngine;
  let control: ControlClient;
  let http: Server;
  let port: number;
  let dir: string;
  const requests: string[] = [];
  const alerts: Alert[] = [];

  beforeAll(async () => {
    [docker, containerd] = await Promise.all([TestDocker.start(), TestContainerd.start()]);
    dir = mkdtempSync(join(tmpdir(), 'vigil-ctr-'));
    // Falco's rules, with an image on the drop-and-execute exception list (as a user tunes it).
    const local = join(dir, 'local.yaml');
    writeFileSync(local, [
      '- list: known_drop_and_execute_containers',
      `  items: [docker.io/${TRUSTED_IMAGE.split(':')[0]}, ${TRUSTED_IMAGE.split(':')[0]}]`,
      '  override:',
      '    items: append',
    ].join('\n'));
    t = await TestEngine.start({
      sinks: [],
      rules: { builtin: true, files: [FALCO_RULES, local], watch: false },
      containers: {
        runtimes: [{ type: 'cri', socket: containerd.socket }, { type: 'docker', socket: docker.socket }],
        // Slower than the runtime answers here (milliseconds), far below what a person notices.
        holdMs: 3000,
        pollMs: 500,
      },
    });
    t.engine.onAlert((a) => alerts.push(a));
    await t.startProbe();
    control = new ControlClient(t.config.control.listen);
    http = createServer((req, res) => {
      requests.push(req.url ?? '');
      res.end('hello from loopback\n');
    });
    await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
    port = (http.address() as { port: number }).port;
  }, 180_000);

  afterAll(async () => {
    control?.close();
    http?.close();
    await t?.stop();
    await Promise.all([docker?.stop(), containerd?.stop()]);
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, 120_000);

  /** Events of a container's cgroup. */
  const eventsOf = (cgroupId: number, type?: Event['type']): Event[] => t.of(cgroupId, type);
  const alertsOf = (rule: string, containerId: string): Alert[] => alerts.filter((a) => a.rule === rule && a.workload.containerId === containerId);

  describe('pods through the CRI', () => {
    let web1: TestPod;
    let web2: TestPod;
    let app1: string;
    let app2: string;

    beforeAll(async () => {
      // Two replicas of one Deployment, as the kubelet asks containerd for them.
      const labels = { app: 'web', 'pod-template-hash': '7d4b9c8f6' };
      web1 = await containerd.runPod({ name: 'web-7d4b9c8f6-x2k9p', namespace: 'shop', labels });
      web2 = await containerd.runPod({ name: 'web-7d4b9c8f6-q8z4m', namespace: 'shop', labels });
      app1 = await containerd.startContainer(web1, { name: 'app', labels: { tier: 'front' } });
      app2 = await containerd.startContainer(web2, { name: 'app', labels: { tier: 'front' } });
    });

    it('attributes a pod\'s exec, open and connect to its pod, container and image, from its very first event', async () => {
      const r = await containerd.exec(app1, ['/bin/sh', '-c', `cat /etc/passwd >/dev/null; wget -q -O - http://127.0.0.1:${port}/from-web1`]);
      expect(r.stdout).toBe('hello from loopback\n');
      const cg = cgroupIdOf(await containerd.pidOf(app1));
      const exec = await waitFor('the exec of cat', () => eventsOf(cg, 'exec').find((e) => own(e).argv[0] === 'cat'));
      const open = await waitFor('the open of /etc/passwd', () => eventsOf(cg, 'open').find((e) => e.path === '/etc/passwd'));
      const connect = await waitFor('the connect', () => eventsOf(cg, 'connect').find((e) => e.port === port));
      for (const e of [exec, open, connect]) {
        expect(e.workload).toMatchObject({
          key: 'k8s:shop/Deployment/web', name: 'shop/web', kind: 'k8s', namespace: 'shop', pod: 'web-7d4b9c8f6-x2k9p', container: 'app',
          labels: { app: 'web', 'pod-template-hash': '7d4b9c8f6' }, containerId: app1,
        });
        expect(e.workload!.containerInfo).toMatchObject({
          id: app1, name: 'app', runtime: 'containerd', image: `docker.io/${TEST_IMAGE}`, imageRepository: 'docker.io/vigil-test/busybox', imageTag: '1',
          privileged: false, labels: { tier: 'front' }, pod: { uid: web1.uid, name: 'web-7d4b9c8f6-x2k9p', namespace: 'shop' },
        });
      }
      // Every event of the container, from its first (runc setting it up, its entrypoint's exec) on,
      // carries its identity: held, when need be, until containerd had said who it is.
      const all = eventsOf(cg);
      expect(all.find((e) => e.type === 'exec' && own(e).argv[0] === '/bin/sleep')).toMatchObject({ path: '/bin/busybox', more: { argv: ['/bin/sleep', 'infinity'] } });
      expect(all.filter((e) => e.workload?.containerInfo?.id !== app1).map((e) => `${e.type} ${e.comm} ${e.workload?.key}`)).toEqual([]);
      // The pid inside the container, as the container sees it.
      expect(exec.process!.vpid).toBeGreaterThan(1);
      expect(exec.process!.vpid).toBeLessThan(exec.pid);
    });

    it('gives the replicas of one owner one workload (one profile), each alert naming its own pod', async () => {
      await containerd.exec(app2, ['/bin/cat', '/etc/hostname']);
      const cg2 = cgroupIdOf(await containerd.pidOf(app2));
      const e = await waitFor('the replica\'s exec', () => eventsOf(cg2, 'exec').find((x) => own(x).argv[0] === '/bin/cat'));
      expect(e.workload).toMatchObject({ key: 'k8s:shop/Deployment/web', pod: 'web-7d4b9c8f6-q8z4m', containerId: app2 });
      expect(t.engine.workloads.all().filter((w) => w.key === 'k8s:shop/Deployment/web')).toHaveLength(1);
      // One profile learns from both: the first replica read /etc/passwd, the second /etc/hostname.
      await waitFor('the replica\'s open', () => eventsOf(cg2, 'open').find((x) => x.path === '/etc/hostname'));
      const profile = t.engine.profiles.export('k8s:shop/Deployment/web')[0]!;
      expect(profile.spec.files.read).toEqual(expect.arrayContaining(['/etc/passwd', '/etc/hostname']));
      expect(profile.spec.processes.map((p) => p.exe)).toContain('/bin/busybox');
    });

    it('quarantines and captures one pod: its connections fail, its sibling keeps its network, release restores it', async () => {
      // (busybox 1.35's wget -T crashes: its timeout applet bounds the wait instead)
      const get = (c: string, path: string) => containerd.exec(c, ['/bin/sh', '-c', `/bin/busybox timeout 3 wget -q -O - http://127.0.0.1:${port}${path} || echo failed`]);
      const q = await control.quarantine('shop/web-7d4b9c8f6-x2k9p', 'test');
      expect(q).toMatchObject({ ok: true });
      expect((await get(app1, '/cut')).stdout).toContain('failed');
      expect(requests).not.toContain('/cut');
      expect((await get(app2, '/sibling')).stdout).toBe('hello from loopback\n');
      expect((await control.status()).quarantined).toEqual(['shop/web-7d4b9c8f6-x2k9p']);
      expect(await control.release('shop/web-7d4b9c8f6-x2k9p')).toMatchObject({ ok: true });
      expect((await get(app1, '/restored')).stdout).toBe('hello from loopback\n');

      const capture = control.capture('web-7d4b9c8f6-q8z4m', 3, 200);
      await new Promise((r) => setTimeout(r, 300));
      expect((await get(app2, '/captured?pod=2')).stdout).toBe('hello from loopback\n');
      await get(app1, '/not-captured');
      const c = await capture;
      expect(c).toMatchObject({ ok: true, ended: 'time' });
      const uris = execFileSync('tshark', ['-r', c.file, '-Y', 'http.request', '-T', 'fields', '-e', 'http.request.uri'], { encoding: 'utf8' });
      expect(uris.trim()).toBe('/captured?pod=2');
    });

    it('tells a privileged container from an unprivileged one (Falco\'s privileged-container rules)', async () => {
      const tools = await containerd.runPod({ name: 'node-tools-x7z2k', namespace: 'ops', privileged: true, labels: { 'controller-revision-hash': '6b8f9d7c4', 'pod-template-generation': '1' } });
      const priv = await containerd.startContainer(tools, { name: 'tools', privileged: true });
      const plain = await containerd.startContainer(web1, { name: 'sidecar' });
      for (const c of [priv, plain]) {
        // debugfs by name (a link to busybox), and a write to a file named release_agent.
        await containerd.exec(c, ['/bin/busybox', 'ln', '-s', '/bin/busybox', '/tmp/debugfs']);
        await containerd.exec(c, ['/tmp/debugfs']);
        await containerd.exec(c, ['/bin/sh', '-c', 'echo x > /tmp/release_agent']);
      }
      await waitFor('the privileged container\'s alerts', () => alertsOf('Debugfs Launched in Privileged Container', priv).length && alertsOf('Detect release_agent File Container Escapes', priv).length, 10_000);
      const a = alertsOf('Debugfs Launched in Privileged Container', priv)[0]!;
      expect(a.workload).toMatchObject({ key: 'k8s:ops/DaemonSet/node-tools', pod: 'node-tools-x7z2k', containerInfo: { privileged: true } });
      // The unprivileged one did the same and stays quiet: not privileged, no CAP_SYS_ADMIN.
      const plainCg = cgroupIdOf(await containerd.pidOf(plain));
      await waitFor('the unprivileged container\'s write', () => eventsOf(plainCg, 'open').find((e) => e.path === '/tmp/release_agent'));
      await new Promise((r) => setTimeout(r, 300));
      expect(alertsOf('Debugfs Launched in Privileged Container', plain)).toEqual([]);
      expect(alertsOf('Detect release_agent File Container Escapes', plain)).toEqual([]);
      const plainExec = eventsOf(plainCg, 'exec').find((e) => e.comm === 'debugfs')!;
      expect(plainExec.workload!.containerInfo!.privileged).toBe(false);
      expect(a.fields['container.privileged'] ?? a.workload.containerInfo?.privileged).toBe(true);
    });
  });

  describe('Docker containers', () => {
    it('attributes a container\'s events to it and its image, and runs Falco\'s drop-and-execute rule with its exception', async () => {
      const web = await docker.run({ name: 'vigil-ctr-web', labels: { app: 'web' } });
      const trusted = await docker.run({ name: 'vigil-ctr-trusted', image: TRUSTED_IMAGE });
      for (const id of [web, trusted]) {
        // The image's own binary, then one copied in after the container started (busybox again,
        // so it runs there: named busybox, it takes the applet from its first argument).
        await docker.exec(id, ['/bin/busybox', 'true']);
        await docker.exec(id, ['/bin/mkdir', '/tmp/dropped']);
        await docker.cli(['cp', '/bin/busybox', `${id}:/tmp/dropped/busybox`]);
        await docker.exec(id, ['/tmp/dropped/busybox', 'true']);
      }
      const cg = cgroupIdOf(await docker.pidOf(web));
      // Its opens and connects are its own too.
      expect(await docker.exec(web, ['/bin/sh', '-c', `cat /etc/passwd >/dev/null; wget -q -O - http://127.0.0.1:${port}/from-docker`])).toBe('hello from loopback\n');
      const open = await waitFor('the open', () => eventsOf(cg, 'open').find((e) => e.path === '/etc/passwd'));
      const connect = await waitFor('the connect', () => eventsOf(cg, 'connect').find((e) => e.port === port));
      for (const e of [open, connect]) expect(e.workload).toMatchObject({ key: 'docker:image/vigil-test/busybox', containerId: web, containerInfo: { image: TEST_IMAGE } });
      const dropped = await waitFor('the dropped binary\'s exec', () => eventsOf(cg, 'exec').find((e) => e.path === '/tmp/dropped/busybox'));
      expect(dropped.workload).toMatchObject({ key: 'docker:image/vigil-test/busybox', kind: 'container', container: 'vigil-ctr-web', containerId: web });
      expect(dropped.workload!.containerInfo).toMatchObject({ image: TEST_IMAGE, imageRepository: 'vigil-test/busybox', imageTag: '1', runtime: 'docker', labels: { app: 'web', 'vigil.test': '1' } });
      expect(dropped.process!.exeUpperLayer).toBe(true);
      const fired = await waitFor('the drop-and-execute alert', () => alertsOf('Drop and execute new binary in container', web)[0]);
      expect(fired.process.exe).toBe('/tmp/dropped/busybox');
      expect(fired.priority).toBe('critical');
      // The image's own binary does not fire it; nor does the image on the exception list.
      const trustedCg = cgroupIdOf(execPid(trusted));
      await waitFor('the trusted container\'s dropped exec', () => eventsOf(trustedCg, 'exec').find((e) => e.path === '/tmp/dropped/busybox'));
      await new Promise((r) => setTimeout(r, 300));
      expect(alertsOf('Drop and execute new binary in container', web).map((a) => a.process.exe)).toEqual(['/tmp/dropped/busybox']);
      expect(alertsOf('Drop and execute new binary in container', trusted)).toEqual([]);
    });

    it('groups containers of one image into one workload, and a labelled one into its own', async () => {
      const a = await docker.run({ name: 'vigil-ctr-img-a' });
      const b = await docker.run({ name: 'vigil-ctr-labelled', labels: { 'vigil.dev/workload': 'frontend' } });
      for (const id of [a, b]) await docker.exec(id, ['/bin/true']);
      const wa = await waitFor('a\'s exec', () => eventsOf(cgroupIdOf(execPid(a)), 'exec').find((e) => own(e).argv[0] === '/bin/true'));
      const wb = await waitFor('b\'s exec', () => eventsOf(cgroupIdOf(execPid(b)), 'exec').find((e) => own(e).argv[0] === '/bin/true'));
      expect(wa.workload!.key).toBe('docker:image/vigil-test/busybox');
      expect(wb.workload).toMatchObject({ key: 'docker:label/frontend', name: 'frontend' });
    });
  });

  /** A Docker container's main process. */
  function execPid(id: string): number {
    return Number(execFileSync('/usr/bin/docker', ['-H', `unix://${docker.socket}`, 'inspect', '-f', '{{.State.Pid}}', id], { encoding: 'utf8' }).trim());
  }

  it('learns a quiet container from the probe\'s snapshot by its pod once containerd has answered, not by its cgroup path', async () => {
    // An engine of its own with a synthetic probe: the engine lists containerd's containers when it
    // starts and not again for a long while, so the pod below is one containerd is asked about when
    // the snapshot names its process, as at a probe's start. The container does nothing after.
    const e2 = await TestEngine.start({ sinks: [], containers: { runtimes: [{ type: 'cri', socket: containerd.socket }], holdMs: 3000, pollMs: 600_000 } });
    const probe = SyntheticProbe.connect(e2.config.engine.listen);
    const c2 = new ControlClient(e2.config.control.listen);
    try {
      const pod = await containerd.runPod({ name: 'quiet-6c7d8e9f5-k2m4n', namespace: 'shop', labels: { app: 'quiet', 'pod-template-hash': '6c7d8e9f5' } });
      const pid = await containerd.pidOf(await containerd.startContainer(pod, { name: 'quiet' }));
      const path = readFileSync(`/proc/${pid}/cgroup`, 'utf8').split('\n').find((l) => l.startsWith('0::'))!.slice(3);
      probe.send({ snapshot: { processes: [{ pid, ppid: 1, uid: 0, comm: 'sleep', exe: '/bin/busybox', argv: ['/bin/sleep', 'infinity'], cgroupId: cgroupIdOf(pid) }], last: true } });
      const listed = await waitFor('the quiet pod\'s workload', async () => (await c2.status()).workloads.find((w) => w.cgroupPath === path && w.name !== path), 10_000);
      expect(listed).toMatchObject({ name: 'shop/quiet', events: 0 });
      // Nothing listed under its cgroup path while containerd was asked: that name would have stayed.
      expect((await c2.status()).workloads.filter((w) => w.name === path)).toEqual([]);
      // And a response reaches it by the pod's name, with the cgroup the snapshot gave.
      expect(e2.engine.workloads.cgroupsOf('k8s:shop/Deployment/quiet')).toEqual([{ id: cgroupIdOf(pid), path }]);
      await containerd.removePod(pod);
    } finally {
      c2.close();
      await probe.close();
      await e2.stop();
    }
  });

  it('never holds other events up while a runtime hangs (containerd stopped), and names the container once it answers', async () => {
    // An engine of its own, fed by a synthetic probe over real gRPC: it lists containerd's containers
    // when it starts and not again for a long while, so the pod below is one it has never heard of.
    const e2 = await TestEngine.start({ sinks: [], containers: { runtimes: [{ type: 'cri', socket: containerd.socket }], holdMs: 3000, timeoutMs: 500, pollMs: 600_000 } });
    const probe = SyntheticProbe.connect(e2.config.engine.listen);
    const tree = new TestCgroupTree();
    const beside = tree.group('beside');
    try {
      const pod = await containerd.runPod({ name: 'late-5f6d7c8b9-m4n7p', namespace: 'shop', labels: { app: 'late', 'pod-template-hash': '5f6d7c8b9' } });
      const cid = await containerd.startContainer(pod, { name: 'late' });
      const ctr = cgroupIdOf(await containerd.pidOf(cid));
      const exec = (pid: number, cgroupId: number) => ({ pid, ppid: 1, cgroupId, exec: { filename: '/bin/true', exe: '/bin/true', argv: ['/bin/true'], cwd: '/' } });
      containerd.pause();
      try {
        probe.sendBatch([exec(4242, ctr), exec(4343, Number(beside.id))]);
        // The host cgroup's event goes on while the container's waits for containerd.
        await waitFor('the other cgroup\'s event', () => e2.of(beside.id, 'exec')[0], 10_000);
        expect(e2.of(ctr)).toEqual([]);
        expect(e2.engine.hold.size).toBe(1);
        // Containerd does not answer within its deadline: the event goes on, named by its cgroup, with the id its path gives.
        const held = await waitFor('the held event, released', () => e2.of(ctr, 'exec')[0], 10_000);
        expect(held.workload).toMatchObject({ kind: 'cgroup', containerId: cid, containerInfo: null });
        expect((await new ControlClient(e2.config.control.listen).status()).runtimes[0]).toMatchObject({ up: false });
      } finally {
        containerd.resume();
      }
      // Once containerd answers again, the container's next events carry its identity.
      const named = await waitFor('the container named', async () => {
        probe.sendBatch([exec(4242, ctr)]);
        await new Promise((r) => setTimeout(r, 300));
        return e2.of(ctr, 'exec').find((e) => e.workload?.containerInfo?.id === cid);
      }, 20_000);
      expect(named.workload).toMatchObject({ key: 'k8s:shop/Deployment/late', pod: 'late-5f6d7c8b9-m4n7p', container: 'late' });
      await containerd.removePod(pod);
    } finally {
      await probe.close();
      await e2.stop();
      await tree.remove();
    }
  });
});
