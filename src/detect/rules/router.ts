// Which rules an event runs. First its type, then its class (classes.ts):
// each class has its own list of rule functions, specialised to it, with
// the rules that cannot match events of that class left out. Then the
// filters: the parts of those rules that read only one property of the
// event — the path, the process name, the remote address — answered once
// per value and remembered. The decoder interns short strings, so the same
// path or name recurs as the same string and the answer is one Map lookup;
// a rule whose filter says no is not called. The answers belong to one
// rule set: a reload builds new routes with empty memos.
import { EVENT_TYPES, type Event, type EventType } from '../../model/event.js';
import { ClassKind, CLASSIFIERS, classCount } from './classes.js';
import type { CompiledRule, RuleFn, Variant } from './compiled.js';
import type { FieldContext } from './context.js';
import type { Dim } from './field-types.js';
import { SequenceState, ThresholdState } from './stateful.js';

/** What a rule does when its condition matches. */
export enum Role {
  Alert = 0,
  Threshold = 1,
  SequenceAfter = 2,
  SequenceMatch = 3,
}

export interface RouteEntry {
  /**
   * What runs for an event the filters let through: the condition less
   * the parts they decided (Variant.rest) for the first MASK_BITS
   * entries, the whole condition for the others (no mask bit), and for an
   * entry whose filter threw (the whole condition then throws as before
   * and is counted).
   */
  fn: RuleFn;
  /** The whole condition for the event's class. */
  full: RuleFn;
  rule: CompiledRule;
  role: Role;
  threshold: ThresholdState | null;
  sequence: SequenceState | null;
  /** A Falco-format rule reading an open's path: also judged on the name as written (falco-names.ts). */
  asWritten: boolean;
}

/** Entries of a class route that filters can skip (bits of a mask); any later ones always run. */
export const MASK_BITS = 31;
/** Values one filter remembers before it starts over. */
export const MEMO_SIZE = 4096;

const DIM_ID: Record<Dim, number> = { path: 0, path2: 1, comm: 2, addr: 3 };

function valueOf(e: Event, id: number): string {
  switch (id) {
    case 0:
      return e.path;
    case 1:
      return e.path2;
    case 2:
      return e.comm;
    default:
      return e.addr;
  }
}

/** The decoder's intern slot of the value (Event.pathKey, commKey), -1 when none. */
function keyOf(e: Event, id: number): number {
  return id === 0 ? e.pathKey : id === 2 ? e.commKey : -1;
}

/** The decoder's intern table size: its slots index the direct-mapped memos. */
const SLOTS = 4096;

/**
 * One property's filters over a class route: for a value, the mask of
 * entries that may still match (bit i: entry i), computed on the first
 * event with that value and remembered. Values the decoder interned are
 * remembered at their intern slot (an array index and a string compare);
 * others, and slots another value holds, in a Map.
 */
export class DimFilter {
  private readonly id: number;
  private readonly memo = new Map<string, number>();
  /**
   * By intern slot k: the value remembered there at 2k and its mask at
   * 2k + 1, side by side so one cache line holds both (allocated on the
   * first interned value). With a filter per class route, these are spread
   * over megabytes: two arrays cost two misses per event.
   */
  private slots: (string | number)[] | null = null;

  constructor(
    readonly dim: Dim,
    /** Entries without a filter on this property. */
    private readonly base: number,
    private readonly tests: readonly { bit: number; fn: RuleFn }[],
    /** A test threw for the entry at this bit: it may no longer skip what its filters decide. */
    private readonly threw: (bit: number) => void = () => {},
  ) {
    this.id = DIM_ID[dim];
  }

  /** Values remembered (in the Map; the slot memos are bounded by the intern table). */
  get size(): number {
    return this.memo.size;
  }

  mask(e: Event, x: FieldContext): number {
    const v = valueOf(e, this.id);
    const k = keyOf(e, this.id);
    if (k >= 0) {
      let slots = this.slots;
      if (slots === null) {
        slots = this.slots = new Array<string | number>(2 * SLOTS);
        for (let i = 0; i < slots.length; i += 2) {
          slots[i] = '';
          slots[i + 1] = 0;
        }
      }
      // The same string object when interned: a pointer compare; a hint is never trusted without it.
      if (slots[2 * k] === v && v !== '') {
        // Stored again: the decoder makes a new string for a value it had
        // to evict from its table, and the old one, equal but not the same
        // object, would cost a compare of every character on every event.
        slots[2 * k] = v;
        return slots[2 * k + 1] as number;
      }
      const m = this.compute(e, x);
      slots[2 * k] = v;
      slots[2 * k + 1] = m;
      return m;
    }
    let m = this.memo.get(v);
    if (m === undefined) {
      m = this.compute(e, x);
      if (this.memo.size >= MEMO_SIZE) this.memo.clear();
      this.memo.set(v, m);
    }
    return m;
  }

