// Enforcement outlives the probe (bpf/probe/pinning.h): a workload in
// enforce mode, the probe SIGKILLed and kept down, and in the gap a connect
// the policy does not list is still refused (the listener never sees it) and
// a new executable still stopped (it never writes its file). The next probe
// takes over: the earlier probe's links are released once the engine has put
// its policies back, leaving one set. A clean stop with a workload enforced
// keeps the pins (documented: an upgrade must not open the gap);
// `vigil-probe --release-pinned` drops them and the connect goes through.
// The pins live in a bpffs mounted for this test only, under a name of its
// own: other probes on this machine pin elsewhere.
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Alert } from '../../src/model/alert.js';
import { ControlClient } from '../../src/control/client.js';
import { formatStatus } from '../../src/cli/format.js';
import { TestEngine } from '../support/engine.js';
import { describeKernel, probeBinary, repoRoot, TestCgroupTree, waitFor, type TestCgroup } from '../support/kernel.js';

const python = realpathSync('/usr/bin/python3');
const fileop = join(repoRoot, 'test/kernel/fileop.py');
const DENYING = ['bpf-lsm', 'fmod_ret'];

/** A bpftool that can say which links exist; the host has one, the QEMU guests may not. */
const bpftool = ['/usr/sbin/bpftool', '/usr/bin/bpftool', '/sbin/bpftool'].find((p) => existsSync(p)) ?? null;

