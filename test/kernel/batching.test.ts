// How the probe batches, as a user sees it: an event that comes alone is
// not held for company. The probe reads on its own clock while records
// flow and batches what each read finds (bpf/README.md); whatever batching
// trades latency for fewer messages (a build's CPU), an event of a slow
// trickle must still reach the engine on its own, long before the next
// one is made.
import { mkdtempSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import type { Event } from '../../src/model/event.js';
import { TestEngine } from '../support/engine.js';
import { describeKernel, TestCgroupTree, waitFor } from '../support/kernel.js';

describeKernel('batching on the real kernel', () => {
  it('each event of a slow trickle reaches the engine before the next one is made, and in its own batch', async () => {
    const work = realpathSync(mkdtempSync(join(tmpdir(), 'vigil-trickle-')));
    const tree = new TestCgroupTree();
    const trickle = tree.group('trickle');
    const t = await TestEngine.start({ sinks: [] });
    // When each of the trickle's opens reached the engine (CLOCK_MONOTONIC, as the kernel's stamp), and in which batch.
    const arrived = new Map<string, { e: Event; at: number; seq: number }>();
    t.engine.subscribe((e) => {
      if (e.type !== 'open' || !e.path.startsWith(`${work}/trickle-`)) return;
      const seq = t.engine.ingest.sessions().at(-1)?.lastSeq ?? 0;
      arrived.set(e.path, { e, at: Number(process.hrtime.bigint()), seq });
    });
    const n = 10;
    const gapMs = 100;
    try {
      await t.startProbe();
      expect((await trickle.run('/bin/true', [])).code).toBe(0); // the workload known before the trickle
      const script = [
        'import os, sys, time',
        `for i in range(${n}):`,
        `    os.close(os.open(f"${work}/trickle-{i}", os.O_WRONLY | os.O_CREAT, 0o600))`,
        `    time.sleep(${gapMs / 1000})`,
      ].join('\n');
      expect((await trickle.run('python3', ['-c', script])).code).toBe(0);
      await waitFor(`the trickle's ${n} opens`, () => arrived.size === n, 10_000);
      const got = [...arrived.values()].sort((a, b) => a.e.ktimeNs - b.e.ktimeNs);
      for (let i = 0; i < n; i++) {
        const { e, at } = got[i]!;
        expect(e.path).toBe(`${work}/trickle-${i}`);
        // Not held until the next event came: it was at the engine before the next open was made.
        if (i + 1 < n) expect(at, `open ${i} reached the engine after open ${i + 1} was made`).toBeLessThan(got[i + 1]!.e.ktimeNs);
        expect((at - e.ktimeNs) / 1e6).toBeLessThan(gapMs);
      }
      // One batch each: none waited to share a batch with the next.
      expect(new Set(got.map((g) => g.seq)).size).toBe(n);
    } finally {
      await t.stop();
      await tree.remove();
      rmSync(work, { recursive: true, force: true });
    }
  });
});
