// What the engine makes of tampering the probe reports and of processes
// moved between cgroups, through the real engine (a synthetic probe over
// gRPC, a file sink; the cgroup tree a directory, since no kernel is
// involved: test/kernel/tamper.test.ts and enforce.test.ts do it for real).
// Each finding is a critical alert at the sink and in `vigil status`; a
// move out of a workload is an alert by that workload's mode (critical
// when its enforce policy followed), and a move between cgroups nobody
// watches (the node's services, a runtime starting a container) is only
// counted.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import type { Alert } from '../../../src/model/alert.js';
import { formatStatus } from '../../../src/cli/format.js';
import { FakeCgroupMount } from '../../support/cgroup.js';
import { TestEngine } from '../../support/engine.js';
import { waitFor } from '../../support/kernel.js';
import { SyntheticProbe } from '../../support/synthetic-probe.js';

let cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
});

async function setup() {
  const cgroups = new FakeCgroupMount(['shop/web', 'shop/db', 'system.slice/containerd.service', 'elsewhere']);
  const id = (d: string) => cgroups.id(d);
  const dir = mkdtempSync(join(tmpdir(), 'vigil-tamper-'));
  const file = join(dir, 'alerts.jsonl');
  const t = await TestEngine.start(
    { workloads: [{ name: 'shop-web', cgroup: '/shop/web', mode: 'monitor' }, { name: 'shop-db', cgroup: '/shop/db', mode: 'learn' }], sinks: [{ type: 'file', path: file }] },
    { cgroupMount: cgroups.dir },
  );
  const probe = SyntheticProbe.connect(`unix://${t.dir}/engine.sock`);
  cleanup.push(async () => {
    await probe.close();
    await t.stop();
    cgroups.remove();
    rmSync(dir, { recursive: true, force: true });
  });
  const sunk = (): Alert[] => {
    try {
      return readFileSync(file, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Alert);
    } catch {
      return [];
    }
  };
  await waitFor('the probe connected', () => t.engine.ingest.sessions().some((s) => s.connected));
  return { t, probe, id, sunk };
}

it('a change the probe found in its kernel state is a critical alert at the sink, and vigil status says what was found', async () => {
  const { t, probe, sunk } = await setup();
  const watched = ['global policies_active', 'global excluded_count', 'map policies', 'link cgroup/connect4'];
  probe.send({ selfCheck: { checks: 3, tampered: 0, intervalMs: 1000, watched, found: [] } });
  await waitFor('the clean report', () => t.engine.status().probes[0]?.selfCheck.checks === 3);
  expect(sunk().filter((a) => a.rule === 'Probe state tampered')).toEqual([]);
  expect(formatStatus(t.engine.status())).toMatch(/self-check: 3 checks every 1000 ms of 4 globals, maps and links, last \d+s ago; nothing changed by anyone else/);

  probe.send({
    selfCheck: {
      checks: 4, tampered: 2, intervalMs: 1000, watched,
      found: [
        { object: 'global', name: 'policies_active', field: 'policies_active', found: '0', expected: '2', restored: true, error: '' },
        { object: 'link', name: 'cgroup/connect4', field: 'attachment', found: 'detached (no cgroup)', expected: 'attached', restored: false, error: 'cannot attach it again at /sys/fs/cgroup: Permission denied' },
      ],
    },
  });
  const alerts = await waitFor('both findings at the sink', () => {
    const a = sunk().filter((x) => x.rule === 'Probe state tampered');
    return a.length === 2 ? a : null;
  });
  for (const a of alerts) expect(a.priority).toBe('critical');
  expect(alerts[0]!.message).toBe("someone changed the probe's kernel state on synthetic-node: global policies_active: found 0, expected 2; put back by the probe. Only a process with bpf() rights (root, CAP_BPF/CAP_SYS_ADMIN) can: find who (bpf events, login records) and treat the node as compromised");
  expect(alerts[1]!.message).toContain('link cgroup/connect4: found detached (no cgroup), expected attached; NOT put back: cannot attach it again at /sys/fs/cgroup: Permission denied');
  expect(alerts[1]!.tags).toEqual(expect.arrayContaining(['tampering', 'T1562.001']));
  const st = t.engine.status().probes[0]!.selfCheck;
  expect(st).toMatchObject({ checks: 4, tampered: 2, watched });
  expect(st.lastFound).toMatch(/^link cgroup\/connect4: found detached/);
  expect(formatStatus(t.engine.status())).toMatch(/self-check: 4 checks .*; TAMPERED 2 times, last \d+s ago: link cgroup\/connect4/);
});

it('a process moved out of its workload is an alert by the mode it left (critical when its enforce policy followed); moves nobody watches are only counted', async () => {
  const { t, probe, id, sunk } = await setup();
  const move = (pid: number, from: number, to: number, policyRoot = 0, mover = pid) =>
    ({ pid: mover, cgroupId: to, comm: mover === pid ? 'sh' : 'runc', cgroupMove: { pid, comm: 'sh', fromCgroupId: from, toCgroupId: to, policyRootCgroupId: policyRoot, threadgroup: true } });
  probe.sendBatch([
    // A runtime starting a container: from the node's services into a workload.
    move(100, id('system.slice/containerd.service'), id('shop/db'), 0, 99),
    // Out of shop-web (monitor mode) into another cgroup: an error.
    move(200, id('shop/web'), id('elsewhere')),
    // Out of shop-db with its enforce policy following it: critical.
    move(300, id('shop/db'), id('elsewhere'), id('shop/db'), 301),
  ]);
  const alerts = await waitFor('two moves alerted', () => {
    const a = sunk().filter((x) => x.rule === 'Process left its workload');
    return a.length === 2 ? a : null;
  });
  const web = alerts.find((a) => a.workload.name === 'shop-web')!;
  expect(web.priority).toBe('error');
  expect(web.message).toMatch(/^sh \(pid 200\) was moved out of workload shop-web's cgroups itself, into \/elsewhere \(cgroup \d+\): it is no longer watched as shop-web/);
  const db = alerts.find((a) => a.workload.name === 'shop-db')!;
  expect(db.priority).toBe('critical');
  expect(db.message).toMatch(/^sh \(pid 300\) was moved out of workload shop-db's cgroups by pid 301 \(runc\), into \/elsewhere .*shop-db's enforce policy keeps applying to it/);
  expect(db.fields).toMatchObject({ 'proc.pid': 300, 'vigil.mover.pid': 301, 'vigil.policy.followed': true });
  expect(t.engine.status().cgroupMoves).toEqual({ moves: 3, escapes: 2, followed: 1 });
  expect(formatStatus(t.engine.status())).toContain('cgroup moves: 3 processes moved, 2 out of their workload (alerted), 1 kept their enforce policy');
});
