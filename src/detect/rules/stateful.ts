// State for rules that look at more than one event (Vigil extensions to
// the Falco format): thresholds (N events, or N distinct values, per key
// within a window: port scans, connect bursts) and sequences (an event
// matching a value an earlier event captured: download, then execute).
// Memory is bounded: at most MAX_KEYS keys per rule, the oldest dropped
// first, and per key no more than the threshold's count of entries. A
// threshold keyed by proc.pid alone keeps its windows on the process entry
// (Process.state, a slot per rule): no lookup per event, and bounded by the
// process tree (a window goes with its process).
// Times are kept in arrays of doubles, never as Map values: a double
// stored in a Map is a new heap object per event, which the young
// generation then has to trace from every long-lived Map pointing at it.
import type { Event } from '../../model/event.js';
import type { Getter } from './compiled.js';
import type { FieldContext } from './context.js';

export const MAX_KEYS = 16_384;

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
   * allocation per new key and a cache miss per event. Made at the first
   * event holding it (so are `at` and `vals`): V8 grows an empty array
   * pushed to to 17 slots, 152 bytes for the one value most processes'
   * windows ever hold (3.7 MB of the memory bench's 10,000 connecting
   * processes, bench/README.md).
   */
  times: number[] | null;
  head: number;
  n: number;
  /**
   * Distinct counting past SCAN_MAX: the values seen, as small integer ids
   * (ThresholdState numbers each value once), found through `index`; `at`:
   * when each value was last seen, in the order first seen (both ways).
   */
  ids: number[] | null;
  at: number[] | null;
  /**
   * Distinct counting up to SCAN_MAX: the values themselves, in the order
   * first seen (the two fields of a pair side by side, else keyOf's key),
   * scanned with at[]. No numbering: a number per value cost two lookups
   * in rule-wide Maps of every address seen, two cache misses per event.
   */
  vals: unknown[] | null;
  /** id → slot, for counts too large to scan. */
  index: Map<number, number> | null;
  /** The numbering the ids belong to. */
  epoch: number;
  /** After raising, quiet until this time. */
  quietUntil: number;
}

