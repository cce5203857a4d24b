// engine.workers: detection split over worker threads by workload must
// change nothing a user sees. The same probe stream (real gRPC, a
// synthetic probe; a fake cgroup tree so that 12 workloads exist without
// root) goes to an engine with one detection thread and to one with two:
// the alerts of each workload in order, the profiles learned and the
// commands sent to the probe (kernel policies, kills) must be the same.
import { mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Alert } from '../../src/model/alert.js';
import { messageType } from '../../src/rpc/proto.js';
import { ownerOf } from '../../src/shard/protocol.js';
import { batchMessage, eventMix, snapshotMessage, type MixOptions } from '../../bench/lib/event-mix.js';
import { TestEngine } from '../support/engine.js';
import { waitFor } from '../support/kernel.js';
import { SyntheticProbe } from '../support/synthetic-probe.js';

const WORKLOADS = 12;
const ProbeMessage = messageType('ProbeMessage');

const cgDir = mkdtempSync(join(tmpdir(), 'vigil-workers-cg-'));
const ids: number[] = [];
for (let i = 0; i < WORKLOADS; i++) {
  const d = join(cgDir, `kubepods/pod-${i}/app`);
  mkdirSync(d, { recursive: true });
  ids.push(statSync(d).ino);
}
afterAll(() => rmSync(cgDir, { recursive: true, force: true }));

const mix = (seed: number, batches: number): MixOptions => ({ workloads: WORKLOADS, processes: 400, batchSize: 256, batches, cgroupIds: ids, seed, burst: 8 });
/** The mix's bytes as the plain object the synthetic probe writes (it encodes them again). */
const asObject = (bytes: Buffer): Record<string, unknown> => ProbeMessage.toObject(ProbeMessage.decode(bytes), { longs: Number }) as Record<string, unknown>;

/** Events that fire built-in rules, in two workloads: a shadow file read and a shell from a web server. */
const AT = Date.now() * 1e6;
function ruleEvents(seq: number): Record<string, unknown> {
  const at = AT;
  const ev = (i: number, pid: number, extra: Record<string, unknown>) => ({ ktimeNs: at + i, pid, tid: pid, ppid: 1, uid: 0, gid: 0, comm: 'nginx', cgroupId: ids[i % WORKLOADS], ...extra });
  const events = [];
  for (let i = 0; i < 4; i++) {
    events.push(ev(i, 90_000 + i, { open: { path: '/etc/shadow', flags: 0, mode: 0, result: 3 } }));
    events.push(ev(i, 90_100 + i, { exec: { filename: '/bin/sh', path: '/bin/sh', argv: ['sh', '-c', 'id'], cwd: '/' } }));
  }
  // Across workloads, as a runtime starts a container: a web server of workload i forks, the child moves
  // to workload i+1's cgroup and execs a shell there. Its parent chain must be the same whoever owns which.
  for (let i = 0; i < 4; i++) {
    events.push(ev(i, 90_200 + i, { exec: { filename: '/usr/sbin/nginx', path: '/usr/sbin/nginx', argv: ['nginx'], cwd: '/' } }));
    events.push(ev(i, 90_200 + i, { fork: { childPid: 90_300 + i } }));
    events.push({ ...ev(i + 1, 90_300 + i, { exec: { filename: '/bin/sh', path: '/bin/sh', argv: ['sh', '-c', 'id'], cwd: '/' } }), ppid: 90_200 + i });
  }
  return { batch: { seq, events } };
}

interface Seen {
  alerts: Map<string, string[]>;
  profiles: string;
  commands: string[];
  owners: Set<number>;
}

/** One engine with `workers` detection threads, fed the same stream; what a user would see of it. */
async function run(workers: number): Promise<Seen> {
  const t = await TestEngine.start({ engine: { workers }, sinks: [] }, { cgroupMount: cgDir });
  const probe = SyntheticProbe.connect(`unix://${t.dir}/engine.sock`, { capabilities: ['exec-kill', 'connect-refuse', 'write-kill', 'quarantine', 'capture', 'kill'] });
  probe.answer = () => ({ ok: true, error: '', detail: '' });
  const alerts: Alert[] = [];
  t.engine.onAlert((a) => alerts.push(a));
  try {
    probe.send(asObject(snapshotMessage(mix(1, 1))));
    let seq = 0;
    const send = async (msgs: Record<string, unknown>[]): Promise<void> => {
      const before = t.events.length;
      let n = 0;
      for (const m of msgs) {
        n += ((m.batch as { events: unknown[] }).events).length;
        if (!probe.send(m)) await probe.drained();
      }
      await waitFor('the events to reach the engine', () => t.events.length >= before + n || undefined, 30_000);
      await t.engine.workers?.settled();
    };
    // Learning, then a third of the workloads enforce and a third monitor; the rest go on learning.
    await send(eventMix(mix(1, 30)).map((b) => asObject(batchMessage(++seq, b))));
    const cgroupWorkloads = t.engine.workloads.all().filter((w) => w.kind === 'cgroup').sort((a, b) => a.key.localeCompare(b.key));
    expect(cgroupWorkloads).toHaveLength(WORKLOADS);
    for (const [i, w] of cgroupWorkloads.entries()) {
      if (i % 3 === 2) continue;
      const r = await t.engine.profiles.changeMode(w, i % 3 === 0 ? 'enforce' : 'monitor');
      expect(r.error).toBe('');
    }
    await send([...eventMix(mix(42, 20)).map((b) => asObject(batchMessage(++seq, b))), ruleEvents(++seq)]);
    // Kills in enforce mode raise their alerts once the probe answered: every answer in, then what the workers raised on it.
    await waitFor('every command answered', () => t.engine.ingest.sessions().every((s) => s.awaiting === 0) || undefined, 30_000);
    await t.engine.workers?.settled();

    const byWorkload = new Map<string, string[]>();
    for (const a of alerts) {
      if (a.source === 'engine' && a.rule === 'Probe disconnected') continue; // a timer's, not the stream's
      const k = a.workload.name;
      const parents = a.process?.parents.map((p) => `${p.pid}:${p.exe}`).join('<') ?? '';
      (byWorkload.get(k) ?? byWorkload.set(k, []).get(k)!).push(`${a.source} ${a.rule} ${a.priority} pid=${a.process?.pid ?? 0} parents=${parents} ${a.message} ${a.action?.taken ?? ''}`);
    }
    // What was learned, without the times it was learned at.
    const profiles = JSON.stringify(t.engine.profiles.export(), (k, v: unknown) => (k === 'status' ? undefined : v));
    // Distinct: a command whose answer came late is sent again (the probe applies it once more, to the same effect).
    const commands = [...new Set(probe.commands.filter((c) => c.id).map((c) => JSON.stringify({ ...c, id: undefined })))].sort();
    return { alerts: byWorkload, profiles, commands, owners: new Set(cgroupWorkloads.map((w) => ownerOf(w.key, 2))) };
  } finally {
    await probe.close();
    await t.stop();
  }
}

