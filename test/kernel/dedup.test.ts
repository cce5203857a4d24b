// In-kernel de-duplication on the real kernel: a process repeating an
// open or a connect is counted in the kernel instead of crossing to user
// space, while anything new — another file, another process, another
// access mode, another result, an exec, an enforcement block — crosses.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Event } from '../../src/model/event.js';
import { formatStatus } from '../../src/cli/format.js';
import { TestEngine } from '../support/engine.js';
import { describeKernel, TestCgroupTree, waitFor, type TestCgroup } from '../support/kernel.js';

const WINDOW_MS = 3000;
const O_ACCMODE = 0o3;

describeKernel('in-kernel de-duplication on the real kernel', () => {
  let t: TestEngine;
  let tree: TestCgroupTree;
  let web: TestCgroup;
  let guard: TestCgroup;
  let work: string;
  let file: string;
  const servers: Server[] = [];

  const listen = async (): Promise<number> => {
    const s = createServer((c) => c.end());
    servers.push(s);
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    return (s.address() as { port: number }).port;
  };

  beforeAll(async () => {
    tree = new TestCgroupTree();
    web = tree.group('web');
    guard = tree.group('guard');
    work = mkdtempSync(join(tmpdir(), 'vigil-dedup-'));
    file = join(work, 'config.txt');
    writeFileSync(file, 'x\n');
    t = await TestEngine.start({
      workloads: [
        { name: 'dedup-web', cgroup: web.path },
        { name: 'dedup-guard', cgroup: guard.path },
      ],
      sinks: [],
      probe: { dedup: { enabled: true, windowMs: WINDOW_MS } },
      profiles: { promotion: { minLearningSeconds: 3600, quietSeconds: 3600 } },
    });
    await t.startProbe();
  });

  afterAll(async () => {
    await t?.stop();
    for (const s of servers) s.close();
    await tree?.remove();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  const deduplicated = (): number => t.engine.status().probes[0]!.losses.deduplicated;
  const opens = (pid: number, path: string): Event[] => t.of(web.id, 'open').filter((e) => e.pid === pid && e.path === path);

  it('turns 10,000 opens of one file by one process into a handful of events, and counts the rest', async () => {
    const before = deduplicated();
    // One bash process: `:` is a builtin, so every redirection is an open by the same process.
    const r = await web.run('/bin/bash', ['-c', `for i in $(seq 10000); do : < ${file}; done; echo $$`]);
    expect(r.code).toBe(0);
    const pid = Number(r.stdout.trim());
    await waitFor('the first open', () => opens(pid, file).length > 0);
    await waitFor('the count in vigil status', () => deduplicated() - before >= 9_990, 5000);
    const seen = opens(pid, file);
    // The first, plus one per window the loop outlasted.
    expect(seen.length).toBeGreaterThanOrEqual(1);
    expect(seen.length).toBeLessThanOrEqual(5);
    expect(seen[0]).toMatchObject({ result: expect.any(Number), comm: 'bash' });
    expect(seen[0]!.result).toBeGreaterThanOrEqual(0);
    const status = formatStatus(t.engine.status());
    expect(status).toMatch(/de-duplicated in the kernel \(repeats counted, not sent\): \d+/);
  });

  it('lets through what is new: another file, a write after reads, another result, another process', async () => {
    const other = join(work, 'other.txt');
    writeFileSync(other, 'y\n');
    const script = [
      `for i in $(seq 200); do : < ${file}; done`,
      `: < ${other}`, // a new file
      `: >> ${file}`, // a write after reads
      `rm ${file}`, // (in a child process)
      `for i in $(seq 200); do : < ${file}; done 2>/dev/null`, // now failing: another result
      `echo x > ${file}`,
      `for i in $(seq 200); do : < ${file}; done`, // succeeding again
      'echo $$',
    ].join('\n');
    const r = await web.run('/bin/bash', ['-c', script]);
    expect(r.code).toBe(0);
    const pid = Number(r.stdout.trim());
    await waitFor('the last read', () => opens(pid, file).filter((e) => e.result >= 0 && (e.flags & O_ACCMODE) === 0).length >= 2);

    expect(opens(pid, other)).toHaveLength(1);
    const mine = opens(pid, file);
    const reads = mine.filter((e) => (e.flags & O_ACCMODE) === 0);
    const writes = mine.filter((e) => (e.flags & O_ACCMODE) !== 0);
    expect(writes.length).toBeGreaterThanOrEqual(1); // `: >>` and `echo >`
    // success, ENOENT, success: each change of result crossed once.
    expect(reads.map((e) => (e.result >= 0 ? 'ok' : e.result))).toEqual(['ok', -2, 'ok']);

    // Another process opening the same file is new, in the same workload and window.
    const second = await web.run('/bin/bash', ['-c', `for i in 1 2 3; do : < ${file}; done; echo $$`]);
    const pid2 = Number(second.stdout.trim());
    await waitFor('the second process', () => opens(pid2, file).length > 0);
    expect(opens(pid2, file)).toHaveLength(1);
  });

  it('sends a missing file looked for once per workload, and lets through its neighbour and the file appearing', async () => {
    const missing = join(work, 'include', 'not-there.h');
    const marker = (n: number): string => join(work, `marker-${n}`);
    for (const n of [1, 2, 3]) writeFileSync(marker(n), '');
    const look = (n: number): string => `for i in 1 2 3; do : < ${missing}; done 2>/dev/null; : < ${marker(n)}; echo $$`;
    const first = Number((await web.run('/bin/bash', ['-c', look(1)])).stdout.trim());
    const second = Number((await web.run('/bin/bash', ['-c', look(2)])).stdout.trim());
    // Another workload, same path: its own first look.
    const neighbour = Number((await guard.run('/bin/bash', ['-c', look(3)])).stdout.trim());
    await waitFor('the markers', () => opens(second, marker(2)).length === 1 && t.of(guard.id, 'open').some((e) => e.pid === neighbour && e.path === marker(3)));

    expect(opens(first, missing).map((e) => e.result)).toEqual([-2]);
    expect(opens(second, missing)).toEqual([]); // counted in the kernel, not sent
    expect(t.of(guard.id, 'open').filter((e) => e.pid === neighbour && e.path === missing).map((e) => e.result)).toEqual([-2]);

    // The file appears: the next process's look finds it, and that crosses.
    rmSync(join(work, 'include'), { recursive: true, force: true });
    writeFileSync(join(work, 'include'), ''); // now a file where the directory was looked for: ENOTDIR
    const third = Number((await web.run('/bin/bash', ['-c', look(1)])).stdout.trim());
    await waitFor('the third marker', () => opens(third, marker(1)).length === 1);
    expect(opens(third, missing).map((e) => e.result)).toEqual([-20]);
    rmSync(join(work, 'include'));
    mkdirSync(join(work, 'include'));
    writeFileSync(missing, '');
    const fourth = Number((await web.run('/bin/bash', ['-c', look(2)])).stdout.trim());
    await waitFor('the fourth marker', () => opens(fourth, marker(2)).length === 1);
    expect(opens(fourth, missing).map((e) => (e.result >= 0 ? 'ok' : e.result))).toEqual(['ok']);
  });

  it('never de-duplicates exec', async () => {
    const r = await web.run('/bin/bash', ['-c', 'for i in 1 2 3 4 5; do /bin/true; done; echo $$']);
    const pid = Number(r.stdout.trim());
    const execs = await waitFor('five execs', () => {
      const e = t.of(web.id, 'exec').filter((e) => e.ppid === pid && e.path.endsWith('/true'));
      return e.length === 5 ? e : null;
    });
    expect(new Set(execs.map((e) => e.pid)).size).toBe(5);
  });

  it('lets a repeated connect burst through after a few repeats, so rate rules still see it', async () => {
    const port = await listen();
    const before = deduplicated();
    // 100 connects to one peer from one process (bash's /dev/udp: socket + connect).
    const r = await web.run('/bin/bash', ['-c', `for i in $(seq 100); do true 3>/dev/udp/127.0.0.1/${port}; done; echo $$`]);
    const pid = Number(r.stdout.trim());
    const connects = () => t.of(web.id, 'connect').filter((e) => e.pid === pid && e.port === port);
    // The first, then 32 repeats dropped, then every repeat in the same window.
    await waitFor('the burst', () => connects().length >= 100 - 32);
    await new Promise((res) => setTimeout(res, 300));
    expect(connects()).toHaveLength(100 - 32);
    expect(connects().every((e) => e.protocol === 'udp' && e.addr === '127.0.0.1')).toBe(true);
    await waitFor('the dropped repeats counted', () => deduplicated() - before >= 32);
  });

  it('never swallows an enforcement block, however often it repeats', async () => {
    const allowed = await listen();
    const blocked = await listen();
    const attempts = (port: number, n: number) =>
      guard.run('/bin/bash', ['-c', `for i in $(seq ${n}); do true 3<>/dev/tcp/127.0.0.1/${port}; done 2>/dev/null; echo $$`]);
    // Learn: this workload connects to `allowed` only.
    expect((await attempts(allowed, 3)).code).toBe(0);
    const w = await waitFor('the guard workload', () => t.engine.workloads.find('dedup-guard'));
    await waitFor('its connects learned', () => t.of(guard.id, 'connect').some((e) => e.port === allowed));
    const mode = await t.engine.profiles.changeMode(w, 'enforce');
    expect(mode).toMatchObject({ ok: true });

    const r = await attempts(blocked, 20);
    const pid = Number(r.stdout.trim());
    const refused = () => t.of(guard.id, 'connect').filter((e) => e.pid === pid && e.port === blocked);
    await waitFor('twenty refused connects', () => refused().length >= 20);
    expect(refused()).toHaveLength(20);
    expect(refused().every((e) => e.blocked)).toBe(true);
  });

  it('lets a repeat through again once the window has passed', async () => {
    const r = await web.run('/bin/bash', ['-c', `: < ${file}; : < ${file}; sleep ${(WINDOW_MS + 500) / 1000}; : < ${file}; echo $$`], { timeoutMs: WINDOW_MS + 10_000 });
    const pid = Number(r.stdout.trim());
    await waitFor('two opens', () => opens(pid, file).length >= 2);
    await new Promise((res) => setTimeout(res, 300));
    expect(opens(pid, file)).toHaveLength(2);
  });
});
