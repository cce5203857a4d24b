// Every loss, stall and gap is an alert, through the real engine and a
// probe speaking the real stream (the synthetic one, so each fault can be
// made exactly): losses per workload in episodes (critical in enforce mode),
// losses nobody can attribute, missing batches, a probe gone silent while
// connected, no probe at all, a restart that left enforcement off. `vigil
// status` and /metrics keep the counts.
import { afterEach, describe, expect, it } from 'vitest';
import { ControlClient } from '../../../src/control/client.js';
import { formatStatus } from '../../../src/cli/format.js';
import type { Alert } from '../../../src/model/alert.js';
import { LossEpisodes } from '../../../src/probe/losses.js';
import type { WireLossReport } from '../../../src/probe/wire.js';
import { WEB } from '../alert/support.js';
import { capturingLogger } from '../../support/engine.js';
import { useFakeCgroupMount } from '../../support/cgroup-hooks.js';
import { TestEngine } from '../../support/engine.js';
import { waitFor } from '../../support/kernel.js';
import { SyntheticProbe } from '../../support/synthetic-probe.js';

const cgroups = useFakeCgroupMount({ web: 'shop/web', db: 'shop/db' });

let t: TestEngine;
let started = false;
let probes: SyntheticProbe[] = [];
let alerts: Alert[] = [];
afterEach(async () => {
  for (const p of probes) await p.close();
  probes = [];
  if (started) await t.stop();
  started = false;
});

async function start(): Promise<SyntheticProbe> {
  t = await TestEngine.start(
    {
      workloads: [{ name: 'web', cgroup: '/shop/web', mode: 'enforce' }, { name: 'db', cgroup: '/shop/db', mode: 'monitor' }],
      engine: { probeStallSeconds: 2 },
      probe: { lossReportMs: 200 },
      sinks: [],
    },
    { cgroupMount: cgroups.dir, lossEpisodes: { quietMs: 1500, updateMs: 3000 } },
  );
  started = true;
  alerts = [];
  t.engine.onAlert((a) => alerts.push(a));
  const probe = connect();
  // web (enforce mode) has run here: the engine knows it, and what a gap means for it.
  probe.sendBatch([{ pid: 5, cgroupId: cgroups.id.web, exit: { exitCode: 0, signal: 0 } }], 1);
  await waitFor('web seen', () => t.engine.workloads.find('web'));
  return probe;
}

function connect(sessionId?: string, hello: { enforcementKept?: boolean; pinning?: { dir: string; pinned: boolean; why: string; links: number; previousLinks: number; onExit: string } } = {}): SyntheticProbe {
  const p = SyntheticProbe.connect(`unix://${t.dir}/engine.sock`, { sessionId, capabilities: ['exec-kill', 'connect-refuse', 'write-kill'], ...hello });
  probes.push(p);
  return p;
}

const losses = (over: Partial<WireLossReport>): { loss: WireLossReport } => ({
  loss: { ringbufFull: 0, decodeErrors: 0, queueFull: 0, pathTruncated: 0, eventsTotal: 0, inflightFull: 0, packetsLost: 0, deduplicated: 0, dnsDropped: 0, envTruncated: 0, cgroups: [], ...over },
});

const of = (rule: string): Alert[] => alerts.filter((a) => a.rule === rule);

