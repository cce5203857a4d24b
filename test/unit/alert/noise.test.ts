// Noise control: folding identical alerts into one with a count, rate
// limits whose excess is summarised, never a silent loss. The clock is the
// test's, so windows close exactly when the test says.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { alertFor, blockedAction, repeatKey, type Alert, type AlertDraft } from '../../../src/model/alert.js';
import { emptyEvent, EVENT_TYPES, type Event } from '../../../src/model/event.js';
import { ProcessTree } from '../../../src/enrich/process-tree.js';
import { AlertDispatcher } from '../../../src/alert/dispatcher.js';
import { everyPriority, foldKey, NoiseControl, SAMPLE_EVERY_MS, type NoiseOptions, type RateLimit } from '../../../src/alert/noise.js';
import { noticeAlert } from '../../../src/alert/notice.js';
import { parseConfig } from '../../../src/config/load.js';
import { capturingLogger } from '../../support/engine.js';
import { waitFor } from '../../support/kernel.js';
import { alert, execEvent, numbered, WEB } from './support.js';
import { makeEvent } from '../../support/events.js';

function noise(opts: Partial<NoiseOptions> & { global?: RateLimit; perWorkload?: RateLimit } = {}) {
  const clock = { now: 1_000_000 };
  const out: Alert[] = [];
  const { global = null, perWorkload = null, ...rest } = opts;
  const n = new NoiseControl(
    { foldWindowMs: 60_000, perRule: null, priorities: everyPriority({ global, perWorkload }), summaryDelayMs: 1000, summaryMs: 60_000, node: 'node-a', now: () => clock.now, ...rest },
    (a) => out.push(a),
  );
  return { n, out, clock };
}

/** An alert in another workload. */
function elsewhere(name: string, over: Parameters<typeof alert>[0] = {}, exe = '/bin/sh'): Alert {
  return alert(over, execEvent(exe, ['sh'], { ...WEB, key: `k8s:shop/Deployment/${name}`, name }));
}

