// State for rules that look at more than one event (Vigil extensions to
// the Falco format): thresholds (N events, or N distinct values, per key
// within a window: port scans, connect bursts) and sequences (an event
// matching a value an earlier event captured: download, then execute).
// Memory is bounded: at most MAX_KEYS keys per rule, the oldest dropped
// first, and per key no more than the threshold's count of entries.
// Times are kept in arrays of doubles, never as Map values: a double
// stored in a Map is a new heap object per event, which the young
// generation then has to trace from every long-lived Map pointing at it.
import type { Event } from '../../event.js';
import type { Getter } from './compile.js';
import type { FieldContext } from './context.js';

export const MAX_KEYS = 16_384;
const MAX_PAIRS = 65_536;

function keyOf(getters: readonly Getter[], e: Event, x: FieldContext): unknown {
  if (getters.length === 1) return getters[0]!(e, x) ?? '';
  let k = '';
  for (const g of getters) k += `${String(g(e, x) ?? '')}\u0000`;
  return k;
}

interface Window {
  /**
   * Event times (ms), a ring of the last `count` (plain counting). Grown
   * as events come: most keys never get near the count, and a full-size
   * array per key (1.6 KB for a count of 200, thousands of pids) cost an
   * allocation per new key and a cache miss per event.
   */
  times: number[] | null;
  head: number;
  n: number;
  /** Distinct value → its slot in `at` (distinct counting). */
  seen: Map<unknown, number> | null;
  /** Slot → when the value was last seen; slots in the order values were first seen. */
  at: number[] | null;
  /** After raising, quiet until this time. */
  quietUntil: number;
}

export class ThresholdState {
  private readonly keys = new Map<unknown, Window>();
  /**
   * Keys in insertion order, a ring: the oldest is dropped first. Not
   * `keys.keys().next()`: a Map keeps deleted entries at its front until
   * it rehashes, so finding the first live one walks them all, which made
   * a key's eviction cost microseconds once more pids connect than it keeps.
   */
  private readonly order: unknown[] = [];
  private next = 0;
  /**
   * Keys of two distinct values (fd.sip and fd.sport), each pair's string
   * built once: the seen-values Map is then hit with a string whose hash
   * V8 already has, instead of a new one per event. Bounded: cleared past
   * MAX_PAIRS.
   */
  private readonly pairs = new Map<unknown, Map<unknown, string>>();
  private pairCount = 0;
  /** Keys dropped to stay within MAX_KEYS. */
  evicted = 0;

  constructor(private readonly spec: { by: Getter[]; distinct: Getter[]; count: number; windowMs: number }) {}

  get size(): number {
    return this.keys.size;
  }

  /** The same key keyOf makes of the distinct values. */
  private distinctKey(e: Event, x: FieldContext): unknown {
    const d = this.spec.distinct;
    if (d.length !== 2) return keyOf(d, e, x);
    const a = d[0]!(e, x) ?? '';
    const b = d[1]!(e, x) ?? '';
    let byB = this.pairs.get(a);
    if (!byB) {
      if (this.pairCount >= MAX_PAIRS) {
        this.pairs.clear();
        this.pairCount = 0;
      }
      this.pairs.set(a, (byB = new Map()));
    }
    let k = byB.get(b);
    if (k === undefined) {
      k = `${String(a)}\u0000${String(b)}\u0000`;
      byB.set(b, k);
      this.pairCount++;
    }
    return k;
  }

  /** Counts the event; returns the count reached when the threshold is crossed, else 0. */
  hit(e: Event, x: FieldContext): number {
    const { count, windowMs, distinct } = this.spec;
    const now = e.time;
    const key = keyOf(this.spec.by, e, x);
    let w = this.keys.get(key);
    if (!w) {
      if (this.order.length < MAX_KEYS) this.order.push(key);
      else {
        this.keys.delete(this.order[this.next]);
        this.order[this.next] = key;
        this.next = (this.next + 1) % MAX_KEYS;
        this.evicted++;
      }
      w = { times: distinct.length ? null : [], head: 0, n: 0, seen: distinct.length ? new Map() : null, at: distinct.length ? [] : null, quietUntil: 0 };
      this.keys.set(key, w);
    }
    if (now < w.quietUntil) return 0;
    if (w.seen) {
      const seen = w.seen;
      const at = w.at!;
      const v = this.distinctKey(e, x);
      const slot = seen.get(v);
      if (slot === undefined) {
        seen.set(v, at.length);
        at.push(now);
      } else at[slot] = now;
      if (seen.size < count) return 0;
      // Values not seen within the window go; the others move down to keep slots in insertion (= iteration) order.
      let n = 0;
      for (const [value, i] of seen) {
        const t = at[i]!;
        if (now - t > windowMs) seen.delete(value);
        else {
          at[n] = t;
          if (i !== n) seen.set(value, n);
          n++;
        }
      }
      at.length = n;
      if (seen.size < count) return 0;
      const reached = seen.size;
      seen.clear();
      at.length = 0;
      w.quietUntil = now + windowMs;
      return reached;
    }
    const times = w.times!;
    if (times.length < count) times.push(now);
    else times[w.head] = now;
    w.head = (w.head + 1) % count;
    if (w.n < count) w.n++;
    // The ring is full: its oldest entry is at head.
    if (w.n < count || now - times[w.head]! > windowMs) return 0;
    w.n = 0;
    w.quietUntil = now + windowMs;
    return count;
  }
}

export class SequenceState {
  private readonly seen = new Map<string, number>();
  evicted = 0;

  constructor(private readonly spec: { capture: Getter; match: Getter; by: Getter[]; withinMs: number }) {}

  get size(): number {
    return this.seen.size;
  }

  private key(v: unknown, e: Event, x: FieldContext): string {
    return this.spec.by.length ? `${String(keyOf(this.spec.by, e, x))}\u0001${String(v)}` : String(v);
  }

  /** The earlier step: remembers the captured value. */
  record(e: Event, x: FieldContext): void {
    const v = this.spec.capture(e, x);
    if (v === undefined || v === '') return;
    const k = this.key(v, e, x);
    this.seen.delete(k);
    if (this.seen.size >= MAX_KEYS) {
      this.seen.delete(this.seen.keys().next().value!);
      this.evicted++;
    }
    this.seen.set(k, e.time);
  }

  /** The later step: whether an earlier event captured this event's value recently (each capture matches once). */
  matches(e: Event, x: FieldContext): boolean {
    const v = this.spec.match(e, x);
    if (v === undefined || v === '') return false;
    const k = this.key(v, e, x);
    const t = this.seen.get(k);
    if (t === undefined) return false;
    this.seen.delete(k);
    return e.time - t <= this.spec.withinMs;
  }
}