/** Counts up to this scan the window's own values; above it, values are numbered and looked up in a Map. */
const SCAN_MAX = 64;
/** Values numbered before the numbering starts over. */
const MAX_VALUES = 65_536;

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
   * The distinct values' numbers: one Map level per value of two distinct
   * fields (fd.sip then fd.sport), so no string is built per event; one
   * Map of keyOf's key otherwise. Bounded: past MAX_VALUES the numbering
   * starts over, and windows of the old one start empty (epoch).
   */
  private readonly pairs = new Map<unknown, Map<unknown, number>>();
  private readonly singles = new Map<unknown, number>();
  private numbered = 0;
  private epoch = 0;
  /** Keys dropped to stay within MAX_KEYS. */
  evicted = 0;

  /** Windows made on process entries (per-process thresholds; they go with their processes). */
  processWindows = 0;

  constructor(
    private readonly spec: { by: Getter[]; distinct: Getter[]; count: number; windowMs: number; perProcess?: boolean },
    /** The rule set the windows on process entries belong to, and this rule's slot there; without one, every key is in the Map. */
    private readonly owner: object | null = null,
    private readonly slot = 0,
    /**
     * The rule set's per-process slots: a process's array is made at this
     * size (filled as its rules count), not grown from empty (17 slots, 152
     * bytes, for the one or two most rule sets have).
     */
    private readonly slots = slot + 1,
  ) {}

  get size(): number {
    return this.keys.size;
  }

  private newWindow(): Window {
    const d = this.spec.distinct.length > 0;
    const numbered = d && this.spec.count > SCAN_MAX;
    return {
      times: d ? null : [], head: 0, n: 0,
      ids: numbered ? [] : null, at: d ? [] : null, index: numbered ? new Map() : null, epoch: this.epoch,
      vals: d && !numbered ? [] : null,
      quietUntil: 0,
    };
  }

  /** The window of the event's key: on its process entry (per process), else in the keys Map. */
  private windowOf(e: Event, x: FieldContext): Window {
    const p = this.spec.perProcess && this.owner ? e.process : null;
    if (p) {
      if (p.stateOwner !== this.owner) {
        p.state = new Array<unknown>(Math.max(this.slots, this.slot + 1));
        p.stateOwner = this.owner;
      }
      const slots = p.state!;
      let w = slots[this.slot] as Window | undefined;
      if (!w) {
        slots[this.slot] = w = this.newWindow();
        this.processWindows++;
      }
      return w;
    }
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
      w = this.newWindow();
      this.keys.set(key, w);
    }
    return w;
  }

  /** The number of the event's distinct value (the same value, the same number, within an epoch). */
  private valueId(e: Event, x: FieldContext): number {
    if (this.numbered >= MAX_VALUES) {
      this.pairs.clear();
      this.singles.clear();
      this.numbered = 0;
      this.epoch++;
    }
    const d = this.spec.distinct;
    if (d.length !== 2) {
      const k = keyOf(d, e, x);
      let id = this.singles.get(k);
      if (id === undefined) this.singles.set(k, (id = this.numbered++));
      return id;
    }
    const a = d[0]!(e, x) ?? '';
    const b = d[1]!(e, x) ?? '';
    let byB = this.pairs.get(a);
    if (!byB) this.pairs.set(a, (byB = new Map()));
    let id = byB.get(b);
    if (id === undefined) byB.set(b, (id = this.numbered++));
    return id;
  }

  /** Counts the event; returns the count reached when the threshold is crossed, else 0. */
  hit(e: Event, x: FieldContext): number {
    const { count, windowMs } = this.spec;
    const now = e.time;
    const w = this.windowOf(e, x);
    if (now < w.quietUntil) return 0;
    if (w.vals) return this.hitScanned(w, e, x, now);
    if (w.ids) return this.hitDistinct(w, this.valueId(e, x), now);
    let times = w.times!;
    if (times.length === 0) w.times = times = [now];
    else if (times.length < count) times.push(now);
    else times[w.head] = now;
    w.head = (w.head + 1) % count;
    if (w.n < count) w.n++;
    // The ring is full: its oldest entry is at head.
    if (w.n < count || now - times[w.head]! > windowMs) return 0;
    w.n = 0;
    w.quietUntil = now + windowMs;
    return count;
  }

  /** Distinct counting by the values themselves (count ≤ SCAN_MAX): as hitDistinct, compared as a Map compares keys. */
  private hitScanned(w: Window, e: Event, x: FieldContext, now: number): number {
    const { count, windowMs, distinct: d } = this.spec;
    let vals = w.vals!;
    let at = w.at!;
    const pair = d.length === 2;
    const a = pair ? (d[0]!(e, x) ?? '') : keyOf(d, e, x);
    const b = pair ? (d[1]!(e, x) ?? '') : undefined;
    let slot = -1;
    for (let i = 0, j = 0; i < at.length; i++, j += pair ? 2 : 1) {
      if (sameKey(vals[j], a) && (!pair || sameKey(vals[j + 1], b))) {
        slot = i;
        break;
      }
    }
    if (slot < 0) {
      if (at.length === 0) {
        // Made holding the first value, at their size (Window.times).
        w.vals = vals = pair ? [a, b] : [a];
        w.at = at = [now];
      } else {
        vals.push(a);
        if (pair) vals.push(b);
        at.push(now);
      }
    } else at[slot] = now;
    if (at.length < count) return 0;
    // Values not seen within the window go; the others move down, keeping the order first seen.
    const stride = pair ? 2 : 1;
    let n = 0;
    for (let i = 0; i < at.length; i++) {
      const t = at[i]!;
      if (now - t > windowMs) continue;
      if (i !== n) {
        at[n] = t;
        vals[n * stride] = vals[i * stride];
        if (pair) vals[n * stride + 1] = vals[i * stride + 1];
      }
      n++;
    }
    at.length = n;
    vals.length = n * stride;
    if (n < count) return 0;
    at.length = 0;
    vals.length = 0;
    w.quietUntil = now + windowMs;
    return n;
  }

  private hitDistinct(w: Window, id: number, now: number): number {
    const { count, windowMs } = this.spec;
    const ids = w.ids!;
    const at = w.at!;
    const index = w.index;
    if (w.epoch !== this.epoch) {
      // Numbered afresh since: the ids held mean other values now.
      ids.length = 0;
      at.length = 0;
      index?.clear();
      w.epoch = this.epoch;
    }
    const slot = index ? (index.get(id) ?? -1) : ids.indexOf(id);
    if (slot < 0) {
      index?.set(id, ids.length);
      ids.push(id);
      at.push(now);
    } else at[slot] = now;
    if (ids.length < count) return 0;
    // Values not seen within the window go; the others move down, keeping the order first seen.
    let n = 0;
    for (let i = 0; i < ids.length; i++) {
      const t = at[i]!;
      if (now - t > windowMs) {
        index?.delete(ids[i]!);
        continue;
      }
      if (i !== n) {
        ids[n] = ids[i]!;
        at[n] = t;
        index?.set(ids[n]!, n);
      }
      n++;
    }
    ids.length = n;
    at.length = n;
    if (n < count) return 0;
    ids.length = 0;
    at.length = 0;
    index?.clear();
    w.quietUntil = now + windowMs;
    return n;
  }
}

/** Key equality as a Map's (SameValueZero): NaN is itself. */
function sameKey(a: unknown, b: unknown): boolean {
  return a === b || (a !== a && b !== b);
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
    // Nothing captured (no download seen, the usual case): no key built and looked up for every exec.
    if (this.seen.size === 0) return false;
    const v = this.spec.match(e, x);
    if (v === undefined || v === '') return false;
    const k = this.key(v, e, x);
    const t = this.seen.get(k);
    if (t === undefined) return false;
    this.seen.delete(k);
    return e.time - t <= this.spec.withinMs;
  }
}
