// Noise control: folding identical alerts into one with a count, rate
// limits whose excess is summarised, never a silent loss. The clock is the
// test's, so windows close exactly when the test says.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import type { Alert } from '../../../src/model/alert.js';
import { AlertDispatcher } from '../../../src/alert/dispatcher.js';
import { NoiseControl, type NoiseOptions } from '../../../src/alert/noise.js';
import { parseConfig } from '../../../src/config/load.js';
import { capturingLogger } from '../../support/engine.js';
import { waitFor } from '../../support/kernel.js';
import { alert, execEvent, numbered } from './support.js';

function noise(opts: Partial<NoiseOptions> = {}) {
  const clock = { now: 1_000_000 };
  const out: Alert[] = [];
  const n = new NoiseControl({ foldWindowMs: 60_000, perRule: null, global: null, summaryMs: 60_000, node: 'node-a', now: () => clock.now, ...opts }, (a) => out.push(a));
  return { n, out, clock };
}

describe('folding', () => {
  it('sends the first alert at once and the identical ones after it as one alert with their count when the window closes', () => {
    const { n, out, clock } = noise();
    const first = alert();
    n.offer(first);
    expect(out).toEqual([first]);
    for (let i = 0; i < 4; i++) {
      clock.now += 1000;
      // Another pid, another time, same rule, workload and executable: the same alert.
      n.offer(alert({}, Object.assign(execEvent(), { pid: 5000 + i })));
    }
    n.tick();
    expect(out).toHaveLength(1);
    expect(n.folded).toBe(4);

    clock.now = 1_000_000 + 60_000;
    n.tick();
    expect(out).toHaveLength(2);
    expect(out[1]).toMatchObject({ rule: first.rule, count: 4, message: 'A shell was spawned in a container (4 more like this within 60 s)' });
    expect(out[1]!.id).not.toBe(first.id);

    // The window is over: the next one is a first occurrence again.
    n.offer(alert());
    expect(out).toHaveLength(3);
    expect(out[2]!.count).toBe(1);
  });

  it('keeps alerts apart that differ in workload, executable, path or address', () => {
    const { n, out } = noise();
    n.offer(alert());
    n.offer(alert({}, execEvent('/bin/bash')));
    n.offer(alert({}, execEvent('/bin/sh', ['sh'], { ...execEvent().workload!, key: 'k8s:shop/Deployment/api', name: 'api' })));
    n.offer(alert({ rule: 'Other rule' }));
    expect(out).toHaveLength(4);
    expect(n.folded).toBe(0);
  });

  it('sends what is still folded when delivery stops', () => {
    const { n, out } = noise();
    n.offer(alert());
    n.offer(alert());
    n.offer(alert());
    n.flush();
    expect(out.map((a) => a.count)).toEqual([1, 2]);
  });
});

describe('rate limits', () => {
  it('holds back alerts past the per-rule limit and reports them, by rule, in one summary alert', () => {
    const { n, out, clock } = noise({ foldWindowMs: 0, perRule: { perMinute: 60, burst: 2 } });
    for (let i = 0; i < 5; i++) n.offer(alert({ message: `shell ${i}` }));
    n.offer(alert({ rule: 'Read sensitive file', priority: 'error' }));
    expect(out.map((a) => a.message)).toEqual(['shell 0', 'shell 1', 'A shell was spawned in a container']);
    expect(n.rateLimited).toBe(3);

    clock.now += 30_000;
    n.tick();
    expect(out).toHaveLength(3);
    clock.now += 30_000;
    n.tick();
    const summary = out[3]!;
    expect(summary).toMatchObject({
      source: 'engine',
      rule: 'alerts-rate-limited',
      priority: 'warning',
      fields: { 'vigil.suppressed': 3, 'vigil.suppressed.Terminal shell in container': 3 },
    });
    expect(summary.message).toMatch(/^3 alerts held back by rate limits in the last 60 s: Terminal shell in container ×3 \(warning, e\.g\. web: shell 2\)$/);
    // Tokens came back with time.
    n.offer(alert({ message: 'shell 5' }));
    expect(out.at(-1)!.message).toBe('shell 5');
  });

  it('a global limit holds back every rule, and the summary names the most severe first', () => {
    const { n, out } = noise({ foldWindowMs: 0, global: { perMinute: 1, burst: 1 } });
    n.offer(numbered(1));
    n.offer(alert({ rule: 'noisy', priority: 'notice' }));
    n.offer(alert({ rule: 'bad', priority: 'critical' }));
    expect(out).toHaveLength(1);
    n.flush();
    expect(out[1]).toMatchObject({ rule: 'alerts-rate-limited', priority: 'critical' });
    expect(out[1]!.message).toMatch(/: bad ×1 \(critical.*; noisy ×1 \(notice/);
  });

  it('counts folded remainders it holds back by what they stand for', () => {
    const { n, out, clock } = noise({ foldWindowMs: 1000, perRule: { perMinute: 0.001, burst: 1 } });
    for (let i = 0; i < 10; i++) n.offer(alert());
    clock.now += 1000;
    n.tick();
    expect(out).toHaveLength(1);
    expect(n.rateLimited).toBe(9);
    n.flush();
    expect(out[1]).toMatchObject({ rule: 'alerts-rate-limited', fields: { 'vigil.suppressed': 9 } });
  });
});

describe('noise control in the dispatcher (real timers)', () => {
  let dir: string | null = null;
  afterEach(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
    dir = null;
  });

  it('prints the first occurrence before handle() returns, and the folded count when the window closes', async () => {
    dir = mkdtempSync(join(tmpdir(), 'vigil-noise-'));
    const c = parseConfig({ stateDir: dir, sinks: [{ type: 'stdout', format: 'json' }], alerts: { foldWindowMs: 50, rateLimit: { perRule: null, global: null } } });
    const out = new PassThrough();
    const lines: Alert[] = [];
    out.on('data', (b: Buffer) => lines.push(...b.toString().trim().split('\n').map((l) => JSON.parse(l) as Alert)));
    const d = await AlertDispatcher.start({ sinks: c.sinks, alerts: c.alerts, stateDir: dir, nodeName: 'node-a', log: capturingLogger().log, stdout: out });
    try {
      d.handle(alert());
      expect(d.stats().sinks[0]!.delivered).toBe(1);
      await waitFor('the first line', () => lines.length === 1);
      for (let i = 0; i < 6; i++) d.handle(alert());
      await waitFor('the folded alert', () => lines.length === 2);
      expect(lines[1]!.count).toBe(6);
      expect(d.stats()).toMatchObject({ received: 7, folded: 6, emitted: 2, rateLimited: 0 });
    } finally {
      await d.stop();
    }
  });
});
