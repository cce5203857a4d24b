// A new container's first events wait for its identity: in order, only
// that cgroup's, bounded in time and in number, and never dropped.
import { describe, expect, it } from 'vitest';
import { EventHold } from '../../src/enrich/hold.js';
import { emptyEvent, type Event } from '../../src/model/event.js';

function ev(cgroupId: number, pid: number): Event {
  const e = emptyEvent('exec');
  e.cgroupId = cgroupId;
  e.pid = pid;
  return e;
}

describe('holding a new container\'s events', () => {
  it('lets a cgroup\'s events go, in order, once its identity is known', async () => {
    const out: number[] = [];
    const hold = new EventHold({ holdMs: 5000, maxEvents: 100, release: (es) => out.push(...es.map((e) => e.pid)) });
    let answer!: () => void;
    expect(hold.hold(ev(1, 10), new Promise<void>((r) => (answer = r)))).toBe(true);
    expect(hold.has(1)).toBe(true);
    expect(hold.has(2)).toBe(false);
    expect(hold.add(ev(1, 11))).toBe(true);
    expect(hold.add(ev(2, 20))).toBe(false); // not held: the caller handles it now
    expect(out).toEqual([]);
    answer();
    await Promise.resolve();
    await Promise.resolve();
    expect(out).toEqual([10, 11]);
    expect(hold.size).toBe(0);
    expect(hold.counts).toMatchObject({ held: 2, answered: 1, timedOut: 0 });
  });

  it('lets them go after holdMs when no answer comes', async () => {
    const out: number[] = [];
    const hold = new EventHold({ holdMs: 50, maxEvents: 100, release: (es) => out.push(...es.map((e) => e.pid)) });
    hold.hold(ev(1, 10), new Promise<void>(() => {}));
    await new Promise((r) => setTimeout(r, 120));
    expect(out).toEqual([10]);
    expect(hold.counts.timedOut).toBe(1);
  });

  it('holds no more than maxEvents: past it the cgroup\'s events go on at once, in order, none dropped', () => {
    const out: number[] = [];
    const hold = new EventHold({ holdMs: 5000, maxEvents: 3, release: (es) => out.push(...es.map((e) => e.pid)) });
    hold.hold(ev(1, 10), new Promise<void>(() => {}));
    hold.add(ev(1, 11));
    hold.add(ev(1, 12));
    // Full: the held ones go first, the new one is the caller's to handle next.
    expect(hold.add(ev(1, 13))).toBe(false);
    expect(out).toEqual([10, 11, 12]);
    expect(hold.has(1)).toBe(false);
    // A second container when full is not held at all.
    const other = new EventHold({ holdMs: 5000, maxEvents: 0, release: () => {} });
    expect(other.hold(ev(2, 20), new Promise<void>(() => {}))).toBe(false);
    expect(other.counts.overflow).toBe(1);
    hold.releaseAll();
  });
});