/** The draft `alert()` builds from, and its repeat key. */
function keyOf(e = execEvent(), rule = 'Terminal shell in container'): string {
  return repeatKey({ source: 'rule', rule, priority: 'warning', event: e, action: undefined });
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

  it('counts a repeat by its key without it being built once a repeat of the window was built; builds one again each SAMPLE_EVERY_MS for the folded alert', () => {
    const { n, out, clock } = noise();
    const key = keyOf();
    expect(n.repeat(key)).toBe(false); // no window yet: build it
    n.offer(alert(), key);
    expect(n.repeat(key)).toBe(false); // the window has no folded alert yet: build the first repeat
    clock.now += 10;
    n.offer(alert({}, Object.assign(execEvent('/bin/sh', ['sh', '-c', 'first repeat']), { pid: 5001 })), key);
    for (let i = 0; i < 500; i++) expect(n.repeat(key)).toBe(true);
    // Another executable is another alert: never counted into this window.
    expect(n.repeat(keyOf(execEvent('/bin/bash')))).toBe(false);
    expect(n.folded).toBe(501);
    clock.now += SAMPLE_EVERY_MS;
    expect(n.repeat(key)).toBe(false); // the folded alert is a second old: a newer one is built
    const newer = alert({}, Object.assign(execEvent('/bin/sh', ['sh', '-c', 'newer repeat']), { pid: 5002 }));
    n.offer(newer, key);
    expect(n.repeat(key)).toBe(true);
    expect(out).toHaveLength(1);

    clock.now = 1_000_000 + 60_000;
    expect(n.repeat(key)).toBe(false); // the window is over
    n.tick();
    expect(out).toHaveLength(2);
    expect(out[1]).toMatchObject({ count: 503, process: { pid: 5002, cmdline: 'sh -c newer repeat' }, message: 'A shell was spawned in a container (503 more like this within 60 s)' });
    expect(n.folded).toBe(503);
    // The key is forgotten with its window: the next match is built and sent.
    expect(n.repeat(key)).toBe(false);
    n.offer(alert(), key);
    expect(out).toHaveLength(3);
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
  it('holds back alerts past the per-rule limit of a workload, and summarises them soon after the first is held', () => {
    const { n, out, clock } = noise({ foldWindowMs: 0, perRule: { perMinute: 1, burst: 2 } });
    for (let i = 0; i < 5; i++) n.offer(alert({ message: `shell ${i}` }));
    // The same rule in another workload has a budget of its own.
    n.offer(elsewhere('api', { message: 'shell in api' }));
    n.offer(alert({ rule: 'Read sensitive file', priority: 'error' }));
    expect(out.map((a) => a.message)).toEqual(['shell 0', 'shell 1', 'shell in api', 'A shell was spawned in a container']);
    expect(n.rateLimited).toBe(3);

    clock.now += 999;
    n.tick();
    expect(out).toHaveLength(4);
    clock.now += 1;
    n.tick();
    const summary = out[4]!;
    expect(summary).toMatchObject({
      source: 'engine',
      rule: 'alerts-rate-limited',
      priority: 'warning',
      fields: { 'vigil.suppressed': 3, 'vigil.suppressed.priority.warning': 3, 'vigil.suppressed.Terminal shell in container': 3 },
    });
    expect(summary.message).toMatch(/^3 alerts held back by rate limits in the last 1 s: Terminal shell in container ×3 \(warning, web, e\.g\. shell 2\)$/);

    // Held again right after: the next summary waits for summaryMs since the last, not the delay.
    n.offer(alert({ message: 'shell 5' }));
    expect(out).toHaveLength(5);
    clock.now += 30_000;
    n.tick();
    expect(out).toHaveLength(5);
    clock.now += 30_000;
    n.tick();
    expect(out[5]).toMatchObject({ rule: 'alerts-rate-limited', fields: { 'vigil.suppressed': 1 } });
    // Tokens came back with time.
    clock.now += 60_000;
    n.offer(alert({ message: 'shell 6' }));
    expect(out.at(-1)!.message).toBe('shell 6');
  });

  it('gives every priority its own budget: a burst of warnings never holds back an error or a critical alert', () => {
    const { n, out, clock } = noise({ foldWindowMs: 0, global: { perMinute: 1, burst: 1 } });
    for (let i = 0; i < 100; i++) n.offer(numbered(i)); // distinct warnings, so nothing folds
    n.offer(alert({ rule: 'noisy', priority: 'notice' }));
    n.offer(alert({ rule: 'Reverse shell', priority: 'critical' }));
    n.offer(alert({ rule: 'Account file modified', priority: 'error' }));
    expect(out.map((a) => a.rule)).toEqual(['rule-0', 'noisy', 'Reverse shell', 'Account file modified']);
    expect(n.rateLimitedBy.get('warning')).toBe(99);
    // The critical budget is spent only by criticals.
    n.offer(alert({ rule: 'Another critical', priority: 'critical' }));
    expect(out).toHaveLength(4);
    clock.now += 1000;
    n.tick();
    expect(out[4]).toMatchObject({ rule: 'alerts-rate-limited', priority: 'critical', fields: { 'vigil.suppressed': 100, 'vigil.suppressed.priority.critical': 1, 'vigil.suppressed.priority.warning': 99 } });
    expect(out[4]!.message).toMatch(/: Another critical ×1 \(critical.*; rule-\d+ ×1 \(warning/);
  });

  it('gives every workload its own budget: one noisy workload holds back only its own alerts', () => {
    const { n, out } = noise({ foldWindowMs: 0, perWorkload: { perMinute: 1, burst: 3 } });
    for (let i = 0; i < 10; i++) n.offer(elsewhere('host-build', { rule: `build-${i}` }, `/usr/bin/cc${i}`));
    n.offer(alert({ rule: 'Shell in web' }));
    expect(out.map((a) => a.rule)).toEqual(['build-0', 'build-1', 'build-2', 'Shell in web']);
    expect(n.rateLimited).toBe(7);
  });

  it('summarises a held error or critical within the delay even right after a summary', () => {
    const { n, out, clock } = noise({ foldWindowMs: 0, global: { perMinute: 0.001, burst: 1 } });
    n.offer(alert({ rule: 'w1' }));
    n.offer(alert({ rule: 'w2' }));
    clock.now += 1000;
    n.tick();
    expect(out.map((a) => a.rule)).toEqual(['w1', 'alerts-rate-limited']);
    n.offer(alert({ rule: 'e1', priority: 'error' }));
    n.offer(alert({ rule: 'e2', priority: 'error' }));
    clock.now += 1000;
    n.tick();
    expect(out.map((a) => a.rule)).toEqual(['w1', 'alerts-rate-limited', 'e1', 'alerts-rate-limited']);
    expect(out[3]).toMatchObject({ priority: 'error', fields: { 'vigil.suppressed.e2': 1 } });
  });

  it("passes Vigil's own alerts untouched: they are one per episode or action where they are raised", () => {
    const { n, out } = noise({ global: { perMinute: 0.001, burst: 1 }, perRule: { perMinute: 0.001, burst: 1 } });
    for (let i = 0; i < 5; i++) n.offer(noticeAlert('node-a', 'Events lost', 'critical', 'lost'));
    expect(out).toHaveLength(5);
    expect(n.folded + n.rateLimited).toBe(0);
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
    const c = parseConfig({ stateDir: dir, sinks: [{ type: 'stdout', format: 'json' }], alerts: { foldWindowMs: 50, rateLimit: { perRule: null, perWorkload: null, global: null } } });
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

describe('repeat keys', () => {
  it('tell apart every two events of every kind whose alerts fold apart (each field of the event, its process and its workload changed in turn)', () => {
    const tree = new ProcessTree(100);
    const draft = (e: Event): AlertDraft => ({ source: 'rule', rule: 'R', priority: 'warning', event: e, action: blockedAction(e) });
    const built = (e: Event): string => foldKey(alertFor(e, tree, { source: 'rule', rule: 'R', priority: 'warning', message: 'm', action: blockedAction(e) }));
    let compared = 0;
    for (const type of EVENT_TYPES) {
      // Each kind from nothing set and from everything set, so fields a summary leaves out when empty are changed both ways.
      const filled = makeEvent(type, {
        path: '/a', path2: '/b', addr: '10.0.0.1', port: 80, localAddr: '10.0.0.2', localPort: 81, unixPath: '/run/s', call: 'setuid', comm: 'c',
        id: 3, flags: 4, mode: 5, result: 6, protocol: 'tcp', family: 2, targetPid: 7, blocked: true, blockedBy: 'bpf-lsm',
      });
      if (type === 'exec') Object.assign(filled.more!, { filename: '/a', argv: ['a'], cwd: '/', sha256: 'ff' });
      for (const base of [emptyEvent(type), filled]) {
        base.workload = { ...WEB };
        base.process = execEvent().process;
        // The Event's own fields, then its kind's (Event.more; a dns answer is not changed here).
        const more = type === 'dns' ? null : (base.more as unknown as Record<string, unknown> | null);
        const fields: [string, unknown, boolean][] = [
          ...Object.entries(base).map(([f, v]): [string, unknown, boolean] => [f, v, false]),
          ...Object.entries(more ?? {}).map(([f, v]): [string, unknown, boolean] => [f, v, true]),
        ];
        for (const [field, value, inMore] of fields) {
          if (field === 'type' || field === 'process' || field === 'workload' || field === 'more') continue;
          const other: Event = { ...base };
          if (inMore) other.more = { ...base.more! };
          const o = (inMore ? other.more : other) as unknown as Record<string, unknown>;
          if (field === 'blockedBy') o[field] = value === '' ? 'cgroup' : '';
          else if (typeof value === 'string') o[field] = value === '' ? 'x' : '';
          else if (typeof value === 'number') o[field] = value + 1;
          else if (typeof value === 'boolean') o[field] = !value;
          else if (Array.isArray(value)) o[field] = [...(value as string[]), 'x'];
          else continue;
          compared++;
          if (built(other) !== built(base)) expect(repeatKey(draft(other)), `${type}.${field}`).not.toBe(repeatKey(draft(base)));
        }
        const moved: Event = { ...base, workload: { ...WEB, key: 'k8s:shop/Deployment/api' } };
        const ran: Event = { ...base, process: { ...base.process!, exe: '/bin/other' } };
        for (const other of [moved, ran]) {
          expect(built(other)).not.toBe(built(base));
          expect(repeatKey(draft(other))).not.toBe(repeatKey(draft(base)));
        }
      }
    }
    expect(compared).toBeGreaterThan(EVENT_TYPES.length * 40);
  });
});
