// The probe and engine part and meet again without losing track: an
// engine restart does not lose what happened meanwhile, and a storm that
// overruns the kernel ring buffer is counted, not hidden.
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { ProbeSupervisor } from '../../src/probe/supervisor.js';
import { stopChild } from '../support/children.js';
import { TestEngine } from '../support/engine.js';
import { describeKernel, probeBinary, probeStartMs, TestCgroupTree, waitFor } from '../support/kernel.js';
import { startPacedOpens } from '../support/paced.js';
import { own } from '../support/events.js';

describeKernel('probe ⇄ engine resilience on the real kernel', () => {
  let tree: TestCgroupTree | undefined;
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
    await tree?.remove();
  });

  it('reconnects after an engine restart and delivers what happened while the engine was away', async () => {
    tree = new TestCgroupTree();
    const app = tree.group('app');
    const first = await TestEngine.start();
    const probe = new ProbeSupervisor(
      {
        path: probeBinary, engine: first.config.engine.listen, nodeName: 'n', ringbufBytes: 1 << 22, batchMax: 64,
        flushMs: 5, lossReportMs: 200, queueEvents: 1 << 16, excludePids: [process.pid],
      },
      first.engine.log,
    );
    probe.start();
    cleanups.push(() => probe.stop());
    await waitFor('probe connected to the first engine', () => first.engine.ingest.sessions().some((s) => s.snapshotDone), probeStartMs);
    const sessionId = first.engine.ingest.sessions()[0]!.hello.sessionId;

    await app.run('/bin/echo', ['before-restart']);
    await waitFor('event before the restart', () => first.of(app.id, 'exec').some((e) => own(e).argv[1] === 'before-restart'));

    await first.stop({ keepDir: true });
    // The engine is gone: this happens with nobody listening.
    const away = await app.run('/bin/echo', ['while-away']);
    expect(away.code).toBe(0);

    const second = await TestEngine.start({}, { dir: first.dir });
    cleanups.push(() => second.stop());
    await waitFor('probe reconnected', () => second.engine.ingest.sessions().some((s) => s.snapshotDone), probeStartMs);
    const session = second.engine.ingest.sessions()[0]!;
    expect(session.hello.sessionId).toBe(sessionId);

    // Queued in the probe while the engine was away, delivered once it was back.
    const queued = await waitFor('event from while the engine was away', () => second.of(app.id, 'exec').find((e) => own(e).argv[1] === 'while-away'));
    expect(queued.pid).toBe(away.pid);
    // And events keep flowing.
    await app.run('/bin/echo', ['after-restart']);
    await waitFor('event after the restart', () => second.of(app.id, 'exec').some((e) => own(e).argv[1] === 'after-restart'));
    expect(second.engine.tree.size).toBeGreaterThan(10); // re-seeded from a fresh /proc snapshot
  });

  it('resends what an engine that died mid-stream never acknowledged: nothing is lost', async () => {
    tree = new TestCgroupTree();
    const app = tree.group('writer');
    const work = mkdtempSync(join(tmpdir(), 'vigil-crash-'));
    cleanups.push(async () => rmSync(work, { recursive: true, force: true }));
    const first = await TestEngine.start({ sinks: [] });
    // Fairness off: on a loaded machine (the suite's other probes, each sent every event of the node) the
    // new engine falls behind while it takes the resend, and fairness then holds the writer to its share and
    // sheds its opens, counted and alerted ('Events shed'; test/kernel/fairness.test.ts). This checks the resend.
    const probe = new ProbeSupervisor(
      {
        path: probeBinary, engine: first.config.engine.listen, nodeName: 'n', ringbufBytes: 1 << 24, batchMax: 64, flushMs: 2, lossReportMs: 200, queueEvents: 1 << 18,
        fairEventsPerSec: 0, excludePids: [process.pid],
      },
      first.engine.log,
    );
    probe.start();
    cleanups.push(() => probe.stop());
    await waitFor('probe connected', () => first.engine.ingest.sessions().some((s) => s.snapshotDone), probeStartMs);

    const files = 4000;
    const names = (t: TestEngine): string[] => t.of(app.id, 'open').map((e) => e.path).filter((p) => p.startsWith(`${work}/f`));
    const writer = app.run('/bin/sh', ['-c', `i=0; while [ $i -lt ${files} ]; do : > ${work}/f$i; i=$((i+1)); done`], { timeoutMs: 60_000 });
    await waitFor('the first engine mid-stream', () => names(first).length >= 300, 20_000);
    // A crash: every stream drops at once, with no last acknowledgement.
    (first.engine.ingest as unknown as { server: { forceShutdown(): void } }).server.forceShutdown();
    const seenByFirst = new Set(names(first));
    await first.stop({ keepDir: true });

    const second = await TestEngine.start({ sinks: [] }, { dir: first.dir });
    cleanups.push(() => second.stop());
    expect((await writer).code).toBe(0);
    await waitFor('the last file seen by the new engine', () => names(second).includes(`${work}/f${files - 1}`), 20_000);
    const session = second.engine.ingest.sessions()[0]!;
    await waitFor('a loss report', () => session.losses.eventsTotal > 0);
    expect(session.losses.ringbufFull + session.losses.queueFull).toBe(0);
    const all = new Set([...seenByFirst, ...names(second)]);
    const missing = Array.from({ length: files }, (_, i) => `${work}/f${i}`).filter((n) => !all.has(n));
    expect(missing).toEqual([]);
    // The probe logs through the engine that started it (the first one).
    expect(first.logLines.some((l) => /resending \d+ batches/.test(l.msg))).toBe(true);
  });

  it('counts ring-buffer losses during an event storm, and what arrives plus what was lost covers the storm', async () => {
    tree = new TestCgroupTree();
    const storm = tree.group('storm');
    // The smallest ring buffer (one page): a few records fit, a storm cannot.
    // De-duplication off: it would count the repeated opens instead of sending them.
    // Fairness off: a storm held to its share is shed and counted as such (test/kernel/fairness.test.ts); this counts the ring's own losses.
    const t = await TestEngine.start({ probe: { dedup: { enabled: false }, fairEventsPerSec: 0 } });
    cleanups.push(() => t.stop());
    await t.startProbe({ ringbufBytes: 4096 });

    const opens = 20_000;
    const r = await storm.run(process.execPath, ['-e', `const fs = require('fs'); for (let i = 0; i < ${opens}; i++) fs.closeSync(fs.openSync('/dev/null', 'r'));`]);
    expect(r.code).toBe(0);

    const session = t.engine.ingest.sessions()[0]!;
    await waitFor('a loss report counting the storm', () => session.losses.ringbufFull > 0, 5000);
    // Wait for the report that follows the storm's last event.
    const counted = await waitFor('losses and arrivals to cover the storm', () => {
      const arrived = t.of(storm.id, 'open').filter((e) => e.path === '/dev/null').length;
      return arrived + session.losses.ringbufFull >= opens ? { arrived, lost: session.losses.ringbufFull } : null;
    }, 10_000);
    expect(counted.lost).toBeGreaterThan(0);
    expect(counted.arrived).toBeLessThan(opens);
    // The operator is told, in the log and in `vigil status`.
    expect(t.logLines.some((l) => l.level === 'warn' && l.msg === 'events lost before reaching the engine')).toBe(true);
    expect(t.engine.status().probes[0]!.losses.ringbufFull).toBe(session.losses.ringbufFull);
  });

  it('answers commands and has its batches acknowledged while a flood streams: the commands call beside the event stream', async () => {
    tree = new TestCgroupTree();
    const flood = tree.group('flood');
    const t = await TestEngine.start();
    cleanups.push(() => t.stop());
    const probe = spawn(probeBinary, ['--engine', t.config.engine.listen, '--exclude-pid', String(process.pid)], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    probe.stderr!.on('data', (d) => (stderr += d));
    cleanups.push(async () => void probe.kill('SIGKILL'));
    await waitFor('probe connected', () => t.engine.ingest.sessions().some((s) => s.snapshotDone), probeStartMs);
    const session = t.engine.ingest.sessions()[0]!;
    // Some 9,000 events (exec, fork, exit) while the engine pings the probe.
    const running = flood.run('/bin/sh', ['-c', 'for i in $(seq 3000); do /bin/true; done']);
    let done = false;
    void running.then(() => (done = true));
    let pings = 0;
    while (!done || pings < 3) {
      await expect(session.command({ ping: {} }, 5000)).resolves.toEqual({ ok: true, error: '', detail: 'pong' });
      pings++;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect((await running).code).toBe(0);
    await waitFor('the flood seen', () => t.of(flood.id, 'exec').length >= 3000, 20_000);
    // Acknowledged as processed: a clean stop finds nothing unacknowledged to
    // report undelivered (without acknowledgements all would be). Which thread
    // wrote the flood's batches is the host's pace, not asserted here: the
    // sender drains whenever the engine is behind, as on a loaded host (at load
    // 10 the reading thread wrote under half of them); the next test checks it.
    const exited = new Promise<number | null>((r) => probe.once('exit', (code) => r(code)));
    probe.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(stderr).toMatch(/probe stopped: \d+ events read, 0 not delivered; \d+ batches/);
    expect(stderr).not.toMatch(/resending|engine stream broke/);
  }, 60_000);

  it('writes a batch from the reading thread while nothing waits to be sent: a trickle, each open made once the last arrived', async () => {
    // bpf/README.md: the thread that reads the ring buffer writes its batch into the gRPC stream itself while
    // nothing waits in the send queue and fewer than 1,024 events are unacknowledged. Held true here, whatever
    // the host's load: each open is made only once the engine has the last, and the engine acknowledges at
    // least every 512 events and 250 ms (src/probe/session.ts), so only the node's own events can be ahead.
    tree = new TestCgroupTree();
    const trickle = tree.group('direct');
    const work = mkdtempSync(join(tmpdir(), 'vigil-direct-'));
    cleanups.push(async () => rmSync(work, { recursive: true, force: true }));
    const t = await TestEngine.start({ sinks: [] });
    cleanups.push(() => t.stop());
    const probe = spawn(probeBinary, ['--engine', t.config.engine.listen, '--exclude-pid', String(process.pid)], { stdio: ['ignore', 'ignore', 'pipe'] });
    cleanups.push(() => stopChild(probe));
    let stderr = '';
    probe.stderr!.on('data', (d) => (stderr += d));
    await waitFor('probe connected', () => t.engine.ingest.sessions().some((s) => s.snapshotDone), probeStartMs);
    const n = 20;
    cleanups.push(async () => trickle.killAll());
    const paced = await startPacedOpens(trickle, work, 'direct', n);
    const opens = (): string[] => t.of(trickle.id, 'open').map((e) => e.path).filter((p) => p.startsWith(`${work}/direct-`));
    for (let i = 0; i < n; i++) {
      paced.next();
      await waitFor(`open ${i}`, () => opens().length > i, 30_000);
    }
    const exited = new Promise<number | null>((r) => probe.once('close', (code) => r(code)));
    probe.kill('SIGTERM');
    expect(await exited).toBe(0);
    const m = /probe stopped: \d+ events read, 0 not delivered; (\d+) batches \((\d+) written by the reading thread\)/.exec(stderr);
    expect(m, stderr.slice(-2000)).not.toBeNull();
    console.log(`resilience: ${m![1]} batches, ${m![2]} written by the reading thread, ${n} of them the trickle's`);
    // Each of the trickle's opens came in a batch of its own (the last was at the engine before it was made),
    // written directly unless a loss report or acknowledgement was being written at that moment (the
    // sender's, every second): most of them, and the node's own events' batches besides.
    expect(Number(m![2])).toBeGreaterThanOrEqual(n / 2);
  }, 120_000);

  it('exits cleanly on SIGTERM and leaves no program attached', async () => {
    // This probe's own programs (other probes may run on the machine): the
    // ids its file descriptors hold, then which of them are still loaded.
    const ownIds = (pid: number): number[] =>
      readdirSync(`/proc/${pid}/fdinfo`).flatMap((fd) => {
        try {
          const m = /^prog_id:\s+(\d+)$/m.exec(readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8'));
          return m ? [Number(m[1])] : [];
        } catch {
          return []; // closed meanwhile
        }
      });
    const loaded = (ids: number[]): number[] => {
      const all = new Set((JSON.parse(execFileSync('bpftool', ['prog', 'show', '--json'], { encoding: 'utf8' })) as { id: number }[]).map((p) => p.id));
      return ids.filter((id) => all.has(id));
    };
    const t = await TestEngine.start();
    cleanups.push(() => t.stop());
    const probe = spawn(probeBinary, ['--engine', t.config.engine.listen, '--exclude-pid', String(process.pid)], { stdio: ['ignore', 'ignore', 'pipe'] });
    cleanups.push(() => stopChild(probe)); // failed before its stop: not left running
    let stderr = '';
    probe.stderr!.on('data', (d) => (stderr += d));
    await waitFor('probe connected', () => t.engine.ingest.sessions().some((s) => s.snapshotDone), probeStartMs);
    const ids = ownIds(probe.pid!);
    expect(loaded(ids).length).toBeGreaterThanOrEqual(2);
    // 'close', not 'exit': its last line (the stop's account) read to the end.
    const exited = new Promise<number | null>((r) => probe.once('close', (code) => r(code)));
    probe.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(stderr).toMatch(/probe stopped: \d+ events read, 0 not delivered/);
    expect(loaded(ids)).toEqual([]);
  });
});