describe('losses', () => {
  it('raises one alert per workload and episode: when it starts, and the totals when it is over; critical in enforce mode', async () => {
    const probe = await start();
    await waitFor('connected', () => t.engine.ingest.sessions().length === 1);
    // Two seconds of a flood in web (enforce) and a little in db (monitor), attributed by the probe, reported cumulatively.
    const cg = (id: number, ringbufFull: number, queueFull: number, shed = 0) => ({ cgroupId: id, ringbufFull, queueFull, inflightFull: 0, shed, shedByKind: (shed ? { open: shed } : {}) as Record<string, number> });
    probe.send(losses({ ringbufFull: 1000, queueFull: 10, cgroups: [cg(cgroups.id.web, 990, 10), cg(cgroups.id.db, 10, 0)] }));
    const web = await waitFor('the loss in web alerted at once', () => of('Events lost').find((a) => a.workload.name === 'web'));
    const db = of('Events lost').find((a) => a.workload.name === 'db')!;
    expect(web).toMatchObject({ source: 'engine', priority: 'critical', fields: { 'vigil.loss.phase': 'started', 'vigil.loss.ringbufFull': 990, 'vigil.loss.queueFull': 10 } });
    expect(web.message).toMatch(/^1,000 events of web were lost before the engine saw them \(kernel ring buffer 990, probe queue 10\); counting until it stops\. In enforce mode \(web\): the kernel kept enforcing, but rules, profiles and responses did not see these events$/);
    expect(db).toMatchObject({ priority: 'error', fields: { 'vigil.loss.ringbufFull': 10 } });
    // The same episode grows: no alert per report. Only web is in the next report (cumulative; db did not grow).
    probe.send(losses({ ringbufFull: 5000, queueFull: 10, cgroups: [cg(cgroups.id.web, 4990, 10, 300)] }));
    probe.send(losses({ ringbufFull: 9000, queueFull: 10, cgroups: [cg(cgroups.id.web, 8990, 10, 300)] }));
    await waitFor('the shedding reported', () => of('Events shed').length === 1);
    expect(of('Events lost').filter((a) => a.workload.name === 'web')).toHaveLength(1);
    expect(of('Events shed')[0]).toMatchObject({ priority: 'warning', workload: { name: 'web' }, fields: { 'vigil.loss.open': 300 } });
    // Quiet: the episode ends with its totals, still critical.
    const over = await waitFor('the episode over', () => of('Events lost').find((a) => a.workload.name === 'web' && a.fields['vigil.loss.phase'] === 'over'), 5000);
    expect(over).toMatchObject({ priority: 'critical', fields: { 'vigil.loss.total': 9000, 'vigil.loss.ringbufFull': 8990 } });
    expect(over.message).toMatch(/^episode over: 9,000 events of web lost between \S+ and \S+ \(kernel ring buffer 8,990, probe queue 10\)/);
    // db grew once only: its first alert had the whole count, no second one.
    expect(of('Events lost').filter((a) => a.workload.name === 'db')).toHaveLength(1);

    const control = new ControlClient(t.config.control.listen);
    try {
      const s = await control.status();
      expect(s.workloadLosses).toEqual([
        { workload: 'web', ringbufFull: 8990, inflightFull: 0, queueFull: 10, shed: 300 },
        { workload: 'db', ringbufFull: 10, inflightFull: 0, queueFull: 0, shed: 0 },
      ]);
      expect(s.lossEpisodes).toBe(3);
    } finally {
      control.close();
    }
    const metrics = await (await fetch(`http://127.0.0.1:${t.engine.metricsPort}/metrics`)).text();
    expect(metrics).toMatch(/^vigil_events_lost_by_workload_total\{workload="web",place="kernel_ring_buffer"\} 8990$/m);
    expect(metrics).toMatch(/^vigil_events_shed_total\{workload="web"\} 300$/m);
    expect(metrics).toMatch(/^vigil_loss_episodes_total\{kind="lost"\} 2$/m);
  });

  it('raises losses no cgroup accounts for, and missing batches, as the node\'s: critical while any workload is in enforce mode', async () => {
    const probe = await start();
    await waitFor('connected', () => t.engine.ingest.sessions().length === 1);
    // Today's probe, which does not say whose events it lost.
    probe.send(losses({ ringbufFull: 120, decodeErrors: 2 }));
    const node = await waitFor('the unattributed loss', () => of('Events lost')[0]);
    expect(node).toMatchObject({ priority: 'critical', workload: { name: 'test-node', kind: 'host' } });
    expect(node.message).toMatch(/^122 events on test-node \(whose is not known\) were lost .*\(kernel ring buffer 120, probe decode 2\).*In enforce mode \(web\)/);
    expect(t.engine.losses.workloads()).toEqual([]);
    // A batch that never arrived.
    probe.sendBatch([{ pid: 7, cgroupId: cgroups.id.db, exit: { exitCode: 0, signal: 0 } }], 2);
    probe.sendBatch([{ pid: 8, cgroupId: cgroups.id.db, exit: { exitCode: 0, signal: 0 } }], 6);
    // Part of the node's episode, which ends with the totals.
    const over = await waitFor('the missing batches alerted', () => of('Events lost').find((a) => a.fields['vigil.loss.batchesMissing'] === 3), 5000);
    expect(over).toMatchObject({ priority: 'critical', fields: { 'vigil.loss.phase': 'over', 'vigil.loss.ringbufFull': 120 } });
    expect(over.message).toMatch(/\(kernel ring buffer 120, probe decode 2, batches missing 3\)/);
  });

  it('shows the probe\'s fairness budget in vigil status and /metrics: cut when the engine fell behind, and how often', async () => {
    const probe = await start();
    await waitFor('connected', () => t.engine.ingest.sessions().length === 1);
    probe.send(losses({ fairness: { budget: 50_000, configured: 50_000, cuts: 0, lowest: 50_000, held: 0 } }));
    await waitFor('reported', () => t.engine.status().probes[0]!.fairness.configured === 50_000 || undefined);
    expect(formatStatus(t.engine.status())).toContain('fairness: budget toward the engine 50,000 events/s (as configured); never cut; workloads held to their share now: 0');
    probe.send(losses({ fairness: { budget: 6_250, configured: 50_000, cuts: 3, lowest: 6_250, held: 2 } }));
    await waitFor('the cut', () => t.engine.status().probes[0]!.fairness.cuts === 3 || undefined);
    expect(t.engine.status().probes[0]!.fairness).toEqual({ budget: 6_250, configured: 50_000, cuts: 3, lowest: 6_250, held: 2 });
    expect(formatStatus(t.engine.status())).toContain('fairness: budget toward the engine CUT to 6,250 events/s of 50,000 (the engine is behind); cut 3 times since the probe started, lowest 6,250; workloads held to their share now: 2');
    const metrics = await t.engine.metrics.registry.metrics();
    expect(metrics).toMatch(/^vigil_probe_fairness_budget_events_per_second 6250$/m);
    expect(metrics).toMatch(/^vigil_probe_fairness_budget_cuts_total 3$/m);
    // A probe with fairness off says so: one workload's flood can then delay everyone's events.
    probe.send(losses({ fairness: null as never }));
    await waitFor('off', () => t.engine.status().probes[0]!.fairness.configured === 0 || undefined);
    expect(formatStatus(t.engine.status())).toContain('fairness: off');
  });

  it('counts a reconnecting probe\'s cumulative counters once', async () => {
    const probe = await start();
    await waitFor('connected', () => t.engine.ingest.sessions().length === 1);
    probe.send(losses({ queueFull: 50 }));
    await waitFor('the loss', () => of('Events lost').length === 1);
    await probe.close();
    await waitFor('gone', () => t.engine.ingest.sessions().length === 0);
    const again = connect(probe.sessionId);
    await waitFor('back', () => t.engine.ingest.sessions().length === 1);
    again.send(losses({ queueFull: 50 }));
    again.send(losses({ queueFull: 50 }));
    await new Promise((r) => setTimeout(r, 300));
    expect(of('Events lost')).toHaveLength(1);
  });
});

