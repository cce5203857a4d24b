// A real engine with its web console for tests: the console on a loopback
// port with a token file, workloads in a directory tree standing in for
// the cgroup v2 mount, and a synthetic probe (real gRPC) that sends the
// events a test needs and acknowledges the engine's commands.
import { mkdirSync, mkdtempSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { ConfigInput } from '../../src/config/schema.js';
import type { ConsoleServer } from '../../src/console/server.js';
import { TestEngine } from './engine.js';
import { SyntheticProbe, type SyntheticEvent } from './synthetic-probe.js';

export const ALL_CAPABILITIES = ['exec-kill', 'connect-refuse', 'write-kill', 'quarantine', 'capture', 'kill'];
/** What the synthetic probe says of its enforcement (probe.proto EnforcementHook; mechanism 1 BPF LSM, 2 fmod_ret, 3 cgroup, 4 kill at entry): a kernel without the chmod hook. */
export const ENFORCEMENT = [
  { operation: 'open-write', mechanism: 1, program: 'lsm/file_open', why: '' },
  { operation: 'exec', mechanism: 1, program: 'lsm/bprm_check_security', why: '' },
  { operation: 'connect', mechanism: 3, program: 'cgroup/connect4', why: '' },
  { operation: 'chmod', mechanism: 4, program: 'tp/syscalls/sys_enter_fchmodat', why: 'BPF LSM and fmod_ret refused' },
];

function ip4(a: string): Buffer {
  return Buffer.from(a.split('.').map(Number));
}

export class ConsoleFixture {
  readonly base: string;
  private pid = 1000;

  private constructor(
    readonly t: TestEngine,
    readonly console: ConsoleServer,
    readonly token: string,
    readonly probe: SyntheticProbe,
    readonly mount: string,
    readonly cgroups: Record<string, number>,
  ) {
    this.base = `http://127.0.0.1:${console.port}`;
  }

  /**
   * Workloads by name: each is a directory under a stand-in cgroup mount
   * (configured as named workloads), so the engine knows their cgroups.
   */
  static async start(workloads: string[], overrides: Partial<ConfigInput> = {}): Promise<ConsoleFixture> {
    const dir = mkdtempSync(join(tmpdir(), 'vigil-console-'));
    const mount = join(dir, 'cgroupfs');
    const cgroups: Record<string, number> = {};
    for (const w of workloads) {
      mkdirSync(join(mount, w, 'c1'), { recursive: true });
      cgroups[w] = statSync(join(mount, w, 'c1')).ino;
    }
    const token = randomBytes(24).toString('base64url');
    writeFileSync(join(dir, 'console-token'), `${token}\n`, { mode: 0o600 });
    const t = await TestEngine.start(
      {
        sinks: [],
        workloads: workloads.map((w) => ({ name: w, cgroup: `/${w}` })),
        alerts: { foldWindowMs: 0 },
        // The synthetic probe sends only what a test makes it send, not the real one's counters every
        // second: it would be a stalled probe (an alert) after the default 5 s. Stalls have their own tests.
        engine: { probeStallSeconds: 3600 },
        ...overrides,
        console: { enabled: true, listen: 'tcp://127.0.0.1:0', tokenFile: join(dir, 'console-token'), ...(overrides.console ?? {}) },
      },
      { dir, cgroupMount: mount },
    );
    const server = t.engine.console;
    if (!server) throw new Error(`console did not start: ${JSON.stringify(t.logLines.filter((l) => l.level === 'error'))}`);
    const probe = SyntheticProbe.connect(`unix://${dir}/engine.sock`, { capabilities: ALL_CAPABILITIES, enforcement: ENFORCEMENT });
    probe.answer = () => ({ ok: true, error: '', detail: 'done' });
    return new ConsoleFixture(t, server, token, probe, mount, cgroups);
  }

  send(workload: string, events: (Omit<SyntheticEvent, 'cgroupId'> & { pid: number })[]): void {
    this.probe.sendBatch(events.map((e) => ({ ...e, cgroupId: this.cgroups[workload]! })));
  }

  exec(workload: string, exe: string, argv: string[] = [exe], extra: { uid?: number; ppid?: number } = {}): number {
    const pid = ++this.pid;
    this.send(workload, [{ pid, ppid: extra.ppid ?? 1, uid: extra.uid ?? 1000, exec: { filename: exe, exe, argv, cwd: '/' } }]);
    return pid;
  }

  connect(workload: string, addr: string, port: number, pid = ++this.pid): void {
    this.send(workload, [{ pid, uid: 1000, connect: { remote: { family: 2, address: ip4(addr), port }, protocol: 6, result: 0 } }]);
  }

  listen(workload: string, addr: string, port: number, pid = ++this.pid): void {
    this.send(workload, [{ pid, uid: 1000, listen: { local: { family: 2, address: ip4(addr), port }, backlog: 16, result: 0 } }]);
  }

  accept(workload: string, local: string, port: number, peer: string, pid = ++this.pid): void {
    this.send(workload, [{ pid, uid: 1000, accept: { local: { family: 2, address: ip4(local), port }, remote: { family: 2, address: ip4(peer), port: 40000 }, result: 5 } }]);
  }

  open(workload: string, path: string, write = false, pid = ++this.pid): void {
    this.send(workload, [{ pid, uid: 1000, open: { path, flags: write ? 0o101 : 0, mode: 0o644, result: 3 } }]);
  }

  async api<T>(path: string, init: RequestInit = {}): Promise<{ status: number; body: T; headers: Headers }> {
    const res = await fetch(`${this.base}${path}`, { ...init, headers: { authorization: `Bearer ${this.token}`, ...(init.headers ?? {}) } });
    const text = await res.text();
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {
      // not JSON
    }
    return { status: res.status, body: body as T, headers: res.headers };
  }

  async stop(): Promise<void> {
    await this.probe.close();
    await this.console.stop();
    await this.t.stop();
  }
}
