// Filters: for one event class, the parts of a condition that read only
// one memoisable property (the path, the process name, the remote
// address). Each is a necessary condition — where it is false, the whole
// condition is — so the router caches its answer per value of that
// property (router.ts) and skips the rule without running it.
import type { EventType } from '../../model/event.js';
import type { CheckInfo } from './checks.js';
import type { Dim } from './field-types.js';
import { and, or, type IR } from './specialize.js';

/** The property a check reads alone on type t, class cls, or null. */
function dimOf(c: CheckInfo, t: EventType, cls: number): Dim | null {
  return c.multi ? null : (c.field.reads?.(t, cls) ?? null);
}

/** Whether every check in `ir` reads `dim` alone. */
function onlyReads(ir: IR, dim: Dim, t: EventType, cls: number): boolean {
  if (typeof ir === 'boolean') return true;
  switch (ir.k) {
    case 'test':
      return dimOf(ir.c, t, cls) === dim;
    case 'and':
    case 'or':
      return ir.items.every((i) => onlyReads(i, dim, t, cls));
    case 'not':
      return onlyReads(ir.e, dim, t, cls);
    default:
      return false;
  }
}

/**
 * A condition on `dim` alone that every event matching `ir` satisfies
 * (true when there is none): the checks on other properties read as
 * "could be either". A conjunction keeps its parts on `dim`; a
 * disjunction needs one of its parts' conditions; a negation only when
 * what it negates reads `dim` alone.
 */
export function necessary(ir: IR, dim: Dim, t: EventType, cls: number): IR {
  if (typeof ir === 'boolean') return ir;
  switch (ir.k) {
    case 'test':
      return dimOf(ir.c, t, cls) === dim ? ir : true;
    case 'and':
      return and(ir.items.map((i) => necessary(i, dim, t, cls)));
    case 'or':
      return or(ir.items.map((i) => necessary(i, dim, t, cls)));
    case 'not':
      return onlyReads(ir.e, dim, t, cls) ? ir : true;
    default:
      return true;
  }
}

/**
 * `ir` less what its filters decide: a top-level conjunct that reads one
 * of `dims` alone is kept whole in that property's filter (necessary()),
 * so where every filter said yes it is true and need not run again (the
 * port scan's `fd.snet in (…)`, parsed and matched per connect before).
 * `ir` itself when nothing is left out.
 */
export function pastFilters(ir: IR, dims: readonly Dim[], t: EventType, cls: number): IR {
  if (dims.length === 0 || typeof ir === 'boolean') return ir;
  const items = ir.k === 'and' ? ir.items : [ir];
  const kept = items.filter((i) => !dims.some((d) => onlyReads(i, d, t, cls)));
  return kept.length === items.length ? ir : and(kept);
}