describe('a long loss episode', () => {
  it('is re-reported once a minute while it grows, and never while it does not', () => {
    const clock = { now: 0 };
    const raised: Alert[] = [];
    const l = new LossEpisodes({ node: 'n', workloadOf: () => WEB, enforcing: () => [], raise: (a) => raised.push(a), log: capturingLogger().log, now: () => clock.now });
    let total = 0;
    const report = (n: number) => {
      const before = total;
      total += n;
      l.report('s', losses({ queueFull: before }).loss, losses({ queueFull: total }).loss);
    };
    report(10);
    for (let s = 1; s <= 130; s++) {
      clock.now = s * 1000;
      if (s <= 125) report(1);
      l.tick();
    }
    expect(raised.map((a) => a.fields['vigil.loss.phase'])).toEqual(['started', 'going on', 'going on']);
    clock.now += 10_000;
    l.tick();
    expect(raised.map((a) => [a.fields['vigil.loss.phase'], a.fields['vigil.loss.total']])).toEqual([['started', 10], ['going on', 70], ['going on', 130], ['over', 135]]);
    expect(raised.every((a) => a.priority === 'error' && a.rule === 'Events lost')).toBe(true);
  });
});

describe('stalls and gaps', () => {
  it('a connected probe that goes silent (stopped, wedged) is alerted within seconds, and again when it speaks', async () => {
    const probe = await start();
    await waitFor('connected', () => t.engine.ingest.sessions().length === 1);
    // Its heartbeat: loss counters every 200 ms, then nothing, as under SIGSTOP.
    for (let i = 0; i < 5; i++) {
      probe.send(losses({}));
      await new Promise((r) => setTimeout(r, 200));
    }
    const silentFrom = Date.now();
    const stalled = await waitFor('the stall alerted', () => of('Probe stalled')[0], 6000);
    expect(Date.now() - silentFrom).toBeLessThan(4500);
    expect(stalled).toMatchObject({ priority: 'critical', source: 'engine' });
    expect(stalled.message).toMatch(/^the probe \(pid 1\) on synthetic-node has sent nothing for [23] s although connected \(stopped, wedged or starved\): since \S+ nothing is observed\. Protected workloads \(enforce mode: web\): its kernel programs stay attached/);
    expect(t.engine.status().probes[0]!.stalled).toBe(true);
    probe.send(losses({ ringbufFull: 40 }));
    const resumed = await waitFor('the resume alerted', () => of('Probe resumed')[0], 3000);
    expect(resumed.message).toMatch(/is sending again after [234] s of silence/);
    await waitFor('the ring buffer\'s overflow during the stall', () => of('Events lost')[0]);
    expect(t.engine.status()).toMatchObject({ probeStalls: 1, probes: [{ stalled: false }] });
    expect(of('Probe stalled')).toHaveLength(1);
  });

  it('no probe for a while is an alert; a probe that comes back as a new process says enforcement was off meanwhile', async () => {
    const probe = await start();
    await waitFor('connected', () => t.engine.ingest.sessions().length === 1);
    await probe.close();
    const gone = await waitFor('no probe alerted', () => of('Probe disconnected')[0], 6000);
    expect(gone).toMatchObject({ priority: 'critical' });
    expect(gone.message).toMatch(/^no probe has been connected to the engine on test-node for [23] s \(the last, pid 1, went away at \S+\): nothing is observed\. Protected workloads \(enforce mode: web\): if the probe died, its kernel enforcement and quarantines went with it$/);
    connect('a-new-probe-process');
    const restarted = await waitFor('the restart alerted', () => of('Probe restarted')[0]);
    expect(restarted).toMatchObject({ priority: 'critical', fields: { 'vigil.enforcement.kept': false, 'vigil.enforce': 'web' } });
    expect(restarted.message).toMatch(/were not observed; kernel enforcement was off meanwhile \(enforce mode: web\) and is being put back now$/);
    expect(t.engine.status()).toMatchObject({ probeRestarts: 1 });
    const metrics = await (await fetch(`http://127.0.0.1:${t.engine.metricsPort}/metrics`)).text();
    expect(metrics).toMatch(/^vigil_probe_restarts_total 1$/m);
  });

  it('an engine no probe connects to says so, and again when one does', async () => {
    t = await TestEngine.start({ engine: { probeStallSeconds: 2 }, sinks: [] });
    started = true;
    alerts = [];
    t.engine.onAlert((a) => alerts.push(a));
    const none = await waitFor('no probe alerted', () => of('Probe disconnected')[0], 6000);
    expect(none).toMatchObject({ priority: 'error' });
    expect(none.message).toMatch(/^no probe has been connected to the engine on test-node for [23] s \(none since the engine started\): nothing is observed$/);
    connect();
    const back = await waitFor('the probe connected', () => of('Probe reconnected')[0]);
    expect(back.message).toMatch(/^a probe \(pid 1\) on synthetic-node connected, \d+ s after the engine started$/);
  });

  it('a restart whose probe kept its enforcement pinned says so, at error', async () => {
    const probe = await start();
    await waitFor('connected', () => t.engine.ingest.sessions().length === 1);
    await probe.close();
    await waitFor('gone', () => t.engine.ingest.sessions().length === 0);
    connect('pinned-probe', { enforcementKept: true });
    const restarted = await waitFor('the restart alerted', () => of('Probe restarted').at(-1));
    expect(restarted.priority).toBe('error');
    expect(restarted.message).toMatch(/enforcement stayed in force \(its state was pinned\)$/);
  });

  it('a probe that found earlier pins is told to release them only after every policy is back; vigil status says so', async () => {
    const probe = await start();
    probe.answer = () => ({ ok: true, error: '', detail: 'done' });
    await probe.close();
    await waitFor('gone', () => t.engine.ingest.sessions().every((s) => !s.connected));
    const next = connect('taking-over', { enforcementKept: true, pinning: { dir: '/sys/fs/bpf/vigil/n/v1-taking-over', pinned: true, why: '', links: 21, previousLinks: 21, onExit: 'keep-while-enforcing' } });
    next.answer = (cmd) => ({ ok: true, error: '', detail: cmd.enforcementApplied ? 'released 21 links' : 'applied' });
    const applied = await waitFor('EnforcementApplied sent', () => next.commands.findIndex((c) => c.enforcementApplied) + 1);
    // Everything the engine re-applies comes first.
    const reapplied = next.commands.map((c, i) => (c.setPolicy || c.setProtectedPaths ? i + 1 : 0)).filter(Boolean);
    expect(reapplied.length).toBeGreaterThan(0);
    expect(Math.max(...reapplied)).toBeLessThan(applied);
    await waitFor('released', () => t.engine.status().probes.find((p) => p.connected)?.pinning.previousReleased);
    expect(t.engine.status().probes.find((p) => p.connected)!.pinning).toMatchObject({ pinned: true, links: 21, previousLinks: 21, onExit: 'keep-while-enforcing' });
    expect(formatStatus(t.engine.status())).toContain('enforcement pinned at /sys/fs/bpf/vigil/n/v1-taking-over: 21 links stay in force if the probe dies, kept on a clean stop while a workload is enforced (vigil-probe --release-pinned drops it); 21 links of an earlier probe released after the engine re-applied its policies');
  });

  it('a probe that could not pin is a warning naming why; pinning turned off is only said in vigil status', async () => {
    const probe = await start();
    await probe.close();
    await waitFor('gone', () => t.engine.ingest.sessions().every((s) => !s.connected));
    connect('no-bpffs', { pinning: { dir: '', pinned: false, why: 'no bpffs at /sys/fs/bpf and mounting one failed: Operation not permitted', links: 0, previousLinks: 0, onExit: 'keep-while-enforcing' } });
    const a = await waitFor('the alert', () => of('Enforcement not pinned')[0]);
    expect(a.priority).toBe('warning');
    expect(a.message).toContain('could not pin its enforcement (no bpffs at /sys/fs/bpf and mounting one failed: Operation not permitted)');
    expect(formatStatus(t.engine.status())).toContain('enforcement NOT PINNED (no bpffs at /sys/fs/bpf and mounting one failed: Operation not permitted)');
    // The synthetic probes before said nothing of pinning (an older probe): not pinned, no alert.
    expect(of('Enforcement not pinned')).toHaveLength(1);
    connect('off', { pinning: { dir: '', pinned: false, why: "pinning turned off (--pin-dir '')", links: 0, previousLinks: 0, onExit: 'keep-while-enforcing' } });
    await waitFor('connected', () => t.engine.ingest.sessions().some((s) => s.hello.sessionId === 'off'));
    await new Promise((r) => setTimeout(r, 300));
    expect(of('Enforcement not pinned')).toHaveLength(1);
  });
});
