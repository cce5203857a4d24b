// Fairness on the real kernel: one workload floods distinct failed opens as
// fast as this machine lets it, from two threads, while a neighbour reads
// /etc/shadow, opens a reverse shell on loopback and runs a binary it just
// dropped. The neighbour's three alerts arrive on time; the flood is held
// to its share in the kernel, and what it shed is alerted, in `vigil status`
// and in /metrics (bpf/fair.bpf.h, bpf/probe/fairness.h).
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdtempSync, realpathSync, rmSync, symlinkSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { formatStatus } from '../../src/cli/format.js';
import type { Alert } from '../../src/model/alert.js';
import { TestEngine } from '../support/engine.js';
import { describeKernel, repoRoot, type TestCgroup, TestCgroupTree, timeScale, waitFor } from '../support/kernel.js';
import { own } from '../support/events.js';

/** A scratch directory with the load generator (bench/lib/loadgen.c) built in it. */
function scratch(tag: string): { work: string; loadgen: string } {
  const work = realpathSync(mkdtempSync(join(tmpdir(), `vigil-fair-${tag}`)));
  const loadgen = join(work, 'loadgen');
  execFileSync('cc', ['-O2', '-o', loadgen, join(repoRoot, 'bench/lib/loadgen.c')]);
  return { work, loadgen };
}

/** A copy of /bin/true named `name` in `work`: an exec the test tells apart by its path. */
function copyOfTrue(work: string, name: string): string {
  const tool = join(work, name);
  copyFileSync('/bin/true', tool);
  chmodSync(tool, 0o755);
  return tool;
}

/**
 * Two flooding threads in `group`, one per vCPU, each opening a new missing
 * path each time (nothing to de-duplicate) for `ms`; what each sent, once both end.
 */
function flood2(group: TestCgroup, loadgen: string, ms: number, tag: string): Promise<{ n: number; ns: number }[]> {
  return Promise.all(
    [0, 1].map((i) => {
      const child = group.spawn(loadgen, ['flood', String(ms), `/nonexistent/vigil-fair-${tag}-${process.pid}-${i}`]);
      let out = '';
      child.stdout!.on('data', (d) => (out += d));
      // 'close', not 'exit': its output may still be unread at exit.
      return new Promise<{ n: number; ns: number }>((resolve, reject) => {
        child.on('close', (code) => (code === 0 ? resolve(JSON.parse(out) as { n: number; ns: number }) : reject(new Error(`flood exited ${code}`))));
      });
    }),
  );
}

/**
 * How long to wait for something that must happen (held, released, alerted, arrived): generous, as the
 * flood and the other work on a loaded 2-vCPU host share the CPUs. Not a bound: those are asserted apart.
 */
const conditionMs = 30_000;

