// Control actions that change protection are audited and alerted with who
// made them, through the real engine and the real control socket: the audit
// log under stateDir (JSON lines, 0600) and the alert name the caller's uid,
// pid and how that is known; refused attempts are recorded too. Without a
// probe the unix socket's caller is what the client claims, checked against
// /proc, and said to be a claim; over mutual TLS on loopback the kernel's
// /proc/net/tcp names the socket's owner and the certificate its subject.
// (The kernel's own record of the connect, through the real probe, is in
// test/kernel/security.test.ts.)
import { credentials, makeGenericClientConstructor, Metadata, type Client, type ServiceError } from '@grpc/grpc-js';
import { readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { AUDIT_FILE, type AuditRecord } from '../../../src/control/audit.js';
import { ControlClient } from '../../../src/control/client.js';
import { controlMethods } from '../../../src/control/methods.js';
import type { Alert } from '../../../src/model/alert.js';
import { useFakeCgroupMount } from '../../support/cgroup-hooks.js';
import { TestEngine } from '../../support/engine.js';
import { waitFor } from '../../support/kernel.js';
import { SyntheticProbe } from '../../support/synthetic-probe.js';
import { makePki, type TestPki } from '../../support/tls.js';

const cgroups = useFakeCgroupMount({ web: 'shop/web' });
let pki: TestPki;
beforeAll(() => {
  pki = makePki();
});
afterAll(() => rmSync(pki.dir, { recursive: true, force: true }));

let t: TestEngine;
let probe: SyntheticProbe | null = null;
let alerts: Alert[];
afterEach(async () => {
  await probe?.close();
  probe = null;
  await t.stop();
});

async function start(overrides = {}): Promise<void> {
  t = await TestEngine.start({ workloads: [{ name: 'web', cgroup: '/shop/web', mode: 'enforce' }], sinks: [], ...overrides }, { cgroupMount: cgroups.dir });
  alerts = [];
  t.engine.onAlert((a) => alerts.push(a));
  probe = SyntheticProbe.connect(`unix://${t.dir}/engine.sock`, { capabilities: ['exec-kill', 'connect-refuse', 'write-kill', 'quarantine', 'kill'] });
  probe.answer = () => ({ ok: true, error: '', detail: 'done' });
  probe.sendBatch([{ pid: 4242, ppid: 1, cgroupId: cgroups.id.web, exec: { filename: '/bin/sleep', exe: '/bin/sleep', argv: ['sleep', '60'], cwd: '/' } }]);
  await waitFor('web seen', () => t.engine.workloads.find('web'));
}

const records = (): AuditRecord[] => readFileSync(join(t.config.stateDir, AUDIT_FILE), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as AuditRecord);

describe('the control API audit', () => {
  it('records and alerts each change of protection with its caller: mode lowered, quarantine, release, kill, policy', async () => {
    await start();
    const control = new ControlClient(t.config.control.listen);
    try {
      expect(await control.setMode('web', 'learn')).toMatchObject({ ok: true, from: 'enforce' });
      expect(await control.quarantine('web', 'incident 42')).toMatchObject({ ok: true });
      expect(await control.release('web')).toMatchObject({ ok: true });
      expect(await control.kill(4242)).toMatchObject({ ok: true });
      const policy = (await control.exportPolicy('web', 'yaml')).text.replace('mode: learn', 'mode: monitor');
      expect(await control.applyPolicy(policy, 'web.yaml')).toMatchObject({ ok: true });
      // Read-only calls are not audited.
      await control.status();
    } finally {
      control.close();
    }
    const uid = process.getuid!();
    const log = records();
    expect(log.map((r) => [r.action, r.target, r.ok, r.lowersProtection])).toEqual([
      ['set-mode', 'web', true, true],
      ['quarantine', 'web', true, false],
      ['release', 'web', true, true],
      ['kill', '4242', true, false],
      ['apply-policy', 'web', true, true],
    ]);
    for (const r of log) {
      expect(r.caller).toMatchObject({ uid, pid: process.pid, exe: process.execPath, verifiedBy: 'claimed', address: 'unix' });
      expect(r.caller.note).toMatch(/not confirmed by the kernel: the probe saw no connect to the control socket/);
    }
    expect(log[0]!.request).toEqual({ mode: 'learn', from: 'enforce' });
    expect(log[4]!.request).toMatchObject({ documents: 1, source: 'web.yaml', sha256: expect.stringMatching(/^[0-9a-f]{64}$/) });
    expect(statSync(join(t.config.stateDir, AUDIT_FILE)).mode & 0o777).toBe(0o600);

    const audit = alerts.filter((a) => a.tags.includes('audit'));
    expect(audit.map((a) => [a.rule, a.priority])).toEqual([
      ['Workload mode changed', 'error'],
      ['Workload quarantined', 'notice'],
      ['Quarantine released', 'error'],
      ['Process killed by hand', 'notice'],
      ['Policy applied', 'error'],
    ]);
    expect(audit[0]!.message).toBe(
      `Workload mode changed through the control API: web from enforce to learn — done; by uid ${uid}, pid ${process.pid} ${process.execPath} (as the client claims; not confirmed by the kernel: the probe saw no connect to the control socket)`,
    );
    expect(audit[0]).toMatchObject({ workload: { name: 'web' }, fields: { 'vigil.caller.uid': uid, 'vigil.caller.pid': process.pid, 'vigil.caller.verified': 'claimed', 'vigil.audit.action': 'set-mode' } });
    const metrics = await (await fetch(`http://127.0.0.1:${t.engine.metricsPort}/metrics`)).text();
    expect(metrics).toMatch(/^vigil_control_actions_total\{action="set-mode"\} 1$/m);
  });

  it('records refused attempts, and a caller that says nothing as unknown', async () => {
    await start();
    const Ctor = makeGenericClientConstructor(controlMethods, 'ControlService');
    const raw = new Ctor(`unix://${t.dir}/control.sock`, credentials.createInsecure()) as Client & Record<string, (req: unknown, md: Metadata, cb: (e: ServiceError | null, r: unknown) => void) => void>;
    try {
      const reply = await new Promise((resolve, reject) => raw.SetMode!.call(raw, { workload: 'nope', mode: 'learn' }, new Metadata(), (e, r) => (e ? reject(e) : resolve(r))));
      expect(reply).toMatchObject({ ok: false, error: "no workload 'nope' (vigil status lists them)" });
    } finally {
      raw.close();
    }
    const [r] = records();
    expect(r).toMatchObject({ action: 'set-mode', target: 'nope', ok: false, outcome: "no workload 'nope' (vigil status lists them)", caller: { verifiedBy: 'unknown', uid: null, pid: null } });
    const a = alerts.find((x) => x.rule === 'Workload mode changed')!;
    expect(a.priority).toBe('warning');
    expect(a.message).toMatch(/ — refused or failed: no workload 'nope'.*; by uid unknown \(unknown; not confirmed by the kernel/);
  });

  it('names a TLS caller on loopback by its certificate and, from /proc/net/tcp, the uid and process owning its socket', async () => {
    const tls = { ca: pki.ca, cert: pki.serverCert, key: pki.serverKey, clientCert: pki.clientCert, clientKey: pki.clientKey, serverName: 'vigil-engine' };
    await start({ control: { listen: 'tcp://127.0.0.1:0', tls } });
    const port = (t.engine as unknown as { control: { boundPort: number } }).control.boundPort;
    const control = new ControlClient(`tcp://127.0.0.1:${port}`, tls);
    try {
      expect(await control.setMode('web', 'monitor')).toMatchObject({ ok: true });
    } finally {
      control.close();
    }
    const [r] = records();
    expect(r!.caller).toMatchObject({ verifiedBy: 'certificate', certificate: 'CN=client', uid: process.getuid!(), pid: process.pid, exe: process.execPath });
    expect(r!.caller.address).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(alerts.find((a) => a.rule === 'Workload mode changed')!.message).toMatch(/by certificate CN=client, uid \d+, pid \d+ .* \(by its client certificate; client certificate sha256 [0-9A-F:]+\)$/);
  });
});