  private compute(e: Event, x: FieldContext): number {
    let m = this.base;
    for (const t of this.tests) {
      let pass = true;
      try {
        pass = t.fn(e, x);
      } catch {
        // The rule itself will throw and be counted: let it run, whole.
        this.threw(t.bit);
      }
      if (pass) m |= t.bit;
    }
    return m;
  }
}

export interface ClassRoute {
  /** In rule order (a sequence's earlier step before its rule). */
  entries: RouteEntry[];
  /** Most selective first. */
  filters: DimFilter[];
  /** Whether an entry is judged on the name as written too. */
  asWritten: boolean;
}

export interface TypeRoute {
  /** The event's class, or null when the type has one. */
  classify: ((e: Event) => number) | null;
  /** The same classifier as classOf (classes.ts) reads it: None when the type has one class. */
  classKind: ClassKind;
  classes: ClassRoute[];
}

function classRoute(pairs: { entry: RouteEntry; variant: Variant }[]): ClassRoute {
  const entries = pairs.map((p, i) => (i < MASK_BITS ? { ...p.entry, fn: p.variant.rest } : p.entry));
  const threw = (bit: number): void => {
    const entry = entries[31 - Math.clz32(bit)]!;
    entry.fn = entry.full;
  };
  const byDim = new Map<Dim, { bit: number; fn: RuleFn }[]>();
  pairs.slice(0, MASK_BITS).forEach((p, i) => {
    for (const f of p.variant.filters) {
      if (!byDim.has(f.dim)) byDim.set(f.dim, []);
      byDim.get(f.dim)!.push({ bit: 1 << i, fn: f.fn });
    }
  });
  const all = pairs.length >= MASK_BITS ? 0x7fffffff : (1 << pairs.length) - 1;
  const filters = [...byDim]
    .sort((a, b) => b[1].length - a[1].length)
    .map(([dim, tests]) => new DimFilter(dim, tests.reduce((m, t) => m & ~t.bit, all), tests, threw));
  return { entries, filters, asWritten: entries.some((e) => e.asWritten) };
}

/**
 * Routes for a rule set: per type and class, the entries and their
 * filters. `asWritten`: the rules that also judge an open by the name as
 * written (falco-names.ts).
 */
export function buildRoutes(rules: readonly CompiledRule[], asWritten: (r: CompiledRule) => boolean = () => false): Record<EventType, TypeRoute> {
  const states = new Map<CompiledRule, { threshold: ThresholdState | null; sequence: SequenceState | null }>();
  // Per-process threshold windows live on the processes, a slot each, tagged with this rule set.
  const owner = {};
  const slots = rules.filter((r) => r.threshold?.perProcess).length;
  let slot = 0;
  for (const rule of rules) {
    states.set(rule, {
      threshold: rule.threshold ? new ThresholdState(rule.threshold, owner, rule.threshold.perProcess ? slot++ : 0, slots) : null,
      sequence: rule.sequence ? new SequenceState(rule.sequence) : null,
    });
  }
  const route = {} as Record<EventType, TypeRoute>;
  for (const t of EVENT_TYPES) {
    const n = classCount(t);
    const pairs = Array.from({ length: n }, () => [] as { entry: RouteEntry; variant: Variant }[]);
    const add = (rule: CompiledRule, role: Role, variants: (Variant | null)[] | undefined): void => {
      if (!variants) return;
      const { threshold, sequence } = states.get(rule)!;
      const written = t === 'open' && asWritten(rule);
      for (let cls = 0; cls < n; cls++) {
        const v = variants[cls];
        if (v) pairs[cls]!.push({ entry: { fn: v.fn, full: v.fn, rule, role, threshold, sequence, asWritten: written }, variant: v });
      }
    };
    for (const rule of rules) {
      if (rule.sequence) add(rule, Role.SequenceAfter, rule.sequence.after.variants.get(t));
      const role = rule.threshold ? Role.Threshold : rule.sequence ? Role.SequenceMatch : Role.Alert;
      add(rule, role, rule.condition.variants.get(t));
    }
    const classifier = CLASSIFIERS[t];
    route[t] = { classify: classifier ? classifier.of : null, classKind: classifier ? classifier.kind : ClassKind.None, classes: pairs.map(classRoute) };
  }
  return route;
}
