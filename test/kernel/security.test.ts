// Least privilege on the real kernel: the probe works with exactly the
// capabilities the DaemonSet grants it (and says clearly what is missing
// without one), the engine runs as an unprivileged user, and a probe
// reaches a TCP engine only through mutual TLS.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { AUDIT_FILE, type AuditRecord } from '../../src/control/audit.js';
import { ControlClient } from '../../src/control/client.js';
import type { Alert } from '../../src/model/alert.js';
import { stopChild } from '../support/children.js';
import { TestEngine } from '../support/engine.js';
import { describeKernel, probeBinary, probeStartMs, repoRoot, TestCgroupTree, waitFor } from '../support/kernel.js';
import { completeLines } from '../support/lines.js';
import { makePki, type TestPki } from '../support/tls.js';
import { own } from '../support/events.js';

/** What daemonset/daemonset.yaml grants the probe container (see daemonset/README.md). */
const PROBE_CAPS = ['bpf', 'perfmon', 'net_admin', 'sys_ptrace', 'kill'];

describeKernel('least privilege on the real kernel', () => {
  let pki: TestPki;
  let tree: TestCgroupTree;
  const children: ChildProcess[] = [];
  const cleanups: (() => Promise<void>)[] = [];

  beforeAll(() => {
    pki = makePki();
    tree = new TestCgroupTree();
  });
  afterEach(async () => {
    // Each gone before its directory is removed: the unprivileged engine writes its learned profiles there as it stops.
    await Promise.all(children.splice(0).map((c) => stopChild(c)));
    for (const c of cleanups.splice(0).reverse()) await c();
  });
  afterAll(async () => {
    rmSync(pki.dir, { recursive: true, force: true });
    await tree.remove();
  });

  /** `closed`: its exit code once it has exited and its stderr is read to the end (at 'exit' the last lines can still be in the pipe). */
  const startProbe = (args: string[], caps: string[]): { child: ChildProcess; stderr: () => string; closed: Promise<number | null> } => {
    const bounding = ['-all', ...caps.map((c) => `+${c}`)].join(',');
    const child = spawn('setpriv', ['--bounding-set', bounding, probeBinary, ...args, '--exclude-pid', String(process.pid)], { stdio: ['ignore', 'ignore', 'pipe'] });
    children.push(child);
    let err = '';
    child.stderr!.on('data', (d) => (err += d));
    const closed = new Promise<number | null>((r) => child.once('close', (code) => r(code)));
    return { child, stderr: () => err, closed };
  };

  it('the probe streams, quarantines and kills with only the capabilities the DaemonSet grants', async () => {
    const app = tree.group('least');
    const t = await TestEngine.start({ sinks: [] });
    cleanups.push(() => t.stop());
    startProbe(['--engine', t.config.engine.listen], PROBE_CAPS);
    await waitFor('the probe connected', () => t.engine.ingest.sessions().some((s) => s.snapshotDone), probeStartMs);
    const r = await app.run('/bin/echo', ['least-privilege']);
    await waitFor('its exec seen', () => t.of(app.id, 'exec').some((e) => e.pid === r.pid));
    expect(t.engine.probes.current()!.hello.capabilities).toEqual(expect.arrayContaining(['exec-kill', 'connect-refuse', 'quarantine', 'capture', 'kill']));
    const control = new ControlClient(t.config.control.listen);
    try {
      expect(await control.quarantine(`${tree.root}/least`)).toMatchObject({ ok: true });
      expect(await control.release(`${tree.root}/least`)).toMatchObject({ ok: true });
      const sleeper = app.spawn('/bin/sleep', ['30']);
      await waitFor('the sleeper seen', () => t.of(app.id, 'exec').some((e) => e.pid === sleeper.pid && own(e).argv[0] === '/bin/sleep'));
      expect(await control.kill(sleeper.pid!)).toMatchObject({ ok: true });
    } finally {
      control.close();
    }
  });

  it('started with every capability (as `vigil run` starts it), the probe keeps only those five, in every thread, and still captures and quarantines', async () => {
    const app = tree.group('dropped');
    const t = await TestEngine.start({ sinks: [] });
    cleanups.push(() => t.stop());
    await t.startProbe(); // the supervisor `vigil run` uses: a root child with the full set
    const pid = t.probe!.pid!;
    // Bits of CAP_KILL (5), CAP_NET_ADMIN (12), CAP_SYS_PTRACE (19), CAP_PERFMON (38), CAP_BPF (39).
    const five = ((1n << 5n) | (1n << 12n) | (1n << 19n) | (1n << 38n) | (1n << 39n)).toString(16).padStart(16, '0');
    expect(five).toBe('000000c000081020');
    const caps = (status: string): Record<string, string> => Object.fromEntries([...status.matchAll(/^(Cap\w+):\s+([0-9a-f]+)$/gm)].map((m) => [m[1]!, m[2]!]));
    const threads = readdirSync(`/proc/${pid}/task`);
    expect(threads.length).toBeGreaterThan(1); // gRPC's and the sender's threads too
    for (const tid of threads) {
      const c = caps(readFileSync(`/proc/${pid}/task/${tid}/status`, 'utf8'));
      expect(c, `thread ${tid}`).toEqual({ CapInh: '0000000000000000', CapPrm: five, CapEff: five, CapBnd: five, CapAmb: '0000000000000000' });
    }
    expect(readFileSync(`/proc/${pid}/status`, 'utf8')).toMatch(/^NoNewPrivs:\s+1$/m);
    expect(t.logLines.some((l) => l.component === 'probe' && /capabilities: kept bpf, perfmon, net_admin, sys_ptrace, kill; every other one dropped/.test(l.msg))).toBe(true);

    // What it attaches later, after the drop: a capture and a quarantine (cgroup programs), a kill of another user's process.
    const r = await app.run('/bin/true', []);
    await waitFor('the workload seen', () => t.of(app.id, 'exec').some((e) => e.pid === r.pid));
    const control = new ControlClient(t.config.control.listen);
    try {
      const capture = control.capture(`${tree.root}/dropped`, 1, 10);
      expect(await capture).toMatchObject({ ok: true });
      expect(await control.quarantine(`${tree.root}/dropped`)).toMatchObject({ ok: true });
      expect((await app.run('/usr/bin/curl', ['-s', '--max-time', '1', 'http://127.0.0.1:9/'])).code).toBe(28);
      expect(await control.release(`${tree.root}/dropped`)).toMatchObject({ ok: true });
      const sleeper = app.spawn('/usr/bin/setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', '/bin/sleep', '30']);
      await waitFor('the sleeper running as nobody', () => t.of(app.id, 'exec').some((e) => e.pid === sleeper.pid && own(e).argv[0] === '/bin/sleep' && e.uid === 65534));
      expect(await control.kill(sleeper.pid!)).toMatchObject({ ok: true });
    } finally {
      control.close();
    }
  });

  it('a control call is audited with the uid and process the kernel saw connect, not what the client claims', async () => {
    const app = tree.group('audited');
    const t = await TestEngine.start({ sinks: [] });
    cleanups.push(() => t.stop());
    const alerts: Alert[] = [];
    t.engine.onAlert((a) => alerts.push(a));
    await t.startProbe();
    await app.run('/bin/true', []);
    const name = `${tree.root}/audited`;
    await waitFor('the workload seen', () => t.engine.workloads.find(name));
    // Let another user reach the control socket (the default is root only), to show whose uid is recorded.
    chmodSync(t.dir, 0o711);
    chmodSync(t.config.control.listen.slice('unix://'.length), 0o666);
    const cfgDir = mkdtempSync(join(tmpdir(), 'vigil-cli-'));
    cleanups.push(async () => rmSync(cfgDir, { recursive: true, force: true }));
    chmodSync(cfgDir, 0o755);
    const cfg = join(cfgDir, 'vigil.yaml');
    writeFileSync(cfg, `control: { listen: ${t.config.control.listen} }\n`, { mode: 0o644 });

    // The vigil CLI as nobody: the kernel saw uid 65534 connect.
    // (Spawned asynchronously: this process is the engine that has to answer.)
    const run = (cmd: string, args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> =>
      new Promise((resolve) => {
        const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
        let stdout = '';
        let stderr = '';
        child.stdout!.on('data', (d) => (stdout += d));
        child.stderr!.on('data', (d) => (stderr += d));
        // 'close', not 'exit': its output read to the end.
        child.on('close', (status) => resolve({ status, stdout, stderr }));
      });
    const cli = await run('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, join(repoRoot, 'dist/cli/main.js'), 'mode', name, 'monitor', '--config', cfg]);
    expect(cli.stderr).toBe('');
    expect(cli.status).toBe(0);
    const records = (): AuditRecord[] => readFileSync(join(t.config.stateDir, AUDIT_FILE), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as AuditRecord);
    const [byNobody] = records();
    expect(byNobody).toMatchObject({ action: 'set-mode', target: name, ok: true, caller: { verifiedBy: 'kernel', uid: 65534, exe: process.execPath, note: '' } });
    const alert = alerts.find((a) => a.rule === 'Workload mode changed')!;
    expect(alert.message).toMatch(new RegExp(`— done; by uid 65534, pid ${byNobody!.caller.pid} \\S+ \\(as the kernel saw it\\)$`));
    expect(alert.fields['vigil.caller.uid']).toBe(65534);

    // A client that lies about its pid: the kernel's record of its connect wins, and the lie is noted.
    const liar = [
      `import { credentials, makeGenericClientConstructor, Metadata } from ${JSON.stringify(join(repoRoot, 'node_modules/@grpc/grpc-js/build/src/index.js'))};`,
      `import { controlMethods } from ${JSON.stringify(join(repoRoot, 'dist/control/methods.js'))};`,
      `const C = makeGenericClientConstructor(controlMethods, 'ControlService');`,
      `const c = new C(${JSON.stringify(t.config.control.listen)}, credentials.createInsecure());`,
      `const md = new Metadata(); md.set('vigil-client-pid', '1');`,
      `c.SetMode({ workload: ${JSON.stringify(name)}, mode: 'learn' }, md, (e, r) => { console.log(e ? e.message : r.ok); process.exit(0); });`,
    ].join('\n');
    const lied = await run(process.execPath, ['--input-type=module', '-e', liar]);
    expect(lied.stdout.trim()).toBe('true');
    const second = records()[1]!;
    expect(second.caller).toMatchObject({ verifiedBy: 'kernel', uid: 0, note: 'the client says it is pid 1 (another pid namespace, or not the truth)' });
    expect(second.caller.pid).not.toBe(1);
    expect(second.lowersProtection).toBe(true);
  });

  it('without CAP_BPF the probe stops at once and says what it needs', async () => {
    const { closed, stderr } = startProbe(['--engine', 'unix:///nonexistent/engine.sock'], PROBE_CAPS.filter((c) => c !== 'bpf'));
    expect(await closed).toBe(1);
    expect(stderr()).toMatch(/cannot (load|open) BPF (programs|object).*CAP_BPF/);
  });

  it('the engine runs as an unprivileged user; the probe reaches it over TCP through mutual TLS only', async () => {
    const app = tree.group('tls');
    const dir = mkdtempSync(join(tmpdir(), 'vigil-nobody-'));
    cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
    chownSync(dir, 65534, 65534);
    // The engine's certificate and key, readable by its user alone.
    for (const [from, to] of [[pki.ca, 'ca.crt'], [pki.serverCert, 'server.crt'], [pki.serverKey, 'server.key']] as const) {
      copyFileSync(from, join(dir, to));
      chownSync(join(dir, to), 65534, 65534);
    }
    const config = join(dir, 'vigil.yaml');
    writeFileSync(config, [
      'nodeName: tls-node',
      'engine:',
      '  listen: tcp://127.0.0.1:0',
      `  tls: { ca: ${dir}/ca.crt, cert: ${dir}/server.crt, key: ${dir}/server.key }`,
      `control: { listen: unix://${dir}/control.sock }`,
      `stateDir: ${dir}/state`,
      `eventLog: ${dir}/events.jsonl`,
      'metrics: { listen: null }',
      'sinks: []',
    ].join('\n'));
    const engine = spawn('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, join(repoRoot, 'dist/cli/main.js'), 'engine', '--config', config], { stdio: ['ignore', 'ignore', 'pipe'] });
    children.push(engine);
    let engineLog = '';
    engine.stderr!.on('data', (d) => (engineLog += d));
    // A port of its own (a fixed one could still be held by another run's engine); one that exits instead says why.
    const port = await waitFor('the engine listening', () => {
      if (engine.exitCode !== null || engine.signalCode !== null) throw new Error(`the engine exited at start:\n${engineLog}`);
      const line = completeLines(engineLog).find((l) => l.includes('"listening for probes"'));
      return line ? (JSON.parse(line) as { port: number }).port : undefined;
    }, 20_000);
    const target = `tcp://127.0.0.1:${port}`;
    expect(spawnSync('ps', ['-o', 'user=', '-p', String(engine.pid)], { encoding: 'utf8' }).stdout.trim()).toMatch(/nobody|65534/);

    // Plaintext is refused by the probe itself; the wrong certificate by the engine.
    const plain = startProbe(['--engine', target], PROBE_CAPS);
    expect(await plain.closed).toBe(2);
    expect(plain.stderr()).toMatch(/a tcp:\/\/ engine takes mutual TLS/);
    const rogue = startProbe(['--engine', target, '--tls-ca', pki.ca, '--tls-cert', pki.rogueCert, '--tls-key', pki.rogueKey], PROBE_CAPS);
    await waitFor('the rogue probe turned away', () => /unreachable, retrying/.test(rogue.stderr()), 20_000);
    expect(engineLog).not.toMatch(/probe connected/);
    rogue.child.kill('SIGTERM');

    const good = startProbe(['--engine', target, '--tls-ca', pki.ca, '--tls-cert', pki.clientCert, '--tls-key', pki.clientKey], PROBE_CAPS);
    await waitFor('the probe connected over mutual TLS', () => /connected to engine/.test(good.stderr()), probeStartMs);
    const r = await app.run('/bin/echo', ['over-tls']);
    const log = (): string => {
      try {
        return readFileSync(join(dir, 'events.jsonl'), 'utf8');
      } catch {
        return '';
      }
    };
    await waitFor('the exec in the unprivileged engine\'s event log', () => log().includes(`"pid":${r.pid}`) && log().includes('over-tls'), 20_000);
  });
});
