// Threshold state: the distinct count and the window, checked against the
// plain definition (a Map of each distinct value to when it was last
// seen) over long random runs with values expiring and returning.
import { describe, expect, it } from 'vitest';
import type { Getter } from '../../../src/detect/rules/compiled.js';
import { FieldContext } from '../../../src/detect/rules/context.js';
import { MAX_KEYS, ThresholdState } from '../../../src/detect/rules/stateful.js';
import { emptyEvent, type Event } from '../../../src/model/event.js';
import type { Process } from '../../../src/model/process.js';
import { rng } from '../../support/rng.js';
import { makeEvent } from '../../support/events.js';

/** The definition: per key, each distinct value's last time; fire at `count` values within the window, then quiet for a window. */
class Plain {
  private readonly keys = new Map<unknown, { seen: Map<string, number>; quietUntil: number }>();
  constructor(private readonly spec: { by: Getter[]; distinct: Getter[]; count: number; windowMs: number }) {}

  hit(e: Event, x: FieldContext): number {
    const key = this.spec.by[0]!(e, x);
    let w = this.keys.get(key);
    if (!w) this.keys.set(key, (w = { seen: new Map(), quietUntil: 0 }));
    if (e.time < w.quietUntil) return 0;
    w.seen.set(this.spec.distinct.map((g) => String(g(e, x) ?? '')).join('\u0000'), e.time);
    for (const [v, t] of w.seen) if (e.time - t > this.spec.windowMs) w.seen.delete(v);
    if (w.seen.size < this.spec.count) return 0;
    const n = w.seen.size;
    w.seen.clear();
    w.quietUntil = e.time + this.spec.windowMs;
    return n;
  }
}

const pid: Getter = (e) => e.pid;
const addr: Getter = (e) => e.addr;
const port: Getter = (e) => e.port;

describe('threshold state', () => {
  const cases = [
    ['one distinct field', [addr], 12, 1000],
    ['two distinct fields', [addr, port], 12, 1000],
    // Past the count the ids are scanned up to: looked up in a Map instead.
    ['a count too large to scan', [addr, port], 70, 4000],
  ] as const;
  for (const [what, distinct, count, windowMs] of cases) for (const perProcess of [false, true]) {
    it(`counts distinct values within the window as the definition does (${what}${perProcess ? ', windows on the process entries' : ''})`, () => {
      const spec = { by: [pid], distinct: [...distinct], count, windowMs, perProcess };
      const state = new ThresholdState(spec, perProcess ? {} : null);
      // Keyed by proc.pid alone: the windows live on the processes (one entry per pid here).
      const procs = Array.from({ length: 7 }, () => ({ state: null, stateOwner: null }) as unknown as Process);
      const plain = new Plain(spec);
      const x = new FieldContext();
      const r = rng(3);
      const e = emptyEvent('connect');
      let time = 0;
      let fired = 0;
      for (let i = 0; i < 100_000; i++) {
        // Bursts and pauses, so values expire, come back and the count is crossed now and then.
        time += r() < 0.01 ? 400 + r() * 800 : r() * 10;
        e.pid = 1 + Math.floor(r() * 6);
        e.process = perProcess ? procs[e.pid]! : null;
        e.addr = `10.0.0.${Math.floor(r() * 30)}`;
        e.port = 80 + Math.floor(r() * 3);
        e.time = time;
        const want = plain.hit(e, x);
        expect(state.hit(e, x), `event ${i}`).toBe(want);
        if (want) fired++;
      }
      expect(fired).toBeGreaterThan(count > 12 ? 5 : 100);
      expect(state.size).toBe(perProcess ? 0 : 6);
      expect(state.processWindows).toBe(perProcess ? 6 : 0);
    });
  }

  for (const perProcess of [false, true]) {
    it(`counts events within the window as the definition does (no distinct field${perProcess ? ', windows on the process entries' : ''})`, () => {
      const count = 5;
      const windowMs = 1000;
      const state = new ThresholdState({ by: [pid], distinct: [], count, windowMs, perProcess }, perProcess ? {} : null);
      const procs = Array.from({ length: 7 }, () => ({ state: null, stateOwner: null }) as unknown as Process);
      // The definition: per pid, the times of its last `count` events since it last fired.
      const plain = new Map<number, { times: number[]; quietUntil: number }>();
      const x = new FieldContext();
      const r = rng(5);
      const e = emptyEvent('connect');
      let time = 0;
      let fired = 0;
      for (let i = 0; i < 50_000; i++) {
        // Bursts and pauses: the first event of a window kept, and dropped as it ages.
        time += r() < 0.02 ? 300 + r() * 900 : r() * 60;
        e.pid = 1 + Math.floor(r() * 6);
        e.process = perProcess ? procs[e.pid]! : null;
        e.time = time;
        let p = plain.get(e.pid);
        if (!p) plain.set(e.pid, (p = { times: [], quietUntil: 0 }));
        let want = 0;
        if (time >= p.quietUntil) {
          p.times.push(time);
          if (p.times.length > count) p.times.shift();
          if (p.times.length === count && time - p.times[0]! <= windowMs) {
            want = count;
            p.times = [];
            p.quietUntil = time + windowMs;
          }
        }
        expect(state.hit(e, x), `event ${i}`).toBe(want);
        if (want) fired++;
      }
      expect(fired).toBeGreaterThan(100);
    });
  }

  it('per process: a new process on the same pid, or another rule set, starts from nothing', () => {
    const spec = { by: [pid], distinct: [], count: 3, windowMs: 1000, perProcess: true };
    const x = new FieldContext();
    const e = makeEvent('connect', { pid: 9 });
    const hits = (state: ThresholdState, p: Process, n: number): number[] => {
      const out: number[] = [];
      for (let i = 0; i < n; i++) {
        e.process = p;
        e.time += 1;
        out.push(state.hit(e, x));
      }
      return out;
    };
    const state = new ThresholdState(spec, {}, 1);
    const first = { state: null, stateOwner: null } as unknown as Process;
    expect(hits(state, first, 2)).toEqual([0, 0]);
    // The pid reused by another process: its count starts over.
    const second = { state: null, stateOwner: null } as unknown as Process;
    expect(hits(state, second, 2)).toEqual([0, 0]);
    expect(hits(state, first, 1)).toEqual([3]);
    // A reloaded rule set (another owner) does not read the old windows.
    const reloaded = new ThresholdState(spec, {}, 1);
    expect(hits(reloaded, second, 3)).toEqual([0, 0, 3]);
  });

  it('keeps counting for more processes than a busy node runs', () => {
    const state = new ThresholdState({ by: [pid], distinct: [], count: 3, windowMs: 1000 });
    const x = new FieldContext();
    const e = emptyEvent('connect');
    const pids = 10_000;
    expect(MAX_KEYS).toBeGreaterThan(pids);
    let fired = 0;
    for (let round = 0; round < 3; round++) {
      for (let p = 0; p < pids; p++) {
        e.pid = p;
        e.time = round * 10 + p * 0.001;
        if (state.hit(e, x)) fired++;
      }
    }
    // Every process made its third connect within the window: none of them was forgotten on the way.
    expect(fired).toBe(pids);
    expect(state.evicted).toBe(0);
  });
});
