// Specialisation: a resolved condition for one event type, and for one
// class of it (classes.ts: an open's access mode and flags, a socket's
// family), as an IR where everything the type or class decides has
// folded away — evt.type checks, fields the type does not have (always
// missing, so the comparison is false), constant fields, and what the
// class knows of a value. A condition that folds to false on a type is
// not routed to it.
import type { EventType } from '../../model/event.js';
import type { CheckInfo } from './checks.js';
import { comparisonFn } from './comparison.js';
import type { Operator } from './condition.js';
import { Unsupported } from './compile-errors.js';
import { CALL_TYPES, SYSCALLS_OF } from './event-type-names.js';
import type { Known } from './field-types.js';
import type { Loc } from './problems.js';
import type { ResolvedCheck, ResolvedNode } from './resolver.js';

export type IR =
  | boolean
  | { k: 'and' | 'or'; items: IR[] }
  | { k: 'not'; e: IR }
  | { k: 'test'; c: CheckInfo }
  | { k: 'call'; names: Set<string>; neg: boolean }
  | { k: 'unsup'; why: string; loc: Loc };

/** A check that reads as a missing value: false. */
export const MISSING = 'missing' as const;
/** What validating a check found (ConditionCompiler.collect). */
export type Info = CheckInfo | Unsupported | typeof MISSING;

export function and(items: IR[]): IR {
  const out: IR[] = [];
  for (const i of items) {
    if (i === false) return false;
    if (i === true) continue;
    if (typeof i === 'object' && i.k === 'and') out.push(...i.items);
    else out.push(i);
  }
  return out.length === 0 ? true : out.length === 1 ? out[0]! : { k: 'and', items: out };
}

export function or(items: IR[]): IR {
  const out: IR[] = [];
  for (const i of items) {
    if (i === true) return true;
    if (i === false) continue;
    if (typeof i === 'object' && i.k === 'or') out.push(...i.items);
    else out.push(i);
  }
  return out.length === 0 ? false : out.length === 1 ? out[0]! : { k: 'or', items: out };
}

export function not(e: IR): IR {
  if (typeof e === 'boolean') return !e;
  if (e.k === 'not') return e.e;
  if (e.k === 'call') return { ...e, neg: !e.neg };
  return { k: 'not', e };
}

/** evt.type compared with syscall names, on event type t. */
export function evtType(c: CheckInfo, t: EventType): IR {
  const names = c.evtTypes ?? [];
  const eq = c.op === '=' || c.op === '==' || c.op === 'in' || c.op === 'intersects';
  if (!eq && c.op !== '!=') return { k: 'test', c }; // startswith … on the printed name
  const own = SYSCALLS_OF[t];
  let r: IR;
  if (names.includes(t)) r = true;
  else if (CALL_TYPES.has(t)) {
    const hit = names.filter((n) => own.includes(n));
    r = hit.length === 0 ? false : hit.length === own.length ? true : { k: 'call', names: new Set(hit), neg: false };
  } else r = names.some((n) => own.includes(n));
  return eq ? r : not(r);
}

/** Decides a comparison from what a class knows of the value; undefined when it cannot. */
function decideKnown(c: CheckInfo, kn: Known): boolean | undefined {
  if ('missing' in kn) return false; // every comparison with a missing value is false, `exists` too
  if (c.operand === null) return true; // exists: the class says there is a value
  if (c.multi) return undefined;
  if ('value' in kn) return comparisonFn(c.op, c.operand)(kn.value);
  if (c.operand.kind !== 'number') return undefined;
  return decideSign(c.op, c.operand.values, kn.sign);
}

/** A comparison of an integer whose sign alone is known (1: ≥ 0, -1: < 0) with numbers, where the sign decides it. */
function decideSign(op: Operator, values: readonly number[], sign: 1 | -1): boolean | undefined {
  const first = values[0]!;
  const pos = sign === 1;
  switch (op) {
    case '=':
    case '==':
    case 'in':
    case 'intersects':
      return values.every((v) => (pos ? v < 0 : v >= 0)) ? false : undefined;
    case '!=':
      return (pos ? first < 0 : first >= 0) ? true : undefined;
    case '<':
      return pos ? (first <= 0 ? false : undefined) : first >= 0 ? true : undefined;
    case '<=':
      return pos ? (first < 0 ? false : undefined) : first >= 0 ? true : undefined;
    case '>':
      return pos ? (first < 0 ? true : undefined) : first >= 0 ? false : undefined;
    case '>=':
      return pos ? (first <= 0 ? true : undefined) : first >= 0 ? false : undefined;
    default:
      return undefined;
  }
}

/** The condition on type `t`, and on class `cls` of it (-1: any class). */
export function specialize(n: ResolvedNode, t: EventType, info: ReadonlyMap<ResolvedCheck, Info>, cls = -1): IR {
  switch (n.k) {
    case 'const':
      return n.v;
    case 'and':
      return and(n.items.map((i) => specialize(i, t, info, cls)));
    case 'or':
      return or(n.items.map((i) => specialize(i, t, info, cls)));
    case 'not':
      return not(specialize(n.e, t, info, cls));
    case 'check': {
      const c = info.get(n)!;
      if (c === MISSING) return false;
      if (c instanceof Unsupported) return { k: 'unsup', why: c.message, loc: c.loc };
      if (c.field.name === 'evt.type') return evtType(c, t);
      if (!c.field.on.has(t)) return false; // missing on this type: every comparison is false
      const kn = c.field.known?.(t, cls);
      if (kn) {
        const d = decideKnown(c, kn);
        if (d !== undefined) return d;
      }
      if (c.operand && (c.op === 'in' || c.op === 'intersects') && c.operand.values.length === 0) return false;
      if (c.field.name === 'evt.num' && c.operand && c.operand.kind === 'number' && c.operand.values[0] === 0) {
        // evt.num counts from 1: Falco's never_true macro (evt.num=0) folds away.
        if (c.op === '=' || c.op === '==') return false;
        if (c.op === '!=' || c.op === '>') return true;
      }
      const k = c.field.constant?.(t);
      if (k !== undefined && !c.multi) return c.operand === null ? true : comparisonFn(c.op, c.operand)(k);
      return { k: 'test', c };
    }
  }
}

export function unsupportedIn(ir: IR): { why: string; loc: Loc } | null {
  if (typeof ir === 'boolean') return null;
  switch (ir.k) {
    case 'unsup':
      return { why: ir.why, loc: ir.loc };
    case 'and':
    case 'or':
      for (const i of ir.items) {
        const u = unsupportedIn(i);
        if (u) return u;
      }
      return null;
    case 'not':
      return unsupportedIn(ir.e);
    default:
      return null;
  }
}

export function usesStarts(ir: IR): boolean {
  if (typeof ir === 'boolean') return false;
  switch (ir.k) {
    case 'test':
      return ir.c.field.name === 'proc.duration';
    case 'and':
    case 'or':
      return ir.items.some(usesStarts);
    case 'not':
      return usesStarts(ir.e);
    default:
      return false;
  }
}
