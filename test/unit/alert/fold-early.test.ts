// Repeats of one alert in a real engine (built-in rules, a file sink,
// metrics over HTTP), fed over real gRPC by a synthetic probe: a program run
// 1,000 times from /tmp raises one alert at once and one carrying the other
// 999 when the fold window closes, with every field; the 1,000 are counted
// as raised everywhere they were counted before noise control stopped
// building the repeats it folds (status, metrics, delivery). A response
// that applies to the rule still acts on every repeat, and a subscriber to
// every alert still gets every alert. A monitored workload's anomalies fold
// the same way.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Alert } from '../../../src/model/alert.js';
import type { ConfigInput } from '../../../src/config/schema.js';
import { useFakeCgroupMount } from '../../support/cgroup-hooks.js';
import { TestEngine } from '../../support/engine.js';
import { waitFor } from '../../support/kernel.js';
import { SyntheticProbe, type SyntheticEvent } from '../../support/synthetic-probe.js';

const RULE = 'Execution from a temporary directory';
const RUNS = 1000;

const cgroups = useFakeCgroupMount({ web: 'shop/web' });

let t: TestEngine | undefined;
let probe: SyntheticProbe | undefined;
afterEach(async () => {
  await probe?.close();
  probe = undefined;
  await t?.stop();
  t = undefined;
});

async function start(overrides: Partial<ConfigInput> = {}): Promise<string> {
  const alertsFile = join(mkdtempSync(join(tmpdir(), 'vigil-fold-')), 'alerts.jsonl');
  t = await TestEngine.start({ sinks: [{ type: 'file', path: alertsFile }], ...overrides }, { cgroupMount: cgroups.dir });
  probe = SyntheticProbe.connect(`unix://${t.dir}/engine.sock`, { capabilities: ['kill'] });
  probe.answer = () => ({ ok: true, error: '', detail: 'killed' });
  await waitFor('probe session', () => t!.engine.ingest.sessions().length === 1);
  return alertsFile;
}

/** A runner (pid 50) that runs /tmp/payload `n` times, each a new process with its own command line. */
function runFromTmp(n: number, exe = '/tmp/payload'): void {
  const ev = (e: { pid: number; [kind: string]: unknown }): SyntheticEvent => ({ ...e, cgroupId: cgroups.id.web });
  probe!.sendBatch([ev({ pid: 50, ppid: 1, comm: 'runner', exec: { filename: '/usr/local/bin/runner', exe: '/usr/local/bin/runner', argv: ['runner', '--jobs=1'], cwd: '/srv' } })]);
  for (let first = 0; first < n; first += 100) {
    const batch: SyntheticEvent[] = [];
    for (let i = first; i < Math.min(n, first + 100); i++) {
      const pid = 1000 + i;
      batch.push(
        ev({ pid: 50, ppid: 1, comm: 'runner', fork: { childPid: pid } }),
        ev({ pid, ppid: 50, comm: 'payload', exec: { filename: exe, exe, argv: ['payload', `--run=${i}`], cwd: '/tmp' } }),
        ev({ pid, ppid: 50, comm: 'payload', exit: { exitCode: 0, signal: 0 } }),
      );
    }
    probe!.sendBatch(batch);
  }
}

const delivered = (file: string): Alert[] =>
  readFileSync(file, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Alert).filter((a) => a.rule === RULE);

async function metric(name: string): Promise<string[]> {
  const text = await (await fetch(`http://127.0.0.1:${t!.engine.metricsPort}/metrics`)).text();
  return text.split('\n').filter((l) => l.startsWith(name));
}

