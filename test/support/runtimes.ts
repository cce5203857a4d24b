// Real container runtimes for tests: dockerd and containerd (with its CRI)
// started by hand, by pid, the way this machine allows (no systemd: the
// cgroupfs driver; root without CAP_SYS_RESOURCE: the CRI restricts
// oom_score_adj), and images built locally from busybox-static (no
// registry is reachable). Shared by tests and benchmarks (no test-runner
// imports). scripts/setup.sh --test installs the packages.
//
// Where things live: data (images, layers) under <repo>/.vigil-test/runtimes,
// kept between runs so images are built once; sockets, state and pid files
// under /run/vigil-test-<hash of the checkout> (unix socket paths must stay
// under 108 bytes). Each checkout has its own daemons, so two checkouts'
// tests never share one.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { accessSync, constants, existsSync, mkdirSync, readFileSync, readdirSync, rmdirSync, rmSync, statSync, writeFileSync, openSync, closeSync, symlinkSync, copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { CriClient } from '../../src/enrich/runtime/cri.js';
import { DockerClient } from '../../src/enrich/runtime/docker.js';
import { cgroup2Mount } from './cgroup.js';

const run = promisify(execFile);

export const repoRoot = new URL('../..', import.meta.url).pathname.replace(/\/$/, '');
const checkout = createHash('sha256').update(repoRoot).digest('hex').slice(0, 8);
export const runtimeDataDir = join(repoRoot, '.vigil-test/runtimes');
export const runtimeRunDir = `/run/vigil-test-${checkout}`;

export const BIN = {
  dockerd: '/usr/sbin/dockerd',
  docker: '/usr/bin/docker', // /usr/local/bin may hold a newer client; this one matches the daemon
  containerd: '/usr/bin/containerd',
  ctr: '/usr/bin/ctr',
  runc: '/usr/sbin/runc',
  busybox: '/bin/busybox',
} as const;

/** The test image: busybox-static, `sleep infinity` by default. */
export const TEST_IMAGE = 'vigil-test/busybox:1';
/** The same files under another name: an image an exception list names. */
export const TRUSTED_IMAGE = 'vigil-test/trusted:1';
/** The CRI's sandbox ("pause") image: the same files again. */
export const PAUSE_IMAGE = 'vigil-test/pause:1';

/** Why the runtimes cannot run here, or null when they can. */
export function runtimesMissing(): string | null {
  if (process.getuid?.() !== 0) return 'needs root';
  if (!cgroup2Mount()) return 'no cgroup v2 mount';
  for (const [name, path] of Object.entries(BIN)) {
    try {
      accessSync(path, constants.X_OK);
    } catch {
      return `${name} not installed (${path}); bash scripts/setup.sh --test installs docker.io and busybox-static`;
    }
  }
  return null;
}

