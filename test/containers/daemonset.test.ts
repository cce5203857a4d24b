// The DaemonSet's two images, built here with `docker build` from
// daemonset/ (test/support/images.ts: the bases are local equivalents
// under their registry names), run as the kubelet would run the pod —
// through containerd's CRI, the pod spec of daemonset/daemonset.yaml
// translated field by field: user, capabilities, no privilege escalation,
// read-only root, seccomp, mounts, limits, the host's pid namespace —
// against this machine's kernel: the probe streams a workload container's
// events to the engine, which alerts on them.
//
// What differs from a cluster, and why: no kubelet (the test makes the
// CRI calls) and no CNI here, so the pod shares the host's network (the
// engine's metrics then listen on loopback only); no API server (the
// engine's config is the ConfigMap's with kubernetes.enabled false, and the
// API token volume is not mounted); host paths the test must not touch are
// temporary directories (/var/lib/vigil), and the runtimes' sockets are the
// test's own dockerd's and containerd's; seccomp RuntimeDefault is the
// default of the runtimes the manifest supports, resolved for each
// container's capabilities (test/support/seccomp.ts), as this machine's
// containerd 1.6 and Docker 20.10 are older (their defaults allow bpf()
// only to CAP_SYS_ADMIN, and Docker 20.10 cannot grant CAP_BPF at all:
// hence the CRI, not `docker run`). Cgroup namespaces: this host's
// cgroups are hybrid (v1 controllers, v2 at /sys/fs/cgroup/unified), where
// containerd leaves containers in the host's cgroup namespace; on a cgroup
// v2 node each container that is not privileged, the probe included, gets
// one of its own, and /proc/PID/cgroup paths are relative to it. So the
// pods here run with a runtime handler that adds that namespace to the OCI
// spec as containerd does on v2 (CGROUPNS_RUNTIME, test/support/runtimes.ts);
// what stays unlike v2 is that the controllers (and so the limits) are v1's.
//
// Slow the first time (debootstrap, apt in the probe's build stage, npm
// in the engine's): minutes; the results are cached (.vigil-test/).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { parse as parseYaml, stringify as yamlStringify } from 'yaml';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { formatStatus } from '../../src/cli/format.js';
import { ControlClient } from '../../src/control/client.js';
import { describeRuntimes, waitFor } from '../support/kernel.js';
import { buildBaseImages, buildVigilImages, ENGINE_IMAGE, PROBE_IMAGE } from '../support/images.js';
import { repoRoot, TestContainerd, TestDocker, TEST_IMAGE, type TestPod } from '../support/runtimes.js';
import { runtimeDefaultSeccomp } from '../support/seccomp.js';

interface K8sContainer {
  name: string;
  image: string;
  args?: string[];
  env?: { name: string; value?: string; valueFrom?: { fieldRef?: { fieldPath: string } } }[];
  securityContext: {
    privileged?: boolean;
    runAsUser?: number;
    allowPrivilegeEscalation?: boolean;
    readOnlyRootFilesystem?: boolean;
    capabilities?: { drop?: string[]; add?: string[] };
    seccompProfile?: { type: string };
  };
  resources?: { limits?: { cpu?: string; memory?: string } };
  volumeMounts?: { name: string; mountPath: string; readOnly?: boolean }[];
}

interface K8sVolume {
  name: string;
  emptyDir?: { medium?: string; sizeLimit?: string };
  hostPath?: { path: string };
  configMap?: { name: string };
  secret?: { secretName: string; optional?: boolean };
  projected?: unknown;
}

const manifest = parseYaml(readFileSync(join(repoRoot, 'daemonset/daemonset.yaml'), 'utf8')) as { spec: { template: { spec: { hostPID?: boolean; containers: K8sContainer[]; volumes: K8sVolume[] } } } };
const podSpec = manifest.spec.template.spec;
const configMap = parseYaml(readFileSync(join(repoRoot, 'daemonset/configmap.yaml'), 'utf8')) as { data: Record<string, string> };

/** "512Mi" → bytes; "1" / "100m" → CPUs. */
function bytes(q: string): number {
  const m = /^(\d+)(Ki|Mi|Gi)?$/.exec(q)!;
  return Number(m[1]) * { Ki: 1024, Mi: 1 << 20, Gi: 1 << 30, '': 1 }[m[2] ?? '']!;
}
function cpus(q: string): number {
  return q.endsWith('m') ? Number(q.slice(0, -1)) / 1000 : Number(q);
}

const CAP_BITS: Record<string, number> = { CHOWN: 0, DAC_OVERRIDE: 1, KILL: 5, NET_ADMIN: 12, SYS_PTRACE: 19, SYS_ADMIN: 21, SYS_RESOURCE: 24, PERFMON: 38, BPF: 39 };