describeKernel('fairness', () => {
  it('a flood of distinct events from one workload leaves a neighbour’s shadow read, reverse shell and new binary alerted on time, and its shedding reported', async () => {
    const { work, loadgen } = scratch('');
    const dropped = copyOfTrue(work, 'dropped-tool');
    const listener = createServer((c) => c.destroy());
    await new Promise<void>((r) => listener.listen(0, '127.0.0.1', r));
    const port = (listener.address() as { port: number }).port;
    const tree = new TestCgroupTree();
    const flood = tree.group('flood');
    const neighbour = tree.group('neighbour');
    const t = await TestEngine.start({ sinks: [] });
    const alerts: { at: number; alert: Alert }[] = [];
    t.engine.onAlert((a) => alerts.push({ at: Date.now(), alert: a }));
    // When the neighbour's execs reached the engine, and how late after the kernel saw them: a late alert says where it waited.
    const execs: string[] = [];
    t.engine.subscribe((e) => {
      if (e.type === 'exec' && String(e.cgroupId) === neighbour.id) execs.push(`${e.path} at ${Date.now()} (+${((Number(process.hrtime.bigint()) - e.ktimeNs) / 1e6).toFixed(0)} ms)`);
    });
    try {
      await t.startProbe();
      // Both workloads known before the flood (a first exec each).
      expect((await flood.run('/bin/true', [])).code).toBe(0);
      expect((await neighbour.run('/bin/true', [])).code).toBe(0);

      const floods = flood2(flood, loadgen, 8000, 'main');
      // Held once the probe has seen a tick or two of it.
      await waitFor('the flood held', () => t.logLines.find((l) => l.component === 'probe' && l.msg.startsWith(`fairness: cgroup ${flood.id} held`)), conditionMs);
      await new Promise((r) => setTimeout(r, 1000));

      // The neighbour, in the middle of the flood.
      const acts: { rule: string; at: number }[] = [];
      const act = async (rule: string, cmd: string, args: string[]): Promise<void> => {
        acts.push({ rule, at: Date.now() });
        await neighbour.run(cmd, args);
      };
      await act('Shadow or sudoers file read', '/bin/cat', ['/etc/shadow']);
      await act('Standard input or output redirected to a socket', '/bin/bash', ['-c', `exec 3<>/dev/tcp/127.0.0.1/${port}; exec 0<&3 1>&3 2>&3; true`]);
      await act('Execution from a temporary directory', dropped, []);
      // Each alert's lateness from the kernel's stamp of the event it is about (alert.event.time), not from
      // before the act: on a loaded host the spawn takes its own time before the kernel sees anything.
      const latencies: Record<string, number> = {};
      for (const a of acts) {
        const got = await waitFor(a.rule, () => alerts.find((x) => x.alert.rule === a.rule && x.alert.workload.cgroupPath === neighbour.path), conditionMs);
        latencies[a.rule] = got.at - Date.parse(String(got.alert.event.time));
      }
      const results = await floods;
      const n = results.reduce((s, r) => s + r.n, 0);
      const rate = Math.round(n / (Math.max(...results.map((r) => r.ns)) / 1e9));
      console.log(`fairness: flood of ${n.toLocaleString('en-US')} distinct opens at ${rate.toLocaleString('en-US')}/s (two threads); neighbour's alerts after ${JSON.stringify(latencies)} ms`);
      if (Object.values(latencies).some((ms) => ms > 500)) console.log(`fairness: SLOW; log: ${t.logLines.filter((l) => l.component === 'probe' || /probe|stream|session|snapshot/i.test(l.msg)).map((l) => `${l.time ?? ''} ${l.level} ${l.msg}`).join(' | ')}`);
      console.log(`fairness: acts at ${acts.map((a) => a.at).join(', ')}; the neighbour's execs reached the engine: ${execs.join('; ')}`);
      // On time: each within 2 s of its event, flood or not (the issue: missed altogether): the product's bound.
      for (const ms of Object.values(latencies)) expect(ms).toBeLessThan(2000 * timeScale);
      // A flood, not a trickle: over its share, held by the probe (waited for above) and shed (below). Its
      // rate is the host's (logged): two threads among a loaded host's others make far fewer than on an idle one.

      // The shedding: alerted for the flood's workload (a warning: no security event shed), with the kinds counted.
      const shed = await waitFor('the shedding alerted', () => alerts.find((x) => x.alert.rule === 'Events shed' && x.alert.workload.cgroupPath === flood.path), conditionMs);
      expect(shed.alert.priority).toBe('warning');
      expect(Number(shed.alert.fields['vigil.loss.open'])).toBeGreaterThan(0); // the episode's first report; the totals below
      // Nothing of the neighbour's lost or shed.
      expect(alerts.filter((x) => /Events (lost|shed)/.test(x.alert.rule) && x.alert.workload.cgroupPath === neighbour.path)).toEqual([]);
      // In vigil status and /metrics, per workload.
      const status = t.engine.status() as unknown as { workloadLosses: { workload: string; shed: number }[] };
      const floodLosses = await waitFor('the status', () => status.workloadLosses.find((w) => w.workload === flood.path && w.shed > 0) ?? (t.engine.status() as unknown as typeof status).workloadLosses.find((w) => w.workload === flood.path && w.shed > 0));
      expect(floodLosses.shed).toBeGreaterThan(n / 4);
      const metrics = await (await fetch(`http://127.0.0.1:${t.engine.metricsPort}/metrics`)).text();
      const line = metrics.split('\n').find((l) => l.startsWith('vigil_events_shed_total{') && l.includes(`workload="${flood.path}"`));
      expect(Number(line?.split(' ').at(-1))).toBeGreaterThan(n / 4);
    } finally {
      flood.killAll();
      listener.close();
      await t.stop();
      await tree.remove();
      rmSync(work, { recursive: true, force: true });
    }
  }, 120_000 * timeScale);
  it('a neighbour’s execs during a flood’s onset, while the backlog builds, reach the engine within 500 ms each', async () => {
    // The onset is where a single send queue broke: the flood's first tick goes unheld (tens of
    // thousands of events queued) and its held events then fill the queue; the neighbour's events
    // waited behind them 1-2.6 s (1 run in 4 to 13). The queue's slow lane (bpf/probe/stream.h)
    // keeps them apart. Three onsets, five execs in each, each timed from the kernel to the engine.
    const { work, loadgen } = scratch('onset-');
    const tool = copyOfTrue(work, 'neighbour-tool');
    const tree = new TestCgroupTree();
    const flood = tree.group('flood-onset');
    const neighbour = tree.group('neighbour-onset');
    const t = await TestEngine.start({ sinks: [] });
    const arrived: { pid: number; lateMs: number }[] = [];
    t.engine.subscribe((e) => {
      if (e.type === 'exec' && e.path === tool && String(e.cgroupId) === neighbour.id) arrived.push({ pid: e.pid, lateMs: (Number(process.hrtime.bigint()) - e.ktimeNs) / 1e6 });
    });
    try {
      await t.startProbe();
      expect((await flood.run('/bin/true', [])).code).toBe(0);
      expect((await neighbour.run('/bin/true', [])).code).toBe(0);
      // Three onsets, each a fresh flood once the last is released and the budget has grown back.
      const floodMs = 2500;
      const pids: number[] = [];
      const actedAt: string[] = [];
      let n = 0;
      let ns = 0;
      for (let round = 0; round < 3; round++) {
        const floods = flood2(flood, loadgen, floodMs, `onset-${round}`);
        // From the flood's start, through its first second and a half.
        const started = Date.now();
        for (let i = 0; i < 5; i++) {
          actedAt.push(`${round}:${Date.now() - started}`);
          const r = await neighbour.run(tool, []);
          expect(r.code).toBe(0);
          pids.push(r.pid);
          await new Promise((r) => setTimeout(r, 200));
        }
        const results = await floods;
        n += results.reduce((s, r) => s + r.n, 0);
        ns += Math.max(...results.map((r) => r.ns));
        const released = t.logLines.filter((l) => l.component === 'probe' && l.msg.startsWith(`fairness: cgroup ${flood.id} released`)).length;
        if (round < 2) await waitFor('the flood released', () => t.logLines.filter((l) => l.component === 'probe' && l.msg.startsWith(`fairness: cgroup ${flood.id} released`)).length > released || undefined, conditionMs);
        // And the budget back (it grows by a twentieth a tick: some 2 s idle, longer on a loaded host).
        if (round < 2) {
          await waitFor('the budget back', () => {
            const f = t.engine.status().probes.find((p) => p.connected)?.fairness;
            return (f && f.configured > 0 && f.budget >= f.configured && f.held === 0) || undefined;
          }, conditionMs);
        }
      }
      await waitFor('every neighbour exec', () => pids.every((p) => arrived.some((a) => a.pid === p)) || undefined, conditionMs).catch(() => undefined);
      const rate = Math.round(n / (ns / 1e9));
      const late = pids.map((p) => arrived.find((a) => a.pid === p)?.lateMs ?? Infinity);
      const fairLines = t.logLines.filter((l) => l.component === 'probe' && /fairness|slow lane/.test(l.msg)).map((l) => `${l.time ?? ''} ${l.msg}`);
      console.log(`fairness onset: floods of ${n.toLocaleString('en-US')} opens at ${rate.toLocaleString('en-US')}/s; neighbour's execs acted at (round:ms) ${actedAt.join(', ')} reached the engine ${late.map((ms) => ms.toFixed(0)).join(', ')} ms after the kernel saw them; probe: ${fairLines.join(' | ')}`);
      // Floods, held meanwhile: the onsets the neighbour acted through (their rate is the host's, logged above).
      expect(t.logLines.filter((l) => l.component === 'probe' && l.msg.startsWith(`fairness: cgroup ${flood.id} held`)).length).toBeGreaterThanOrEqual(3);
      for (const ms of late) expect(ms).toBeLessThan(500 * timeScale);
    } finally {
      flood.killAll();
      await t.stop();
      await tree.remove();
      rmSync(work, { recursive: true, force: true });
    }
  }, 120_000 * timeScale);
  it('a process a flooding workload forks into another workload is seen forked before its exec: the engine’s tree keeps what it ran', async () => {
    // The flood's events wait in the probe queue's slow lane, its fork among them; the child joins
    // another cgroup (as runc puts a container's first process) and execs there. Sent ahead of the
    // fork, the exec would be overwritten in the engine's tree by the late fork (the parent's image).
    const { work, loadgen } = scratch('fork-');
    const tool = copyOfTrue(work, 'moved-tool');
    const tree = new TestCgroupTree();
    const flood = tree.group('flood-fork');
    const other = tree.group('other-fork');
    const t = await TestEngine.start({ sinks: [] });
    const execs: number[] = [];
    t.engine.subscribe((e) => {
      if (e.type === 'exec' && e.path === tool && String(e.cgroupId) === other.id) execs.push(e.pid);
    });
    try {
      await t.startProbe();
      expect((await flood.run('/bin/true', [])).code).toBe(0);
      const floods = flood2(flood, loadgen, 4000, 'fork');
      await waitFor('the flood held', () => t.logLines.find((l) => l.component === 'probe' && l.msg.startsWith(`fairness: cgroup ${flood.id} held`)), conditionMs);
      // Five times: a shell in the flooding cgroup forks one that moves to the other cgroup and execs the tool.
      for (let i = 0; i < 5; i++) {
        const r = await flood.run('/bin/sh', ['-c', `/bin/sh -c 'echo $$ > ${other.dir}/cgroup.procs && exec ${tool}'; true`]);
        expect(r.code).toBe(0);
      }
      await floods;
      await waitFor('five execs in the other cgroup', () => execs.length >= 5 || undefined, conditionMs);
      // The forks that made them delivered (from the slow lane, behind the flood) before the tree is read.
      const forked = (pid: number): boolean => t.events.some((e) => e.type === 'fork' && own(e).childPid === pid);
      await waitFor('the forks of the five', () => execs.every(forked) || undefined, conditionMs);
      const seen = execs.map((pid) => ({ pid, exe: t.engine.tree.get(pid)?.exe, parent: t.engine.tree.get(pid)?.ppid }));
      console.log(`fairness fork: the moved processes in the engine's tree: ${JSON.stringify(seen)}`);
      for (const p of seen) expect(p.exe).toBe(tool);
    } finally {
      flood.killAll();
      await t.stop();
      await tree.remove();
      rmSync(work, { recursive: true, force: true });
    }
  }, 120_000 * timeScale);
  it('a workload over its share still has every read of /etc/shadow through a symlink alerted: the file opened is judged at exit, not the string', async () => {
    const { work, loadgen } = scratch('alias-');
    // Distinct names (no repeat to de-duplicate), none under a kept prefix or with a kept suffix.
    const links = Array.from({ length: 6 }, (_, i) => {
      const l = join(work, `innocent-${i}`);
      symlinkSync('/etc/shadow', l);
      return l;
    });
    const tree = new TestCgroupTree();
    const flood = tree.group('flood-alias');
    const t = await TestEngine.start({ sinks: [] });
    const alerts: Alert[] = [];
    t.engine.onAlert((a) => alerts.push(a));
    try {
      await t.startProbe();
      expect((await flood.run('/bin/true', [])).code).toBe(0);
      const floods = flood2(flood, loadgen, 8000, 'alias');
      await waitFor('the flood held', () => t.logLines.find((l) => l.component === 'probe' && l.msg.startsWith(`fairness: cgroup ${flood.id} held`)), conditionMs);
      await new Promise((r) => setTimeout(r, 1000));
      // The flooding workload itself reads the shadow file, six times, each through another symlink:
      // judged by the string at entry each open would be shed (but for one sample in several).
      const pids: number[] = [];
      for (const l of links) {
        const r = await flood.run('/bin/cat', [l]);
        expect(r.code).toBe(0);
        pids.push(r.pid);
      }
      for (const pid of pids) {
        await waitFor(`the shadow read of ${pid}`, () => alerts.find((a) => a.rule === 'Shadow or sudoers file read' && a.event.pid === pid && a.workload.cgroupPath === flood.path), conditionMs);
      }
      await floods;
      // It was over its share meanwhile: its opens were shed.
      const shed = await waitFor('the shedding alerted', () => alerts.find((a) => a.rule === 'Events shed' && a.workload.cgroupPath === flood.path), conditionMs);
      expect(Number(shed.fields['vigil.loss.open'])).toBeGreaterThan(0);
    } finally {
      flood.killAll();
      await t.stop();
      await tree.remove();
      rmSync(work, { recursive: true, force: true });
    }
  }, 120_000 * timeScale);
  it('a flood waiting in the slow lane does not take the node’s budget below what the engine gets through: a steady neighbour is never held below its rate or shed', async () => {
    // The flood's events wait in the probe queue's slow lane, full by design; counted as a backlog the
    // budget halved every tick down to 2,000/s, every workload's share with it, and the kernel held a
    // steady neighbour the engine had every time for (issue 25). What waits ahead of a
    // neighbour's next event (resent and normal batches, events unacknowledged), two ticks in a row, and
    // what the engine gets through while the flood waits, say whether it is behind.
    const { work, loadgen } = scratch('budget-');
    const tree = new TestCgroupTree();
    const flood = tree.group('flood-budget');
    const steady = tree.group('steady-budget');
    const t = await TestEngine.start({ sinks: [] });
    const alerts: Alert[] = [];
    t.engine.onAlert((a) => alerts.push(a));
    try {
      await t.startProbe();
      expect((await flood.run('/bin/true', [])).code).toBe(0);
      expect((await steady.run('/bin/true', [])).code).toBe(0);
      const floods = flood2(flood, loadgen, 9000, 'budget');
      await waitFor('the flood held', () => t.logLines.find((l) => l.component === 'probe' && l.msg.startsWith(`fairness: cgroup ${flood.id} held`)), conditionMs);
      await new Promise((r) => setTimeout(r, 1000));
      const dir = `/nonexistent/vigil-fair-budget-${process.pid}`;
      // Under half of what a starved engine gets through here: the flood on both vCPUs left it
      // 14,830/s in one CI run, and a steady 8,000/s was then rightly over an even split (held to
      // 7,415/s). The bug this guards against cut the budget to 2,000/s: 4,000/s is held by it.
      const rate = 4000;
      const r = await steady.run(loadgen, ['rate', String(rate), '5000', dir]);
      expect(r.code).toBe(0);
      const sent = (JSON.parse(r.stdout) as { n: number }).n;
      const results = await floods;
      const n = results.reduce((s, x) => s + x.n, 0);
      const floodRate = Math.round(n / (Math.max(...results.map((x) => x.ns)) / 1e9));
      const ours = (): number => t.of(steady.id, 'open').filter((e) => e.path.startsWith(`${dir}/`)).length;
      await waitFor(`all ${sent} opens`, () => ours() >= sent || undefined, conditionMs).catch(() => undefined);
      const budgetLines = t.logLines.filter((l) => l.component === 'probe' && l.msg.startsWith('fairness: budget')).map((l) => l.msg);
      console.log(`fairness budget: flood at ${floodRate.toLocaleString('en-US')}/s; steady ${rate}/s beside it, ${ours()} of ${sent} opens arrived; budget: ${budgetLines.join(' | ') || 'whole throughout'}`);
      // A flood over its share (held: waited for above); its rate is the host's, logged.
      // Never held below what it sends (main: at 1,539/s). Held above it is harmless: a tick where it caught
      // up after the flood kept it off the CPU offered ~19,000/s, over an even split of a budget cut to what
      // the engine drained.
      const holds = t.logLines.filter((l) => l.component === 'probe' && l.msg.startsWith(`fairness: cgroup ${steady.id} held`)).map((l) => l.msg);
      expect(holds.filter((m) => Number(/held to (\d+) events/.exec(m)?.[1]) < rate)).toEqual([]);
      // Whole, or cut to what the engine got through (the flood on both vCPUs takes it off the CPU):
      // never so low that the neighbour is past an even split (main: 2,031/s).
      const lowest = Math.min(50_000, ...budgetLines.map((l) => Number(/^fairness: budget (\d+) events\/s \(was/.exec(l)?.[1] ?? 50_000)));
      expect(lowest).toBeGreaterThanOrEqual(2 * rate);
      expect(alerts.filter((a) => /Events (lost|shed)/.test(a.rule) && a.workload.cgroupPath === steady.path).map((a) => a.rule)).toEqual([]);
      expect(ours()).toBe(sent);
    } finally {
      flood.killAll();
      steady.killAll();
      await t.stop();
      await tree.remove();
      rmSync(work, { recursive: true, force: true });
    }
  }, 120_000 * timeScale);
  it('an engine too slow for what the node sends shrinks the budget: workloads together over its pace are held, though none floods', async () => {
    // The engine here takes about 10,000 events/s (it sleeps 10 ms every 100 events: a slow node, no CPU
    // burnt); two workloads send 8,000/s each, neither over an even share of the 50,000/s budget. Their
    // events wait in the probe queue's normal lane, so the budget must halve until both are held.
    const { work, loadgen } = scratch('slow-');
    const tree = new TestCgroupTree();
    const a = tree.group('slow-a');
    const b = tree.group('slow-b');
    const t = await TestEngine.start({ sinks: [] });
    const pause = new Int32Array(new SharedArrayBuffer(4));
    let seen = 0;
    let slow = false;
    t.engine.subscribe(() => {
      if (slow && ++seen % 100 === 0) Atomics.wait(pause, 0, 0, 10);
    });
    try {
      await t.startProbe();
      expect((await a.run('/bin/true', [])).code).toBe(0);
      expect((await b.run('/bin/true', [])).code).toBe(0);
      slow = true;
      const runs = [a, b].map((g, i) => g.run(loadgen, ['rate', '8000', '4000', `/nonexistent/vigil-fair-slow-${process.pid}-${i}`]));
      for (const r of await Promise.all(runs)) expect(r.code).toBe(0);
      const probeLines = (): string[] => t.logLines.filter((l) => l.component === 'probe' && l.msg.startsWith('fairness:')).map((l) => l.msg);
      await waitFor('both held', () => [a, b].every((g) => probeLines().some((l) => l.startsWith(`fairness: cgroup ${g.id} held`))) || undefined, conditionMs).catch(() => undefined);
      // The operator sees the cut in `vigil status` (the probe reports it with its losses, every second).
      const fairness = await waitFor('the cut in the status', () => {
        const f = t.engine.status().probes.find((p) => p.connected)?.fairness;
        return f && f.cuts > 0 ? f : undefined;
      }, conditionMs).catch(() => t.engine.status().probes.find((p) => p.connected)?.fairness);
      const statusText = formatStatus(t.engine.status());
      slow = false;
      console.log(`fairness slow engine: ${probeLines().join(' | ')}`);
      expect(probeLines().some((l) => /^fairness: budget \d+ events\/s \(was 50000\)/.test(l))).toBe(true);
      for (const g of [a, b]) expect(probeLines().some((l) => l.startsWith(`fairness: cgroup ${g.id} held`))).toBe(true);
      expect(fairness).toMatchObject({ configured: 50_000 });
      expect(fairness!.cuts).toBeGreaterThan(0);
      expect(fairness!.lowest).toBeLessThan(50_000);
      expect(statusText).toMatch(/fairness: budget toward the engine .*; cut \d+ times since the probe started, lowest [\d,]+; workloads held to their share now: \d+/);
    } finally {
      slow = false;
      a.killAll();
      b.killAll();
      await t.stop();
      await tree.remove();
      rmSync(work, { recursive: true, force: true });
    }
  }, 120_000 * timeScale);
  it('a steady workload the engine keeps pace with is never held or shed, though acknowledgements come in batches', async () => {
    // The probe counts what the engine has not acknowledged as its backlog; the engine acknowledges
    // in batches (src/probe/session.ts), and at ~8,000 events/s a lazy acknowledgement let more
    // than the probe's backlog (1,024) wait on a healthy node: the budget fell and this was held.
    const { work, loadgen } = scratch('steady-');
    const tree = new TestCgroupTree();
    const steady = tree.group('steady');
    const t = await TestEngine.start({ sinks: [] });
    const alerts: Alert[] = [];
    t.engine.onAlert((a) => alerts.push(a));
    try {
      await t.startProbe();
      expect((await steady.run('/bin/true', [])).code).toBe(0);
      // A new missing path per open (nothing to de-duplicate), paced per millisecond, for 5 s.
      const dir = `/nonexistent/vigil-fair-steady-${process.pid}`;
      const rate = 8000;
      const r = await steady.run(loadgen, ['rate', String(rate), '5000', dir]);
      expect(r.code).toBe(0);
      const sent = (JSON.parse(r.stdout) as { n: number }).n;
      expect(sent).toBe(rate * 5);
      const ours = (): number => t.of(steady.id, 'open').filter((e) => e.path.startsWith(`${dir}/`)).length;
      await waitFor(`all ${sent} opens`, () => ours() >= sent || undefined, conditionMs).catch(() => undefined);
      console.log(`fairness: steady ${rate}/s for 5 s, ${ours()} of ${sent} opens arrived`);
      expect(t.logLines.filter((l) => l.component === 'probe' && l.msg.startsWith(`fairness: cgroup ${steady.id} held`)).map((l) => l.msg)).toEqual([]);
      expect(alerts.filter((a) => /Events (lost|shed)/.test(a.rule) && a.workload.cgroupPath === steady.path).map((a) => a.rule)).toEqual([]);
      expect(ours()).toBe(sent);
    } finally {
      steady.killAll();
      await t.stop();
      await tree.remove();
      rmSync(work, { recursive: true, force: true });
    }
  }, 120_000 * timeScale);
});