describe('repeats of an alert', () => {
  it('1,000 runs from /tmp: one alert at once, one with the other 999 when the window closes, each with every field; all 1,000 counted as raised', async () => {
    const file = await start();
    const raised0 = t!.engine.status().alertsRaised;
    runFromTmp(RUNS);
    await waitFor('every run matched', () => t!.engine.rules.fired.get(RULE) === RUNS);

    const [first, ...none] = delivered(file);
    expect(none).toEqual([]);
    expect(first).toMatchObject({
      source: 'rule', rule: RULE, priority: 'warning', count: 1,
      message: 'Program run from a temporary directory',
      workload: { name: '/shop/web', cgroupPath: '/shop/web' },
      process: { pid: 1000, ppid: 50, exe: '/tmp/payload', cmdline: 'payload --run=0', comm: 'payload' },
      event: { type: 'exec', exe: '/tmp/payload', argv: ['payload', '--run=0'] },
      fields: { 'proc.exepath': '/tmp/payload', 'proc.cmdline': 'payload --run=0', 'proc.pname': 'runner' },
    });
    expect(first!.output).toContain('exe=/tmp/payload process=payload cmdline="payload --run=0" parent=runner');
    expect(first!.process.parents[0]).toMatchObject({ pid: 50, exe: '/usr/local/bin/runner', cmdline: 'runner --jobs=1' });

    // Counted as raised, folded and received, as when every repeat was built.
    expect(t!.engine.status().alertsRaised - raised0).toBe(RUNS);
    expect(t!.engine.alertDelivery!.stats()).toMatchObject({ folded: RUNS - 1, emitted: 1 });
    expect(await metric('vigil_rule_hits_total{rule="Execution from a temporary directory"}')).toEqual([`vigil_rule_hits_total{rule="${RULE}"} ${RUNS}`]);
    expect(await metric('vigil_alerts_folded_total')).toEqual([`vigil_alerts_folded_total ${RUNS - 1}`]);
    expect(await metric('vigil_alert_latency_seconds_count')).toEqual([`vigil_alert_latency_seconds_count ${RUNS}`]);

    // Delivery stopping closes the window: the repeats go out as one alert with their count.
    await t!.engine.alertDelivery!.stop();
    const [, folded, ...more] = delivered(file);
    expect(more).toEqual([]);
    expect(folded).toMatchObject({ rule: RULE, count: RUNS - 1, workload: { name: '/shop/web' }, process: { ppid: 50, exe: '/tmp/payload', comm: 'payload' }, fields: { 'proc.pname': 'runner' } });
    expect(folded!.message).toBe(`Program run from a temporary directory (${RUNS - 1} more like this within 60 s)`);
    // One of the repeats, in full: its own command line in the output, its parent.
    const run = Number(/^payload --run=(\d+)$/.exec(folded!.process.cmdline)?.[1]);
    expect(run).toBeGreaterThanOrEqual(1);
    expect(folded!.process.pid).toBe(1000 + run);
    expect(folded!.output).toContain(`cmdline="payload --run=${run}" parent=runner`);
    expect(folded!.process.parents[0]).toMatchObject({ pid: 50, exe: '/usr/local/bin/runner' });
  });

  it('a response that applies to the rule acts on every repeat, folded or not', async () => {
    await start({ responses: [{ priority: 'warning', rules: [RULE], actions: ['kill'] }] });
    runFromTmp(50);
    await waitFor('a kill for every run', () => probe!.commands.filter((c) => c.kill).length === 50);
    expect(probe!.commands.filter((c) => c.kill).map((c) => c.kill!.pid).sort()).toEqual(Array.from({ length: 50 }, (_, i) => 1000 + i).sort());
    await waitFor('every alert handed to delivery', () => t!.engine.alertDelivery!.stats().received === 50);
    expect(t!.engine.alertDelivery!.stats()).toMatchObject({ folded: 49, emitted: 1 });
  });

  it("a program a monitored workload's profile does not have, run 200 times: one anomaly at once, one with the other 199 when the window closes", async () => {
    const file = await start({ rules: { builtin: false } });
    probe!.sendBatch([{ pid: 50, ppid: 1, cgroupId: cgroups.id.web, comm: 'runner', exec: { filename: '/usr/local/bin/runner', exe: '/usr/local/bin/runner', argv: ['runner'], cwd: '/srv' } }]);
    const w = await waitFor('the workload', () => t!.engine.workloads.all().find((x) => x.cgroupPath === '/shop/web'));
    expect(await t!.engine.profiles.changeMode(w, 'monitor')).toMatchObject({ ok: true });
    runFromTmp(200, '/srv/bin/payload');
    await waitFor('the repeats folded', () => t!.engine.alertDelivery!.stats().folded === 199);
    await t!.engine.alertDelivery!.stop();
    const anomalies = readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Alert).filter((a) => a.rule === 'new-executable');
    expect(anomalies.map((a) => a.count)).toEqual([1, 199]);
    expect(anomalies[0]).toMatchObject({ source: 'profile', process: { pid: 1000, exe: '/srv/bin/payload', cmdline: 'payload --run=0' }, fields: { 'vigil.anomaly': 'new-executable', 'vigil.what': '/srv/bin/payload' } });
    expect(anomalies[1]!.message).toMatch(/new executable \/srv\/bin\/payload, parent \/usr\/local\/bin\/runner \(199 more like this within 60 s\)$/);
    expect(t!.engine.alertDelivery!.stats()).toMatchObject({ folded: 199 });
  });

  it('a subscriber to every alert gets each of the 1,000, built', async () => {
    await start();
    const seen: Alert[] = [];
    t!.engine.onAlert((a) => {
      if (a.rule === RULE) seen.push(a);
    });
    runFromTmp(RUNS);
    await waitFor('every run matched', () => t!.engine.rules.fired.get(RULE) === RUNS);
    expect(seen).toHaveLength(RUNS);
    expect(seen.map((a) => a.process.cmdline)).toEqual(Array.from({ length: RUNS }, (_, i) => `payload --run=${i}`));
    expect(t!.engine.alertDelivery!.stats()).toMatchObject({ received: RUNS, folded: RUNS - 1, emitted: 1 });
  });
});