describeKernel('enforcement pinned in bpffs: in force while no probe runs, one set after a restart', () => {
  let t: TestEngine;
  let tree: TestCgroupTree;
  let app: TestCgroup;
  let control: ControlClient;
  let dir: string;
  let fs: string;
  let pinDir: string;
  let tool: string;
  let victim: string;
  const servers: Server[] = [];
  let allowedPort: number;
  let deniedPort: number;
  let reachedDenied = 0;
  const alerts: Alert[] = [];

  const listen = async (onConn: () => void = () => {}): Promise<number> => {
    const s = createServer((c) => {
      onConn();
      c.end();
    });
    servers.push(s);
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    return (s.address() as { port: number }).port;
  };
  const op = (name: string, ...args: string[]) => app.run(python, [fileop, name, ...args]);
  const generations = () => (existsSync(pinDir) ? readdirSync(pinDir).sort() : []);
  const pins = (gen: string) => readdirSync(join(pinDir, gen)).sort();
  /** The kernel's id of a pinned link (bpftool), or null without bpftool. */
  const linkId = (path: string): number | null =>
    bpftool ? (JSON.parse(execFileSync(bpftool, ['-j', 'link', 'show', 'pinned', path], { encoding: 'utf8' })) as { id: number }).id : null;
  const linkExists = (id: number) => {
    try {
      execFileSync(bpftool!, ['link', 'show', 'id', String(id)], { stdio: 'ignore' });
      return true;
    } catch {
      return false;
    }
  };
  /** How this kernel stops an operation, as the first probe said (kept: none is connected in the gap). */
  const mechanisms = new Map<string, string>();
  const mechanism = (operation: string): string => {
    if (!mechanisms.has(operation)) {
      const m = t.engine.enforcement.mechanisms().find((x) => x.operation === operation);
      if (!m) throw new Error(`no probe said how ${operation} is enforced`);
      mechanisms.set(operation, m.mechanism);
    }
    return mechanisms.get(operation)!;
  };

  /** A connect the policy does not list: refused, the listener never sees it. */
  async function deniedConnectRefused(when: string) {
    const before = reachedDenied;
    const r = await op('connect', String(deniedPort));
    expect(r.stdout.trim(), `${when}: the connect is refused`).toBe('EPERM');
    await new Promise((res) => setTimeout(res, 200));
    expect(reachedDenied, `${when}: the listener saw nothing`).toBe(before);
  }

  /**
   * A write below a protected path: denied, the file unchanged (BPF LSM,
   * fmod_ret), or with the fallback the writer killed at the syscall's entry
   * (the call completes: what changed is put back for the next check).
   */
  async function protectedWriteStopped(when: string) {
    writeFileSync(victim, 'original\n');
    const r = await op('write', victim);
    if (DENYING.includes(mechanism('open-write'))) {
      expect(r.stdout.trim(), `${when}: write denied`).toBe('EPERM');
      expect(readFileSync(victim, 'utf8'), `${when}: the file unchanged`).toBe('original\n');
    } else {
      expect(mechanism('open-write')).toBe('kill-at-entry');
      expect(r.code, `${when}: the writer killed at the syscall's entry`).toBeNull();
      expect(r.stdout, `${when}: nothing after the call ran`).toBe('');
    }
  }

  /** A program the policy does not list: it never gets to write its file. */
  async function newExecutableStopped(when: string) {
    const marker = join(dir, `ran-${randomBytes(3).toString('hex')}`);
    const r = await op('exec', tool, marker);
    expect(existsSync(marker), `${when}: the new program did not run`).toBe(false);
    if (DENYING.includes(mechanism('exec'))) expect(r.stdout.trim(), `${when}: exec denied`).toBe('EPERM');
    else expect(r.code, `${when}: killed at exec`).toBeNull();
  }

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'vigil-pin-'));
    fs = join(dir, 'bpffs');
    mkdirSync(fs);
    execFileSync('mount', ['-t', 'bpf', 'bpf', fs]);
    pinDir = join(fs, 'vigil', `pin-${randomBytes(4).toString('hex')}`);
    // A program nobody learned: touch under another name.
    mkdirSync(join(dir, 'bin'));
    tool = join(dir, 'bin', 'newtool');
    copyFileSync(realpathSync('/usr/bin/touch'), tool);
    chmodSync(tool, 0o755);
    mkdirSync(join(dir, 'p'));
    victim = join(dir, 'p', 'victim.txt');
    tree = new TestCgroupTree();
    app = tree.group('app');
    allowedPort = await listen();
    deniedPort = await listen(() => reachedDenied++);
    t = await TestEngine.start({ workloads: [{ name: 'pinned', cgroup: tree.root }], sinks: [], profiles: { protectedPaths: [`${join(dir, 'p')}/`] } }, { dir: join(dir, 'engine') });
    t.engine.onAlert((a) => alerts.push(a));
    await t.startProbe({ pinDir });
    control = new ControlClient(t.config.control.listen);
    app.spawn('/usr/bin/sleep', ['3600']);
    await waitFor('the workload seen', () => t.engine.workloads.find('pinned'));
    const policy = [
      'apiVersion: vigil.dev/v1alpha1',
      'kind: WorkloadProfile',
      'metadata: { name: pinned }',
      'spec:',
      '  workload: { key: "named:pinned", name: pinned, kind: named }',
      '  mode: enforce',
      '  processes:',
      `    - exe: ${python}`,
      '    - exe: /usr/bin/sleep',
      `    - exe: ${realpathSync('/bin/sh')}`,
      '  files: { read: [], write: [] }',
      '  network:',
      `    egress: [{ to: 127.0.0.1, port: ${allowedPort}, protocol: tcp }]`,
      '    listen: []',
      '    ingress: []',
      '',
    ].join('\n');
    expect(await control.applyPolicy(policy, 'pinned.yaml')).toMatchObject({ ok: true, applied: ['pinned (enforce)'] });
  });

  afterAll(async () => {
    control?.close();
    await t?.stop();
    for (const s of servers) s.close();
    app?.killAll();
    await tree?.remove();
    // Unmounting this bpffs releases whatever is still pinned in it.
    if (fs) execFileSync('umount', [fs]);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  let firstGen = '';
  let firstIds: number[] = [];

  it('the probe pins its enforcement and vigil status says so', async () => {
    const gens = generations();
    expect(gens).toHaveLength(1);
    firstGen = gens[0]!;
    const names = pins(firstGen);
    // In the QEMU guests: the mechanism this kernel must have given exec (test/vm/).
    if (process.env.VIGIL_EXPECT_MECHANISM) expect(mechanism('exec')).toBe(process.env.VIGIL_EXPECT_MECHANISM);
    if (DENYING.includes(mechanism('exec'))) expect(names).toEqual(expect.arrayContaining([expect.stringMatching(/^(lsm|fmod)_bprm_creds_from_file$/)]));
    // What enforces on any kernel: the connect hooks (or the LSM/fmod_ret connect hook) and exec.
    expect(names).toEqual(expect.arrayContaining(['handle_exec', 'handle_fork', 'handle_exit', 'handle_cgroup_move']));
    if (mechanism('connect') === 'cgroup') expect(names).toEqual(expect.arrayContaining(['enforce_connect4', 'enforce_connect6']));
    firstIds = names.map((n) => linkId(join(pinDir, firstGen, n))).filter((id): id is number => id !== null);
    const s = await control.status();
    const p = s.probes.find((x) => x.connected)!;
    expect(p.pinning).toMatchObject({ pinned: true, dir: join(pinDir, firstGen), links: names.length, previousLinks: 0, onExit: 'keep-while-enforcing' });
    expect(formatStatus(s)).toContain(`enforcement pinned at ${join(pinDir, firstGen)}: ${names.length} links stay in force if the probe dies`);
    for (const op of ['connect', 'exec', 'open-write']) mechanism(op);
    await deniedConnectRefused('with the probe running');
    await protectedWriteStopped('with the probe running');
    expect((await op('connect', String(allowedPort))).stdout.trim()).toBe('ok');
  });

  it('SIGKILL of the probe leaves enforcement in force while none runs', async () => {
    const supervisor = t.probe!;
    const pid = supervisor.pid!;
    process.kill(pid, 'SIGKILL');
    // Kept down (no restart) for as long as the checks take.
    await supervisor.stop();
    await waitFor('the engine sees the probe gone', () => t.engine.ingest.sessions().every((s) => !s.connected));
    expect(existsSync(`/proc/${pid}`)).toBe(false);
    await deniedConnectRefused('no probe running');
    await newExecutableStopped('no probe running');
    await protectedWriteStopped('no probe running');
    expect(t.engine.ingest.sessions().every((s) => !s.connected), 'still no probe: the checks ran in the gap').toBe(true);
    expect(generations()).toEqual([firstGen]);
  });

  it('the restarted probe takes over and the earlier links are released: one set', async () => {
    const before = pins(firstGen).length;
    await t.startProbe({ pinDir });
    const session = t.engine.ingest.sessions().find((s) => s.connected)!;
    expect(session.hello.enforcementKept).toBe(true);
    expect(session.hello.pinning).toMatchObject({ pinned: true, previousLinks: before });
    await waitFor('the earlier links released after the engine re-applied its policies', () => session.previousPinsReleased, 20_000);
    const gens = generations();
    expect(gens).toHaveLength(1);
    expect(gens[0]).not.toBe(firstGen);
    expect(pins(gens[0]!)).toHaveLength(before);
    // The kernel let go of the earlier probe's links (their programs detach).
    if (bpftool) await waitFor('the earlier links gone from the kernel', () => firstIds.every((id) => !linkExists(id)), 20_000);
    const restart = await waitFor('the restart alerted', () => alerts.find((a) => a.rule === 'Probe restarted'));
    expect(restart.priority).toBe('error');
    expect(restart.message).toMatch(/enforcement stayed in force \(its state was pinned\)$/);
    const s = await control.status();
    expect(s.probes.find((x) => x.connected)!.pinning).toMatchObject({ previousLinks: before, previousReleased: true });
    await deniedConnectRefused('after the takeover');
    await newExecutableStopped('after the takeover');
    expect((await op('connect', String(allowedPort))).stdout.trim()).toBe('ok');
  });

  it('a clean stop with a workload enforced keeps the pins; --release-pinned drops them', async () => {
    const gen = generations()[0]!;
    const names = pins(gen);
    const ids = names.map((n) => linkId(join(pinDir, gen, n))).filter((id): id is number => id !== null);
    await t.probe!.stop();
    expect(generations()).toEqual([gen]);
    expect(pins(gen)).toEqual(names);
    await deniedConnectRefused('after a clean stop');
    // The syscall tracepoints' links too (libbpf would have disabled their perf events on the way out).
    await protectedWriteStopped('after a clean stop');
    await newExecutableStopped('after a clean stop');
    const released = spawnSync(probeBinary, ['--release-pinned', '--pin-dir', pinDir], { encoding: 'utf8' });
    expect(released.status).toBe(0);
    expect(released.stderr).toContain(`unpinned ${names.length} enforcement links of 1 probe(s) under ${pinDir}`);
    expect(existsSync(pinDir)).toBe(false);
    if (bpftool) await waitFor('the links gone from the kernel', () => ids.every((id) => !linkExists(id)), 20_000);
    // Nothing enforces now: the same connect reaches the listener.
    const before = reachedDenied;
    await waitFor('the connect let through once nothing enforces', async () => (await op('connect', String(deniedPort))).stdout.trim() === 'ok', 20_000);
    expect(reachedDenied).toBeGreaterThan(before);
  });
});
