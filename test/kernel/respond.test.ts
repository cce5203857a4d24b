// Responses on the real kernel: quarantine cuts a container's network
// while its neighbour keeps it, a capture is a pcap tshark reads, a kill
// kills the right process, and every response says what it did.
import { execFileSync } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { alertFor, type Alert } from '../../src/model/alert.js';
import { ControlClient } from '../../src/control/client.js';
import { emptyEvent } from '../../src/model/event.js';
import { TestEngine } from '../support/engine.js';
import { describeKernel, TestCgroupTree, waitFor, type TestCgroup } from '../support/kernel.js';
import { own } from '../support/events.js';

describeKernel('responses on the real kernel', () => {
  let t: TestEngine;
  let tree: TestCgroupTree;
  let suspect: TestCgroup;
  let neighbour: TestCgroup;
  let http: Server;
  let port: number;
  let control: ControlClient;
  const requests: string[] = [];

  beforeAll(async () => {
    tree = new TestCgroupTree();
    suspect = tree.group('suspect');
    neighbour = tree.group('neighbour');
    t = await TestEngine.start({ sinks: [] });
    await t.startProbe();
    control = new ControlClient(t.config.control.listen);
    http = createServer((req, res) => {
      requests.push(req.url ?? '');
      res.end('hello from loopback\n');
    });
    await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
    port = (http.address() as { port: number }).port;
    // Let the engine see both workloads (a workload is known by its events).
    await suspect.run('/bin/true', []);
    await neighbour.run('/bin/true', []);
    await waitFor('both workloads seen', () => t.engine.workloads.find(`${tree.root}/suspect`) && t.engine.workloads.find(`${tree.root}/neighbour`));
  });

  afterAll(async () => {
    control?.close();
    http?.close();
    await t?.stop();
    await tree?.remove();
  });

  const curl = (g: TestCgroup, path: string) =>
    g.run('/usr/bin/curl', ['-s', '--max-time', '2', '-o', '/dev/null', '-w', '%{http_code}', `http://127.0.0.1:${port}${path}`]);

  it('quarantines a workload: its connections fail, its neighbour is untouched, release restores it', async () => {
    expect((await curl(suspect, '/before')).stdout).toBe('200');

    const q = await control.quarantine(`${tree.root}/suspect`, 'test');
    expect(q).toMatchObject({ ok: true });
    expect(q.detail).toMatch(/quarantined 1 cgroups/);
    const cut = await curl(suspect, '/during');
    expect(cut.code).toBe(28); // curl: operation timed out — the SYN never got out
    expect(requests).not.toContain('/during');
    expect((await curl(neighbour, '/neighbour')).stdout).toBe('200');
    // The processes keep running for forensics: the curl above ran to its own timeout.
    expect((await control.status()).quarantined).toEqual([`${tree.root}/suspect`]);

    const r = await control.release(`${tree.root}/suspect`);
    expect(r).toMatchObject({ ok: true, detail: 'released 1 cgroups' });
    expect((await curl(suspect, '/after')).stdout).toBe('200');
    expect(requests).toContain('/after');
  });

  it('keeps a quarantine across an engine and probe restart, in force before the workload makes a sound', async () => {
    expect(await control.quarantine(`${tree.root}/suspect`, 'restart test')).toMatchObject({ ok: true });
    control.close();
    await t.stop({ keepDir: true });
    t = await TestEngine.start({ sinks: [] }, { dir: t.dir });
    await t.startProbe();
    control = new ControlClient(t.config.control.listen);
    // The probe confirms it from the cgroups remembered in the state file.
    await waitFor('the quarantine re-applied by the new probe', () => t.logLines.some((l) => /quarantined 1 cgroups \(1 new\)/.test(l.msg)));
    expect((await control.status()).quarantined).toEqual([`${tree.root}/suspect`]);
    // The first thing the workload does after the restart is already cut off.
    expect((await curl(suspect, '/after-restart')).code).toBe(28);
    expect(requests).not.toContain('/after-restart');
    expect(await control.release(`${tree.root}/suspect`)).toMatchObject({ ok: true, detail: 'released 1 cgroups' });
    expect((await curl(suspect, '/released-after-restart')).stdout).toBe('200');
  });

  it('captures a workload\'s packets to a pcap file that tshark reads back', async () => {
    const capture = control.capture(`${tree.root}/suspect`, 3, 200);
    await new Promise((r) => setTimeout(r, 300));
    expect((await curl(suspect, '/captured-request?x=1')).stdout).toBe('200');
    const c = await capture;
    expect(c).toMatchObject({ ok: true, ended: 'time' });
    expect(c.packets).toBeGreaterThan(4); // handshake, request, response, teardown
    expect(existsSync(c.file)).toBe(true);
    const uris = execFileSync('tshark', ['-r', c.file, '-Y', 'http.request', '-T', 'fields', '-e', 'http.request.uri'], { encoding: 'utf8' });
    expect(uris.trim()).toBe('/captured-request?x=1');
    const ports = execFileSync('tshark', ['-r', c.file, '-T', 'fields', '-e', 'tcp.dstport'], { encoding: 'utf8' });
    expect(ports.split('\n')).toContain(String(port));
  });

  it('refuses a capture of an unknown workload with a reason', async () => {
    const c = await control.capture('/no/such/workload', 1, 10);
    expect(c).toMatchObject({ ok: false });
    expect(c.error).toMatch(/no workload, pod or container '\/no\/such\/workload'/);
  });

  it('kills a process by hand, and refuses one that has already exited', async () => {
    const sleeper = suspect.spawn('/bin/sleep', ['60']);
    const exited = new Promise<NodeJS.Signals | null>((r) => sleeper.once('exit', (_c, sig) => r(sig)));
    // The engine must know the process (its fork and exec) before it can guard the pid.
    await waitFor('the sleeper seen', () => t.of(suspect.id, 'exec').some((e) => e.pid === sleeper.pid && own(e).argv[0] === '/bin/sleep'));
    const k = await control.kill(sleeper.pid!);
    expect(k).toMatchObject({ ok: true, detail: `sent signal 9 to pid ${sleeper.pid}` });
    expect(await exited).toBe('SIGKILL');
    await waitFor('its exit seen', () => t.engine.tree.get(sleeper.pid!)?.exited);
    const again = await control.kill(sleeper.pid!);
    expect(again).toMatchObject({ ok: false, error: `pid ${sleeper.pid} has already exited` });
  });

  it('responds automatically as configured and records the action on the alert', async () => {
    const sleeper = suspect.spawn('/bin/sleep', ['60']);
    const exited = new Promise<NodeJS.Signals | null>((r) => sleeper.once('exit', (_c, sig) => r(sig)));
    const exec = await waitFor('the sleeper seen', () => t.of(suspect.id, 'exec').find((e) => e.pid === sleeper.pid && own(e).argv[0] === '/bin/sleep'));
    const w = t.engine.workloads.find(`${tree.root}/suspect`)!;
    t.engine.workloads.setMode(w, 'enforce');
    try {
      const delivered: Alert[] = [];
      const off = t.engine.onAlert((a) => delivered.push(a));
      // The default response: a critical alert in enforce mode kills the process behind it.
      t.engine.raise(alertFor(exec, t.engine.tree, { source: 'rule', rule: 'Test critical rule', priority: 'critical', message: 'test' }));
      const alert = await waitFor('the alert delivered', () => delivered.find((a) => a.rule === 'Test critical rule'));
      off();
      expect(alert.action).toMatchObject({ taken: 'killed', ok: true });
      expect(await exited).toBe('SIGKILL');
    } finally {
      t.engine.workloads.setMode(w, 'learn');
    }
  });

  it('raises an alert when a response cannot be carried out', async () => {
    const e = emptyEvent('exec');
    Object.assign(e, { pid: 999_999, nodeName: 'test-node', time: Date.now() });
    const w = t.engine.workloads.find(`${tree.root}/suspect`)!;
    t.engine.workloads.setMode(w, 'enforce');
    try {
      e.workload = w;
      const delivered: Alert[] = [];
      const off = t.engine.onAlert((a) => delivered.push(a));
      t.engine.raise(alertFor(e, t.engine.tree, { source: 'rule', rule: 'Doomed', priority: 'critical', message: 'x' }));
      const failure = await waitFor('the failure alert', () => delivered.find((a) => a.rule === 'Response failed'));
      off();
      expect(failure.source).toBe('response');
      expect(failure.message).toMatch(/could not kill in response to "Doomed": kill 999999: No such process/);
      expect(delivered.find((a) => a.rule === 'Doomed')!.action).toMatchObject({ taken: 'kill failed', ok: false });
    } finally {
      t.engine.workloads.setMode(w, 'learn');
    }
  });
});