describe('detection worker threads (engine.workers)', () => {
  it('alert, learn and enforce with two workers exactly as with one', { timeout: 120_000 }, async () => {
    const one = await run(1);
    const two = await run(2);
    // The split is real: the workloads are spread over both workers.
    expect(two.owners).toEqual(new Set([0, 1]));
    // Something to compare: anomalies, blocks and signature rules.
    const all = [...one.alerts.values()].flat();
    expect(all.some((a) => a.startsWith('profile '))).toBe(true);
    expect(all.some((a) => a.startsWith('rule '))).toBe(true);
    expect(all.some((a) => a.includes(' killed'))).toBe(true);
    // The shell exec'd in another workload's cgroup than its parent's fork names that parent.
    expect(all.some((a) => /pid=9030\d parents=9020\d:\/usr\/sbin\/nginx/.test(a))).toBe(true);
    expect(one.commands.length).toBeGreaterThan(4);
    expect(new Set(two.alerts.keys())).toEqual(new Set(one.alerts.keys()));
    for (const [w, list] of one.alerts) expect(two.alerts.get(w), w).toEqual(list);
    expect(two.profiles).toBe(one.profiles);
    expect(two.commands).toEqual(one.commands);
  });

  for (const workers of [1, 2]) {
    it(`a promotion's alert is raised before its mode shows (workers: ${workers}): vigil status then the alerts agree`, { timeout: 60_000 }, async () => {
      const t = await TestEngine.start({ engine: { workers }, sinks: [], profiles: { promotion: { minLearningSeconds: 0, quietSeconds: 1 } } }, { cgroupMount: cgDir });
      const probe = SyntheticProbe.connect(`unix://${t.dir}/engine.sock`);
      const alerts: Alert[] = [];
      t.engine.onAlert((a) => alerts.push(a));
      // What the main thread's registry (vigil status) shows at the moment each mode changes.
      const atChange: { name: string; to: string; alerted: boolean }[] = [];
      t.engine.workloads.onModeChange((w, _from, to) => {
        atChange.push({ name: w.name, to, alerted: alerts.some((a) => a.rule === 'Workload promoted' && a.workload.key === w.key) });
      });
      try {
        probe.send(asObject(snapshotMessage(mix(1, 1))));
        const msgs = eventMix(mix(3, 4)).map((b, i) => asObject(batchMessage(i + 1, b)));
        for (const m of msgs) if (!probe.send(m)) await probe.drained();
        const promoted = await waitFor('every workload promoted', () => (atChange.filter((c) => c.to === 'monitor').length >= WORKLOADS ? atChange : undefined), 20_000);
        expect(promoted.filter((c) => !c.alerted)).toEqual([]);
        const a = alerts.find((x) => x.rule === 'Workload promoted')!;
        expect(a.message).toMatch(/: learn → monitor \(nothing new for 1 s/);
        expect(a.workload.mode).toBe('monitor');
      } finally {
        await probe.close();
        await t.stop();
      }
    });
  }

  it('says so when a worker dies: a critical alert, its calls fail with the reason, the engine still stops', { timeout: 60_000 }, async () => {
    const t = await TestEngine.start({ engine: { workers: 2 }, sinks: [] }, { cgroupMount: cgDir });
    const alerts: Alert[] = [];
    t.engine.onAlert((a) => alerts.push(a));
    try {
      const pool = t.engine.workers!;
      await (pool as unknown as { workers: { terminate(): Promise<number> }[] }).workers[1]!.terminate();
      const a = await waitFor('the alert', () => alerts.find((x) => x.rule === 'Detection worker stopped'), 10_000);
      expect(a.priority).toBe('critical');
      expect(a.message).toMatch(/detection worker 1 stopped .*no longer detected on until the engine restarts/);
      const key = Array.from({ length: 50 }, (_, i) => `named:w${i}`).find((k) => pool.ownerOfKey(k) === 1)!;
      const w = t.engine.workloads.declare({ key, name: key.slice(6), kind: 'named' });
      await expect(t.engine.profiles.changeMode(w, 'monitor')).rejects.toThrow(/detection worker 1 is not running/);
    } finally {
      await t.stop();
    }
  });
});
