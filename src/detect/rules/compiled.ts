// What compiling a rule set produces, as the router, the detector and the
// stateful rules use it: per rule, a plain function per event type (and
// per event class, with per-value filters), getters for the fields a
// threshold or sequence keys on, and the rules that could not compile
// with the reason. Built by compiler.ts.
import type { Priority } from '../../model/alert.js';
import type { Event, EventType } from '../../model/event.js';
import type { FieldContext } from './context.js';
import type { Dim, FieldValue } from './field-types.js';
import type { OutputTemplate } from './output.js';
import type { Loc, Problem } from './problems.js';

export type RuleFn = (e: Event, x: FieldContext) => boolean;
export type Getter = (e: Event, x: FieldContext) => FieldValue | undefined;

export interface CompiledCondition {
  /** The function for each event type the condition can match on. */
  byType: Map<EventType, RuleFn>;
  /** Generated source per type (for tests and `vigil rules list --code`). */
  source: Map<EventType, string>;
  /**
   * Per type of byType, per class (classes.ts): the condition specialised
   * to events of that class, or null where it cannot match them.
   */
  variants: Map<EventType, (Variant | null)[]>;
}

/** A condition on events of one type and class. */
export interface Variant {
  fn: RuleFn;
  source: string;
  /**
   * Necessary conditions that read one property each: where one is false
   * for an event, `fn` is too. The router caches their answers per value.
   */
  filters: Filter[];
  /**
   * `fn` without the parts its filters decide (filters.ts pastFilters):
   * true for every event the filters let through that `fn` is true for.
   * `fn` itself when the filters decide no part alone.
   */
  rest: RuleFn;
}

export interface Filter {
  dim: Dim;
  fn: RuleFn;
  source: string;
}

export interface CompiledRule {
  name: string;
  desc: string;
  priority: Priority;
  tags: string[];
  output: OutputTemplate;
  condition: CompiledCondition;
  /** perProcess: keyed by proc.pid alone, so counted on the process entry itself (stateful.ts). */
  threshold: { by: Getter[]; distinct: Getter[]; count: number; windowMs: number; perProcess?: boolean } | null;
  sequence: { after: CompiledCondition; capture: Getter; match: Getter; by: Getter[]; withinMs: number } | null;
  at: Loc;
  /** Whether any field needs process start times (proc.duration). */
  needsStarts: boolean;
  /** Domain names its condition compares addresses with (fd.sip.name = …). */
  dnsNames: string[];
  /** Whether its condition reads an open's path (fd.name & co.): a Falco-format rule then also judges the name as written (falco-names.ts). */
  readsOpenPath: boolean;
}

export type SkipReason = 'unsupported-field' | 'unobserved-event-type' | 'never-matches' | 'other-source';

export interface Skipped {
  rule: string;
  reason: SkipReason;
  detail: string;
  at: Loc;
}

export interface CompileResult {
  rules: CompiledRule[];
  skipped: Skipped[];
  disabled: string[];
  /**
   * Disabled rules compiled anyway, to say whether each would run if
   * enabled: null when it would, else why not (the skip reason or the error).
   */
  disabledStatus: Map<string, string | null>;
  problems: Problem[];
  /** Rules defined after overrides (enabled or not). */
  total: number;
}