/** Runs a command; rejects with its stderr. */
async function sh(file: string, args: string[], opts: { input?: string; timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<string> {
  try {
    const { stdout } = await run(file, args, { timeout: opts.timeoutMs ?? 120_000, maxBuffer: 64 << 20, env: opts.env ?? process.env });
    return stdout;
  } catch (err) {
    const e = err as Error & { stderr?: string };
    throw new Error(`${file} ${args.join(' ')}: ${(e.stderr || e.message).trim()}`, { cause: err });
  }
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function cmdlineOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
  } catch {
    return '';
  }
}

async function waitUntil(what: string, pred: () => boolean | Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await pred()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * A daemon started by hand: its pid is written where a later run finds it,
 * so one left behind by a crashed run (ours: its command line names our
 * run directory) is stopped before a new one starts.
 */
class Daemon {
  private exited: Promise<void>;

  private constructor(
    readonly name: string,
    readonly child: ChildProcess,
    private readonly pidFile: string,
    readonly logFile: string,
  ) {
    this.exited = new Promise((r) => child.once('exit', () => r()));
  }

  static async start(name: string, file: string, args: string[]): Promise<Daemon> {
    mkdirSync(runtimeRunDir, { recursive: true, mode: 0o700 });
    const pidFile = join(runtimeRunDir, `${name}.pid`);
    await Daemon.stopStale(pidFile);
    const logFile = join(runtimeRunDir, `${name}.log`);
    const log = openSync(logFile, 'w');
    const child = spawn(file, args, { stdio: ['ignore', log, log], detached: false });
    closeSync(log);
    writeFileSync(pidFile, String(child.pid));
    return new Daemon(name, child, pidFile, logFile);
  }

  /** A daemon of ours from a run that did not clean up. */
  private static async stopStale(pidFile: string): Promise<void> {
    if (!existsSync(pidFile)) return;
    const pid = Number(readFileSync(pidFile, 'utf8'));
    if (pid > 0 && pidAlive(pid) && cmdlineOf(pid).includes(runtimeRunDir)) {
      process.kill(pid, 'SIGTERM');
      await waitUntil(`stale daemon ${pid} to exit`, () => !pidAlive(pid), 30_000);
    }
    rmSync(pidFile, { force: true });
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  log(): string {
    try {
      return readFileSync(this.logFile, 'utf8');
    } catch {
      return '';
    }
  }

  async stop(): Promise<void> {
    if (this.running) {
      this.child.kill('SIGTERM');
      const killed = setTimeout(() => this.child.kill('SIGKILL'), 20_000);
      await this.exited;
      clearTimeout(killed);
    }
    rmSync(this.pidFile, { force: true });
  }
}

// ---- images ---------------------------------------------------------------

const BUSYBOX_APPLETS = ['sh', 'sleep', 'cat', 'cp', 'chmod', 'wget', 'nc', 'ls', 'ps', 'echo', 'id', 'env', 'true', 'false', 'mkdir', 'rm', 'head', 'touch', 'grep'];

/**
 * A docker-archive tarball (what `docker save` writes, which `docker load`
 * and `ctr images import` both read) of a busybox-static rootfs, tagged
 * with `tags`; built once and kept under the data directory.
 */
export async function busyboxArchive(tags: readonly string[]): Promise<string> {
  const dir = join(runtimeDataDir, 'images');
  const name = createHash('sha256').update(tags.join(',')).update(readFileSync(BIN.busybox)).digest('hex').slice(0, 16);
  const archive = join(dir, `busybox-${name}.tar`);
  if (existsSync(archive)) return archive;
  const work = join(dir, `build-${name}`);
  rmSync(work, { recursive: true, force: true });
  const rootfs = join(work, 'rootfs');
  for (const d of ['bin', 'etc', 'proc', 'sys', 'dev', 'tmp', 'root', 'run']) mkdirSync(join(rootfs, d), { recursive: true });
  copyFileSync(BIN.busybox, join(rootfs, 'bin/busybox'));
  for (const a of BUSYBOX_APPLETS) symlinkSync('busybox', join(rootfs, 'bin', a));
  writeFileSync(join(rootfs, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n');
  writeFileSync(join(rootfs, 'etc/group'), 'root:x:0:\nnogroup:x:65534:\n');
  const image = join(work, 'image');
  mkdirSync(image);
  // Reproducible: the same busybox gives the same layer, config and image id.
  await sh('tar', ['-C', rootfs, '--sort=name', '--mtime=@0', '--owner=0', '--group=0', '--numeric-owner', '-cf', join(image, 'layer.tar'), '.']);
  const layerSha = createHash('sha256').update(readFileSync(join(image, 'layer.tar'))).digest('hex');
  const config = JSON.stringify({
    architecture: 'amd64',
    os: 'linux',
    created: '1970-01-01T00:00:00Z',
    config: { Cmd: ['/bin/sleep', 'infinity'], Env: ['PATH=/bin'] },
    rootfs: { type: 'layers', diff_ids: [`sha256:${layerSha}`] },
    history: [{ created: '1970-01-01T00:00:00Z', created_by: 'vigil test/support/runtimes.ts: busybox-static' }],
  });
  const configSha = createHash('sha256').update(config).digest('hex');
  writeFileSync(join(image, `${configSha}.json`), config);
  mkdirSync(join(image, layerSha));
  await sh('mv', [join(image, 'layer.tar'), join(image, layerSha, 'layer.tar')]);
  writeFileSync(join(image, 'manifest.json'), JSON.stringify([{ Config: `${configSha}.json`, RepoTags: tags, Layers: [`${layerSha}/layer.tar`] }]));
  await sh('tar', ['-C', image, '--sort=name', '--mtime=@0', '--owner=0', '--group=0', '--numeric-owner', '-cf', `${archive}.tmp`, '.']);
  await sh('mv', [`${archive}.tmp`, archive]);
  rmSync(work, { recursive: true, force: true });
  return archive;
}

// ---- dockerd --------------------------------------------------------------

export class TestDocker {
  readonly client: DockerClient;
  /** Containers this test made (by id), removed on stop. */
  private readonly made = new Set<string>();

  private constructor(
    private readonly daemon: Daemon,
    readonly socket: string,
    readonly execRoot: string,
  ) {
    this.client = new DockerClient(socket, { timeoutMs: 10_000 });
  }

  /** Starts dockerd (with its own containerd) and loads the test images. */
  static async start(): Promise<TestDocker> {
    const socket = join(runtimeRunDir, 'docker.sock');
    const execRoot = join(runtimeRunDir, 'docker');
    const dataRoot = join(runtimeDataDir, 'docker');
    mkdirSync(dataRoot, { recursive: true });
    const daemon = await Daemon.start('dockerd', BIN.dockerd, [
      '--host', `unix://${socket}`,
      '--data-root', dataRoot,
      '--exec-root', execRoot,
      '--pidfile', join(runtimeRunDir, 'dockerd.own.pid'),
      '--storage-driver', 'overlay2',
      // No systemd here: runc's systemd driver fails.
      '--exec-opt', 'native.cgroupdriver=cgroupfs',
      // The host's firewall and bridges stay untouched: tests use host networking on loopback.
      '--iptables=false', '--ip-masq=false', '--bridge=none', '--userland-proxy=false',
    ]);
    const d = new TestDocker(daemon, socket, execRoot);
    try {
      await waitUntil('dockerd to answer', async () => {
        if (!daemon.running) throw new Error(`dockerd exited: ${daemon.log().slice(-2000)}`);
        return d.client.version().then(() => true, () => false);
      }, 60_000);
      await d.removeLeftovers();
      const archive = await busyboxArchive([TEST_IMAGE, TRUSTED_IMAGE]);
      const have = await d.cli(['images', '-q', TEST_IMAGE]);
      if (!have.trim()) await d.cli(['load', '-i', archive]);
    } catch (err) {
      await d.stop();
      throw err;
    }
    return d;
  }

  /** The docker CLI against this daemon. */
  cli(args: string[], timeoutMs = 120_000, env: NodeJS.ProcessEnv = {}): Promise<string> {
    return sh(BIN.docker, ['-H', `unix://${this.socket}`, ...args], { timeoutMs, env: { ...process.env, DOCKER_CONFIG: join(runtimeRunDir, 'docker-cli'), ...env } });
  }

  /** `docker run -d` with host networking (loopback only, no bridge); returns the container id. */
  async run(opts: { name: string; image?: string; labels?: Record<string, string>; args?: string[]; command?: string[] }): Promise<string> {
    const labels = Object.entries({ 'vigil.test': '1', ...opts.labels }).flatMap(([k, v]) => ['--label', `${k}=${v}`]);
    const id = (await this.cli(['run', '-d', '--network', 'host', '--name', opts.name, ...labels, ...(opts.args ?? []), opts.image ?? TEST_IMAGE, ...(opts.command ?? [])])).trim();
    this.made.add(id);
    return id;
  }

  /** Runs a command in a container; resolves with its output. */
  exec(id: string, cmd: string[]): Promise<string> {
    return this.cli(['exec', id, ...cmd]);
  }

  async pidOf(id: string): Promise<number> {
    return (await this.client.inspect(id)).State?.Pid ?? 0;
  }

  /** Stops dockerd in its tracks (SIGSTOP): a runtime that hangs. */
  pause(): void {
    this.daemon.child.kill('SIGSTOP');
  }

  resume(): void {
    this.daemon.child.kill('SIGCONT');
  }

  async remove(id: string): Promise<void> {
    await this.cli(['rm', '-f', id]);
    this.made.delete(id);
  }

  /** Containers a crashed run left (all carry the vigil.test label). */
  private async removeLeftovers(): Promise<void> {
    const ids = (await this.cli(['ps', '-aq', '--filter', 'label=vigil.test'])).split('\n').filter(Boolean);
    if (ids.length) await this.cli(['rm', '-f', ...ids]);
  }

  async stop(): Promise<void> {
    try {
      if (this.daemon.running) {
        if (this.made.size) await this.cli(['rm', '-f', ...this.made]).catch(() => undefined);
        await this.removeLeftovers().catch(() => undefined);
      }
    } finally {
      await this.daemon.stop();
      // dockerd leaves its default network namespace mounted.
      await sh('umount', [join(this.execRoot, 'netns/default')]).catch(() => undefined);
      removeEmptyCgroups(['docker']);
    }
  }
}

// ---- containerd and its CRI ----------------------------------------------

export interface PodSpec {
  name: string;
  namespace: string;
  uid?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  /** The kubelet makes a pod's sandbox privileged when one of its containers is. */
  privileged?: boolean;
  /** The host's pid namespace (hostPID: true). */
  hostPid?: boolean;
  /**
   * A cgroup namespace of its own for each of the pod's containers, as
   * containerd's CRI gives them on a cgroup v2 host (not on a hybrid one
   * like this machine's): runc through CGROUPNS_RUNTIME.
   */
  cgroupns?: 'private';
}

export interface ContainerSpec {
  name: string;
  image?: string;
  command?: string[];
  labels?: Record<string, string>;
  privileged?: boolean;
  addCapabilities?: string[];
  dropCapabilities?: string[];
}

export interface TestPod {
  id: string;
  uid: string;
  name: string;
  namespace: string;
  config: Record<string, unknown>;
}

export class TestContainerd {
  readonly cri: CriClient;
  private readonly pods = new Map<string, TestPod>();

  private constructor(
    private readonly daemon: Daemon,
    readonly socket: string,
    private readonly logDir: string,
  ) {
    this.cri = new CriClient(socket, { timeoutMs: 60_000 });
  }

  /** Starts containerd with its CRI and imports the test images (also as the sandbox image). */
  static async start(): Promise<TestContainerd> {
    const socket = join(runtimeRunDir, 'containerd.sock');
    const state = join(runtimeRunDir, 'containerd');
    const root = join(runtimeDataDir, 'containerd');
    const logDir = join(runtimeRunDir, 'pod-logs');
    mkdirSync(root, { recursive: true });
    mkdirSync(logDir, { recursive: true });
    const config = join(runtimeRunDir, 'containerd.toml');
    const runcCgroupns = join(runtimeRunDir, 'runc-cgroupns');
    writeFileSync(runcCgroupns, RUNC_CGROUPNS, { mode: 0o755 });
    writeFileSync(config, containerdConfig({ root, state, socket, opt: join(runtimeDataDir, 'containerd-opt'), runcCgroupns }));
    const daemon = await Daemon.start('containerd', BIN.containerd, ['--config', config]);
    const c = new TestContainerd(daemon, socket, logDir);
    try {
      await waitUntil('containerd\'s CRI to answer', async () => {
        if (!daemon.running) throw new Error(`containerd exited: ${c.daemon.log().slice(-2000)}`);
        return c.cri.version().then(() => true, () => false);
      }, 30_000);
      await c.removeLeftovers();
      const images = await c.ctr(['images', 'ls', '-q']);
      if (!images.includes(`docker.io/${PAUSE_IMAGE}`)) {
        await c.ctr(['images', 'import', '--no-unpack', await busyboxArchive([TEST_IMAGE, TRUSTED_IMAGE, PAUSE_IMAGE])]);
      }
    } catch (err) {
      await c.stop();
      throw err;
    }
    return c;
  }

  /** Stops containerd in its tracks (SIGSTOP): a runtime that hangs. Its containers run on (their shims are separate). */
  pause(): void {
    this.daemon.child.kill('SIGSTOP');
  }

  resume(): void {
    this.daemon.child.kill('SIGCONT');
  }

  ctr(args: string[]): Promise<string> {
    return sh(BIN.ctr, ['--address', this.socket, '--namespace', 'k8s.io', ...args]);
  }

  /** A pod sandbox on the host network (no CNI), as the kubelet would ask for it. */
  async runPod(spec: PodSpec): Promise<TestPod> {
    const uid = spec.uid ?? crypto.randomUUID();
    const config = {
      metadata: { name: spec.name, uid, namespace: spec.namespace, attempt: 0 },
      logDirectory: join(this.logDir, uid),
      labels: {
        ...spec.labels,
        'io.kubernetes.pod.name': spec.name,
        'io.kubernetes.pod.namespace': spec.namespace,
        'io.kubernetes.pod.uid': uid,
      },
      annotations: spec.annotations ?? {},
      linux: {
        cgroupParent: `/kubepods/besteffort/pod${uid}`,
        securityContext: { privileged: spec.privileged ?? false, namespaceOptions: { network: 'NODE', pid: spec.hostPid ? 'NODE' : 'CONTAINER', ipc: 'POD' } },
      },
    };
    mkdirSync(config.logDirectory, { recursive: true });
    const runtimeHandler = spec.cgroupns === 'private' ? CGROUPNS_RUNTIME : '';
    const { podSandboxId } = await this.cri.call<{ podSandboxId: string }>('RunPodSandbox', { config, runtimeHandler });
    const pod = { id: podSandboxId, uid, name: spec.name, namespace: spec.namespace, config };
    this.pods.set(pod.id, pod);
    return pod;
  }

  /** Creates and starts a container in `pod`; returns its id. */
  async startContainer(pod: TestPod, spec: ContainerSpec): Promise<string> {
    const securityContext = spec.privileged
      ? { privileged: true }
      : { capabilities: { addCapabilities: spec.addCapabilities ?? [], dropCapabilities: spec.dropCapabilities ?? [] } };
    const config = {
      metadata: { name: spec.name, attempt: 0 },
      image: { image: `docker.io/${spec.image ?? TEST_IMAGE}` },
      command: spec.command ?? ['/bin/sleep', 'infinity'],
      labels: {
        ...spec.labels,
        'io.kubernetes.container.name': spec.name,
        'io.kubernetes.pod.name': pod.name,
        'io.kubernetes.pod.namespace': pod.namespace,
        'io.kubernetes.pod.uid': pod.uid,
      },
      logPath: `${spec.name}.log`,
      linux: { resources: {}, securityContext },
    };
    const { containerId } = await this.cri.call<{ containerId: string }>('CreateContainer', { podSandboxId: pod.id, config, sandboxConfig: pod.config });
    await this.cri.call('StartContainer', { containerId });
    return containerId;
  }

  /**
   * Creates and starts a container from a CRI ContainerConfig as given (a
   * kubelet's translation of a pod spec); returns its id.
   */
  async startConfigured(pod: TestPod, config: Record<string, unknown>): Promise<string> {
    const { containerId } = await this.cri.call<{ containerId: string }>('CreateContainer', { podSandboxId: pod.id, config, sandboxConfig: pod.config });
    await this.cri.call('StartContainer', { containerId });
    return containerId;
  }

  /** What a container wrote to stdout and stderr (the CRI's log file, message part of each line). */
  logOf(pod: TestPod, logPath: string): string {
    try {
      const text = readFileSync(join(this.logDir, pod.uid, logPath), 'utf8');
      // "<time> <stream> <P|F> <message>"
      return text.split('\n').map((l) => l.split(' ').slice(3).join(' ')).join('\n');
    } catch {
      return '';
    }
  }

  /** Runs a command in a container (the CRI's ExecSync, what `kubectl exec` ends in). */
  async exec(containerId: string, cmd: string[], timeoutS = 20): Promise<{ stdout: string; stderr: string; exitCode: number }> {
    const r = await this.cri.call<{ stdout: Buffer; stderr: Buffer; exitCode: number }>('ExecSync', { containerId, cmd, timeout: timeoutS }, (timeoutS + 10) * 1000);
    return { stdout: Buffer.from(r.stdout).toString(), stderr: Buffer.from(r.stderr).toString(), exitCode: r.exitCode };
  }

  /** The container's main process on the host. */
  async pidOf(containerId: string): Promise<number> {
    const s = await this.cri.containerStatus(containerId, true);
    return (JSON.parse(s.info.info ?? '{}') as { pid?: number }).pid ?? 0;
  }

  async removePod(pod: TestPod): Promise<void> {
    await this.cri.call('StopPodSandbox', { podSandboxId: pod.id });
    await this.cri.call('RemovePodSandbox', { podSandboxId: pod.id });
    this.pods.delete(pod.id);
    removeEmptyCgroups([`kubepods/besteffort/pod${pod.uid}`]);
  }

  private async removeLeftovers(): Promise<void> {
    for (const p of await this.cri.listPodSandbox()) {
      await this.cri.call('StopPodSandbox', { podSandboxId: p.id });
      await this.cri.call('RemovePodSandbox', { podSandboxId: p.id });
      if (p.metadata) removeEmptyCgroups([`kubepods/besteffort/pod${p.metadata.uid}`]);
    }
  }

  async stop(): Promise<void> {
    try {
      if (this.daemon.running) {
        for (const p of [...this.pods.values()]) await this.removePod(p).catch(() => undefined);
        await this.removeLeftovers().catch(() => undefined);
      }
    } finally {
      this.cri.close();
      await this.daemon.stop();
      // A shim outlives containerd; ours (started for our socket) go with it.
      for (const pid of shimsOf(this.socket)) process.kill(pid, 'SIGKILL');
      removeEmptyCgroups(['kubepods/besteffort', 'kubepods']);
    }
  }
}

/**
 * The CRI runtime handler (a pod's runtimeHandler) whose containers get a
 * cgroup namespace of their own. containerd's CRI adds one to every
 * container that is not privileged on a cgroup v2 host, and never on a
 * cgroup v1 or hybrid host like this one (containerd 1.6 has no option
 * for it): this runc wrapper adds to the OCI spec (the bundle's
 * config.json) exactly the namespace containerd would have, for
 * containers and not their pod's sandbox (the pause container), as there.
 */
export const CGROUPNS_RUNTIME = 'runc-cgroupns';

// containerd writes config.json compact, in the spec's field order: one
// "namespaces":[ (the linux section's), a namespace's object begins with
// {"type": and a mount's (the cgroup mount's too) with {"destination":.
const RUNC_CGROUPNS = `#!/bin/sh
bundle=
prev=
for a; do
  [ "$prev" = --bundle ] && bundle=$a
  prev=$a
done
case " $* " in
  *" create "*)
    spec="$bundle/config.json"
    if grep -q '"io.kubernetes.cri.container-type":"container"' "$spec" && ! grep -q '{"type":"cgroup"' "$spec"; then
      sed -i 's/"namespaces":\\[/"namespaces":[{"type":"cgroup"},/' "$spec"
      grep -q '{"type":"cgroup"' "$spec" || { echo "runc-cgroupns: no namespaces list in $spec" >&2; exit 1; }
    fi
    ;;
esac
exec ${BIN.runc} "$@"
`;

function containerdConfig(p: { root: string; state: string; socket: string; opt: string; runcCgroupns: string }): string {
  return `version = 2
root = "${p.root}"
state = "${p.state}"
[grpc]
  address = "${p.socket}"
[ttrpc]
  address = "${p.socket}.ttrpc"
[plugins]
  [plugins."io.containerd.internal.v1.opt"]
    path = "${p.opt}"
  [plugins."io.containerd.grpc.v1.cri"]
    sandbox_image = "docker.io/${PAUSE_IMAGE}"
    # The sandbox asks for oom_score_adj -998, which needs CAP_SYS_RESOURCE; root here lacks it.
    restrict_oom_score_adj = true
    [plugins."io.containerd.grpc.v1.cri".containerd]
      snapshotter = "overlayfs"
      default_runtime_name = "runc"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
        runtime_type = "io.containerd.runc.v2"
        [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
          SystemdCgroup = false
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.${CGROUPNS_RUNTIME}]
        runtime_type = "io.containerd.runc.v2"
        [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.${CGROUPNS_RUNTIME}.options]
          SystemdCgroup = false
          BinaryName = "${p.runcCgroupns}"
    [plugins."io.containerd.grpc.v1.cri".cni]
      bin_dir = "${p.opt}/cni-bin"
      conf_dir = "${p.opt}/cni-conf"
`;
}

/** containerd-shim processes serving the containerd at `socket`. */
function shimsOf(socket: string): number[] {
  const out: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    const cmd = cmdlineOf(Number(d));
    if (cmd.startsWith('/usr/bin/containerd-shim') && cmd.includes(`-address ${socket} `)) out.push(Number(d));
  }
  return out;
}

/** Removes cgroup directories the runtimes leave behind, in every hierarchy, where empty. */
function removeEmptyCgroups(relative: readonly string[]): void {
  const roots = new Set<string>();
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const [head, tail] = line.split(' - ');
    const fstype = tail?.split(' ')[0];
    if (fstype === 'cgroup' || fstype === 'cgroup2') roots.add(head!.split(' ')[4]!);
  }
  for (const root of roots) {
    for (const rel of relative) {
      const dir = join(root, rel);
      try {
        if (statSync(dir).isDirectory()) rmdirSync(dir);
      } catch {
        // absent, or still in use by someone
      }
    }
  }
}