describeRuntimes('the DaemonSet\'s images, built here and run as daemonset.yaml says', () => {
  let docker: TestDocker;
  let containerd: TestContainerd;
  let dir: string;
  const volumeDirs = new Map<string, string>();
  const tmpfsMounts: string[] = [];
  let pod: TestPod;
  const ids = new Map<string, string>();
  let control: ControlClient;
  let workload = '';
  /** A pod's container that ran before Vigil's pod: pid and cgroup v2 path on the host. */
  const older = { pid: 0, cgroup: '' };

  /** The CRI ContainerConfig the kubelet would make of one of the pod's containers (plus where its volumes are here). */
  function criConfig(c: K8sContainer): Record<string, unknown> {
    const sc = c.securityContext;
    expect(sc.seccompProfile?.type).toBe('RuntimeDefault');
    const seccompProfile = join(dir, `seccomp-${c.name}.json`);
    writeFileSync(seccompProfile, JSON.stringify(runtimeDefaultSeccomp(sc.capabilities?.add ?? [])));
    const env: Record<string, string> = {};
    for (const e of c.env ?? []) {
      if (e.value !== undefined) env[e.name] = e.value;
      else if (e.valueFrom?.fieldRef?.fieldPath === 'spec.nodeName') env[e.name] = 'ds-test-node';
      else throw new Error(`env ${e.name}: not understood here`);
    }
    const mounts = [];
    for (const m of c.volumeMounts ?? []) {
      const v = podSpec.volumes.find((x) => x.name === m.name)!;
      if (v.projected) continue; // the API token: no API server here
      mounts.push({ containerPath: m.mountPath, hostPath: volumeDirs.get(v.name)!, readonly: m.readOnly ?? false });
    }
    const limits = c.resources?.limits ?? {};
    return {
      metadata: { name: c.name, attempt: 0 },
      image: { image: `docker.io/library/${c.image}` },
      // The image's entrypoint, with the pod spec's args ($(VAR) expanded as the kubelet does).
      args: (c.args ?? []).map((a) => a.replace(/\$\((\w+)\)/g, (_, n: string) => env[n] ?? '')),
      envs: Object.entries(env).map(([key, value]) => ({ key, value })),
      mounts,
      labels: { 'io.kubernetes.container.name': c.name },
      logPath: `${c.name}.log`,
      linux: {
        resources: {
          ...(limits.memory ? { memoryLimitInBytes: bytes(limits.memory) } : {}),
          ...(limits.cpu ? { cpuPeriod: 100_000, cpuQuota: Math.round(cpus(limits.cpu) * 100_000) } : {}),
        },
        securityContext: {
          privileged: sc.privileged ?? false,
          runAsUser: { value: sc.runAsUser ?? 0 },
          noNewPrivs: sc.allowPrivilegeEscalation === false,
          readonlyRootfs: sc.readOnlyRootFilesystem ?? false,
          capabilities: { addCapabilities: sc.capabilities?.add ?? [], dropCapabilities: sc.capabilities?.drop ?? [] },
          seccomp: { profileType: 'Localhost', localhostRef: seccompProfile },
          namespaceOptions: { network: 'NODE', pid: podSpec.hostPID ? 'NODE' : 'CONTAINER', ipc: 'POD' },
        },
      },
    };
  }

  beforeAll(async () => {
    [docker, containerd] = await Promise.all([TestDocker.start(), TestContainerd.start()]);
    const log = (s: string) => process.stderr.write(`[daemonset test] ${s}\n`);
    await buildBaseImages(docker, log);
    const built = await buildVigilImages(docker);
    log(`images built: probe ${built.probeSeconds.toFixed(0)} s, engine ${built.engineSeconds.toFixed(0)} s`);
    dir = mkdtempSync(join(tmpdir(), 'vigil-ds-'));
    // Into containerd, as a registry would have delivered them.
    const archive = join(dir, 'images.tar');
    await docker.cli(['save', '-o', archive, PROBE_IMAGE, ENGINE_IMAGE]);
    await containerd.ctr(['images', 'import', archive]);

    // The pod's volumes, here.
    for (const v of podSpec.volumes) {
      const d = join(dir, 'volumes', v.name);
      if (v.emptyDir) {
        mkdirSync(d, { recursive: true });
        if (v.emptyDir.medium === 'Memory') {
          execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${bytes(v.emptyDir.sizeLimit ?? '64Mi')},mode=0755`, 'tmpfs', d]);
          tmpfsMounts.push(d);
        }
        volumeDirs.set(v.name, d);
      } else if (v.configMap) {
        mkdirSync(d, { recursive: true });
        // The ConfigMap's config, without the API server this machine does not have, and with
        // metrics on loopback: the pod shares the host's network here.
        const config = parseYaml(configMap.data['config.yaml']!) as Record<string, unknown>;
        config.kubernetes = { enabled: false };
        config.metrics = { listen: 'tcp://127.0.0.1:0' };
        writeFileSync(join(d, 'config.yaml'), yamlStringify(config));
        volumeDirs.set(v.name, d);
      } else if (v.secret) {
        // No API server, so no Secret: as the kubelet does for an optional
        // one that does not exist, an empty directory (the console stays off).
        expect(v.secret.optional, `secret volume ${v.name} must be optional`).toBe(true);
        mkdirSync(d, { recursive: true });
        volumeDirs.set(v.name, d);
      } else if (v.hostPath?.path === '/sys/fs/bpf') {
        // A bpffs of this test's own for the enforcement pins, not the machine's.
        mkdirSync(d, { recursive: true });
        execFileSync('mount', ['-t', 'bpf', 'bpf', d]);
        tmpfsMounts.push(d);
        volumeDirs.set(v.name, d);
      } else if (v.hostPath) {
        const here: Record<string, string> = {
          '/var/lib/vigil': join(dir, 'state'),
          '/run/containerd': dirname(containerd.socket),
          '/run/crio': join(dir, 'no-crio'),
          '/var/run/docker.sock': docker.socket,
        };
        const src = here[v.hostPath.path] ?? v.hostPath.path;
        if (!existsSync(src)) mkdirSync(src, { recursive: true });
        volumeDirs.set(v.name, src);
      }
    }

    // A workload already running when the probe starts: known to the engine
    // from the probe's start-up snapshot only, as it does nothing after.
    const web = await containerd.runPod({ name: 'web-7d4b9c8f6-x2k9p', namespace: 'shop', cgroupns: 'private', labels: { app: 'web', 'pod-template-hash': '7d4b9c8f6' } });
    older.pid = await containerd.pidOf(await containerd.startContainer(web, { name: 'app' }));
    older.cgroup = /^0::(.*)$/m.exec(readFileSync(`/proc/${older.pid}/cgroup`, 'utf8'))![1]!;

    pod = await containerd.runPod({ name: 'vigil-x7z2k', namespace: 'vigil', hostPid: podSpec.hostPID, cgroupns: 'private', labels: { 'app.kubernetes.io/name': 'vigil', 'controller-revision-hash': '5d8f7c9b6', 'pod-template-generation': '1' } });
    for (const c of podSpec.containers) ids.set(c.name, await containerd.startConfigured(pod, criConfig(c)));
    control = new ControlClient(`unix://${volumeDirs.get('run')}/control.sock`);
    await waitFor('the probe connected to the engine', async () => {
      try {
        return (await control.status()).probes.some((p) => p.connected);
      } catch {
        return false;
      }
    }, 60_000).catch((err: Error) => {
      throw new Error(`${err.message}\nengine: ${containerd.logOf(pod, 'engine.log').slice(-3000)}\nprobe: ${containerd.logOf(pod, 'probe.log').slice(-3000)}`, { cause: err });
    });
  }, 90 * 60_000);

  afterAll(async () => {
    control?.close();
    if (workload) await docker?.remove(workload).catch(() => undefined);
    await Promise.all([docker?.stop(), containerd?.stop()]);
    for (const m of tmpfsMounts) execFileSync('umount', [m]);
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, 120_000);

  /** Alerts the engine wrote to its stdout (the ConfigMap's stdout JSON sink). */
  function alerts(): { rule: string; workload: { name: string; kind: string; container: string; containerId: string }; process: { pid: number; exe: string }; fields: Record<string, unknown> }[] {
    return containerd.logOf(pod, 'engine.log').split('\n').filter((l) => l.startsWith('{')).map((l) => {
      try {
        return JSON.parse(l);
      } catch {
        return {};
      }
    }).filter((a) => typeof a.rule === 'string' && a.workload);
  }

  it('the probe streams a workload container\'s events to the engine container, which alerts on them', async () => {
    workload = await docker.run({ name: 'vigil-ds-workload', image: TEST_IMAGE });
    await docker.exec(workload, ['/bin/sh', '-c', 'echo intruder >> /etc/passwd']);
    const alert = await waitFor('the engine\'s alert about the workload', () => alerts().find((a) => a.rule === 'Write below /etc' && a.workload.containerId === workload), 30_000);
    expect(alert.fields['container.id']).toBe(workload.slice(0, 12));
    expect(alert.process.exe).toBe('/bin/busybox');
    // The engine found the runtimes through the mounted sockets, and named the container by Docker.
    expect(alert.workload).toMatchObject({ name: 'vigil-test/busybox', kind: 'container', container: 'vigil-ds-workload' });
    const status = await control.status();
    expect(status.probes[0]).toMatchObject({ nodeName: 'ds-test-node', connected: true });
    expect(status.runtimes).toEqual(expect.arrayContaining([
      expect.objectContaining({ kind: 'cri', socket: '/run/containerd/containerd.sock', runtime: 'containerd', up: true }),
      expect.objectContaining({ kind: 'docker', socket: '/var/run/docker.sock', up: true }),
    ]));
    // Vigil's own engine talking to the runtimes' sockets is not an alert about the node.
    expect(alerts().filter((a) => a.rule === 'Container runtime socket contacted')).toEqual([]);
  });

  it('in cgroup namespaces of their own, as on a cgroup v2 node, the probe\'s snapshot places a container that ran before it: the engine lists its workload', async () => {
    const probePid = await containerd.pidOf(ids.get('probe')!);
    // The probe's cgroup namespace is its own, not the host's (which this test runs in), and the
    // workload's too: each reads its own cgroup as the root, "0::/" (what broke the /proc snapshot).
    for (const pid of [probePid, older.pid]) {
      expect(readlinkSync(`/proc/${pid}/ns/cgroup`)).not.toBe(readlinkSync('/proc/self/ns/cgroup'));
      expect(execFileSync('nsenter', [`--cgroup=/proc/${pid}/ns/cgroup`, 'cat', `/proc/${pid}/cgroup`], { encoding: 'utf8' })).toMatch(/^0::\/$/m);
    }
    // The workload has done nothing since the probe started: the engine knows its cgroup
    // (path, then the pod's owner from containerd) from the snapshot alone. The probe before
    // the task iterator gave it cgroup id 0 here, and it was not listed; the /proc fallback
    // (VIGIL_SNAPSHOT_FROM_PROC=1) lists it, and fails the status lines below.
    const listed = await waitFor('the older workload in vigil status', async () => (await control.status()).workloads.find((w) => w.cgroupPath === older.cgroup && w.name === 'shop/web'), 30_000)
      .catch(async (err: Error) => {
        throw new Error(`${err.message}\nworkloads: ${JSON.stringify((await control.status()).workloads.map((w) => [w.name, w.cgroupPath, w.events]))}\nprobe: ${containerd.logOf(pod, 'probe.log').slice(-3000)}`, { cause: err });
      });
    expect(listed.events).toBe(0);
    // From the kernel's task iterator, and vigil status says so.
    const status = await control.status();
    expect(status.probes[0]!.snapshotCgroups).toBe('kernel');
    expect(formatStatus(status)).toContain('snapshot: cgroups of processes older than the probe from the kernel (task iterator)');
    expect(alerts().filter((a) => a.rule === 'Snapshot cgroups from /proc')).toEqual([]);
  });

  it('runs each container with exactly the manifest\'s user, capabilities, read-only root and seccomp', async () => {
    for (const c of podSpec.containers) {
      const pid = await containerd.pidOf(ids.get(c.name)!);
      const status = readFileSync(`/proc/${pid}/status`, 'utf8');
      const eff = BigInt(`0x${/CapEff:\s+([0-9a-f]+)/.exec(status)![1]}`);
      const bnd = BigInt(`0x${/CapBnd:\s+([0-9a-f]+)/.exec(status)![1]}`);
      let want = 0n;
      for (const cap of c.securityContext.capabilities?.add ?? []) want |= 1n << BigInt(CAP_BITS[cap]!);
      expect(eff, `${c.name}: effective capabilities`).toBe(want);
      expect(bnd, `${c.name}: bounding set`).toBe(want);
      expect(/Uid:\s+(\d+)/.exec(status)![1], c.name).toBe(String(c.securityContext.runAsUser));
      expect(/NoNewPrivs:\s+(\d)/.exec(status)![1], c.name).toBe('1');
      expect(/Seccomp:\s+(\d)/.exec(status)![1], `${c.name}: seccomp filter`).toBe('2');
      const rootfs = readFileSync(`/proc/${pid}/mountinfo`, 'utf8').split('\n').find((l) => l.split(' ')[4] === '/')!;
      expect(rootfs.split(' ')[5]!.split(','), `${c.name}: root file system`).toContain('ro');
      // The host's pid namespace.
      expect(readFileSync(`/proc/${pid}/status`, 'utf8')).toMatch(new RegExp(`NSpid:\\s+${pid}\\n`));
      // The probe reads which LSMs the kernel runs (BPF LSM enforcement), through the read-only securityfs mount.
      if (c.name === 'probe') expect(readFileSync(`/proc/${pid}/root/sys/kernel/security/lsm`, 'utf8')).toBe(readFileSync('/sys/kernel/security/lsm', 'utf8'));
    }
  });

  it('the images hold no shell', async () => {
    for (const image of [PROBE_IMAGE, ENGINE_IMAGE]) {
      await expect(docker.cli(['run', '--rm', '--network', 'none', '--entrypoint', '/bin/sh', image, '-c', 'true'])).rejects.toThrow(/no such file|not found/i);
    }
  });
});
